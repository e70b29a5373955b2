"""imitator: latest observation -> one-shot policy -> arm and gripper commands, each period.

    python -m oneshot_ros.nodes.imitator --ros-args --params-file config/imitator.yaml \
        -p model:=models/bc_all_stages -p demo_file:=demos.h5 -p demo_index:=0

Inactive until ~/activate (std_srvs/SetBool) is true. Once per control period (paced by the
/joint_states stamps) it builds the observation like StackingEnv, runs Imitator.act and turns
the end-effector displacement into joint targets with the shared IK path (world.control),
clamped to the joint limits and max_joint_velocity_rad_s. A missing or broken model or demo:
one error line, no commands, and a retry whenever model/demo_file/demo_index change; a demo
file a recorder is still writing is retried every 0.5 s. NaN/inf policy outputs: no command
(the controllers hold), one throttled warning.
~/attention_markers shows each block's attention weight (alpha) for RViz.
"""

import time

from rclpy.node import Node
from std_msgs.msg import Float64
from std_srvs.srv import SetBool
from visualization_msgs.msg import MarkerArray

from oneshot_ros.nodes import conversions as conv
from oneshot_ros.nodes.common import (
    RobotStateInput,
    declare_command_output,
    declare_control_period,
    declare_seed,
    declare_stale_timeout,
    declare_world_config,
    reply,
    run_node,
)
from oneshot_ros.nodes.params import INT_MAX, declare
from oneshot_ros.policy.imitator import NonFiniteActionError
from oneshot_ros.world import control

RELOAD_PARAMS = {"model", "demo_file", "demo_index", "seed", "ensemble", "torch_threads"}
RETRY_PERIOD_S = 0.5  # the watchdog's period: a busy demo file is retried this often


class ImitatorNode(Node):
    def __init__(self):
        super().__init__("imitator")
        self.config = declare_world_config(self)
        # read again whenever one of them changes (RELOAD_PARAMS): the policy is rebuilt
        declare(self, "model", "models/bc_all_stages", "checkpoint directory", dynamic=True)
        declare(self, "demo_file", "", "HDF5 dataset holding the conditioning demonstration",
                dynamic=True)
        declare(self, "demo_index", 0, "index of the demonstration in demo_file", low=0,
                high=INT_MAX, dynamic=True)
        declare_seed(self, "seed of the temporal dropout sampling", dynamic=True)
        declare(self, "ensemble", 0, "demo downsamplings averaged; 0: the checkpoint's", low=0,
                high=100, dynamic=True)
        declare(self, "torch_threads", 1, "CPU threads for the policy; one avoids contention "
                "with the other nodes", low=1, high=256, dynamic=True)
        period_s = declare_control_period(self, self.config)
        stale_s = declare_stale_timeout(self)
        self.active = declare(self, "active", False, "publish commands without ~/activate "
                              "(later: the ~/activate service)")
        self.marker_every = declare(self, "marker_every_steps", 5, "attention markers period",
                                    low=1, high=100000)
        latency = declare(self, "publish_latency", False, "publish ~/latency_s (benchmarks)")
        self.policy, self.n_steps, self.reload = None, 0, True
        self.file_busy = False  # the demo file is being written: retry on the watchdog
        self.load_error: str | None = None  # the last one logged: each is logged once
        self.gate = control.RateGate(period_s)
        self.state = RobotStateInput(self, stale_s, on_joint_state=self.step)
        self.commands = declare_command_output(self, period_s)
        self.markers = self.create_publisher(MarkerArray, "~/attention_markers", 1)
        self.latency = self.create_publisher(Float64, "~/latency_s", 10) if latency else None
        self.create_service(SetBool, "~/activate", self.on_activate)
        self.add_post_set_parameters_callback(self.on_parameters)
        self.create_timer(RETRY_PERIOD_S, self.watchdog)

    def on_parameters(self, parameters) -> None:
        if any(p.name in RELOAD_PARAMS for p in parameters):
            self.reload, self.load_error = True, None  # new settings: log their error again
            self.policy = None  # never act on the previous demo once new settings are in

    def watchdog(self) -> None:
        if self.reload or self.file_busy:
            self.reload, self.file_busy, self.policy = False, False, None
            self.policy = self._load()
        if self.active:
            self.state.stale_reason()  # logs once when inputs go stale

    def _load(self):
        from oneshot_ros.data.journal import FileBusyError

        p = {name: self.get_parameter(name).value for name in RELOAD_PARAMS}
        try:
            policy, demo = load_policy(p)
        except FileBusyError as err:  # a recorder is still writing it: retry until it is done
            self.file_busy = True
            self._log_load_error(f"{err} (retrying every {RETRY_PERIOD_S} s)")
            return None
        except Exception as err:  # any broken file set at runtime: one line, stay up
            self._log_load_error(f"{error_text(err)}; set model/demo_file/demo_index")
            return None
        self.load_error = None
        self.get_logger().info(f"policy {p['model']} conditioned on {p['demo_file']} demo "
                               f"{p['demo_index']} ({demo.task!r}, {demo.length} steps)")
        return policy

    def _log_load_error(self, text: str) -> None:
        if text != self.load_error:
            self.get_logger().error(f"no policy: {text}")
            self.load_error = text

    def on_activate(self, request, response):
        if request.data and self.policy is None:
            return reply(response, False, "no policy loaded (yet): not activated")
        self.active = request.data
        message = "active" if self.active else "inactive: holding"
        self.get_logger().info(message)
        return reply(response, True, message)

    def step(self) -> None:
        state = self.state
        if not (self.active and self.policy is not None and state.blocks is not None):
            return
        if not self.gate.due(state.stamp_s) or state.stale_reason():
            return
        if len(state.blocks) != self.policy.n_blocks:
            self.get_logger().warning(f"/block_poses has {len(state.blocks)} blocks, the demo "
                                      f"{self.policy.n_blocks}: holding", throttle_duration_sec=2)
            return
        try:
            action, attention = self.policy.act(state.observation())
        except NonFiniteActionError as err:
            self.get_logger().warning(f"{err}: holding", throttle_duration_sec=2)
            return
        command = control.action_to_command(state.kin, state.q_arm, state.torso, action,
                                            self.config, blocks=state.blocks)
        self.commands.send(command, state.q_arm, state.stamp)
        if self.latency is not None:
            self.latency.publish(Float64(data=time.perf_counter() - state.received_s))
        self.n_steps += 1
        if self.n_steps % self.marker_every == 0:
            self.markers.publish(conv.attention_markers(state.blocks, attention["block"]))


def load_policy(p: dict):
    """The Imitator of p["model"] conditioned on demo p["demo_index"] of p["demo_file"]."""
    import torch

    from oneshot_ros.data.storage import DemoReader
    from oneshot_ros.policy.imitator import Imitator

    if not p["demo_file"]:
        raise ValueError("demo_file is empty: set it to a demonstration HDF5 file")
    torch.set_num_threads(p["torch_threads"])
    policy = Imitator.from_checkpoint(p["model"], p["ensemble"] or None, p["seed"])
    with DemoReader(p["demo_file"]) as reader:
        demo = reader[p["demo_index"]]
    policy.set_demo(demo.obs, demo.stage_ends)
    return policy, demo


def error_text(err: Exception) -> str:
    """Our errors say what to fix; others (a KeyError from a damaged file) are named by type."""
    return str(err) if isinstance(err, (ValueError, OSError)) else f"{type(err).__name__}: {err}"


def main(args=None):
    run_node(ImitatorNode, args)


if __name__ == "__main__":
    main()
