"""imitator: a managed (lifecycle) node: latest observation -> one-shot policy -> arm and
gripper commands, each control period.

    python -m oneshot_ros.nodes.imitator --ros-args --params-file config/imitator.yaml \
        -p model:=models/stage_attention -p demo_file:=demos.h5 -p demo_index:=0
    ros2 lifecycle set /imitator configure    # loads the model and the demo
    ros2 lifecycle set /imitator activate     # commands flow; `deactivate`: the arm holds

Its states (rclpy.lifecycle; /imitator/change_state, /imitator/get_state, `ros2 lifecycle`):
- unconfigured (at start): nothing loaded, nothing published.
- configure: loads `model` and demo `demo_index` of `demo_file`. A missing or broken file: one
  error line naming it and the fix, FAILURE, still unconfigured (set the parameters, configure
  again). A demo file a recorder is still writing: the same, and configure is retried every
  0.5 s until the file is free (logged once).
- inactive: loaded, publishes nothing (the controllers hold their last target).
- active: once per control period (paced by the /joint_states stamps) it builds the observation
  like StackingEnv, runs Imitator.act and turns the end-effector displacement into joint targets
  with the shared IK path (world.control), clamped to the joint limits and
  max_joint_velocity_rad_s. `latency_compensation:=true`: the policy sees the scene once its
  last arm command has landed and the action displaces that command, not the measured joints
  (world/command_prediction.py; forgotten on activate). NaN/inf policy outputs: no command
  (the controllers hold), one throttled warning. Stale inputs: no command, logged once.
  ~/attention_markers shows each block's attention weight (alpha) for RViz.
- deactivate: back to inactive (holding); cleanup: unloads, back to unconfigured; shutdown:
  unloads, finalized (SIGINT/SIGTERM: unloaded on the way out, without the transition).
The load settings (model, demo_file, demo_index, seed, ensemble, torch_threads) are read at
configure and can be set only while unconfigured: a set while loaded is refused, saying so.
`active:=true` configures and activates at start (autostart, as launch files may ask).

~/activate (std_srvs/SetBool) stays as a thin convenience because the `oneshot-ros` commands,
the tests, the benchmarks and users call it: true configures (when unconfigured) and
activates, false deactivates. It answers once the transitions are done (a configure takes as
long as the model load).
"""

import time

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from std_msgs.msg import Float64
from std_srvs.srv import SetBool
from visualization_msgs.msg import MarkerArray

from oneshot_ros.nodes import conversions as conv
from oneshot_ros.nodes.common import (
    RobotStateInput,
    declare_command_output,
    declare_control_period,
    declare_latency_compensation,
    declare_seed,
    declare_stale_timeout,
    declare_world_config,
    reply,
    run_node,
)
from oneshot_ros.nodes.params import INT_MAX, declare
from oneshot_ros.policy.imitator import NonFiniteActionError
from oneshot_ros.policy.shipped import DEFAULT_MODEL
from oneshot_ros.world import command_prediction, control

LOAD_PARAMS = ("model", "demo_file", "demo_index", "seed", "ensemble", "torch_threads")
RETRY_PERIOD_S = 0.5  # the watchdog's period: a busy demo file is configured again this often
SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class ImitatorNode(LifecycleNode):
    def __init__(self):
        super().__init__("imitator")
        self.policy = None  # loaded = configured (inactive or active)
        self.active = self.finalized = False
        self.retry_busy = False  # configure failed on a demo file being written: retry it
        self.load_error: str | None = None  # the last load error logged (retries log once)
        self.config = declare_world_config(self)
        # the load settings: read at configure, settable while unconfigured
        loaded = self._loaded_problem
        declare(self, "model", DEFAULT_MODEL, "checkpoint directory (read at "
                "configure)", check=loaded, dynamic=True)
        declare(self, "demo_file", "", "HDF5 dataset holding the conditioning demonstration "
                "(read at configure)", check=loaded, dynamic=True)
        declare(self, "demo_index", 0, "index of the demonstration in demo_file (read at "
                "configure)", low=0, high=INT_MAX, check=loaded, dynamic=True)
        declare_seed(self, "seed of the temporal dropout sampling (read at configure)",
                     dynamic=True, check=loaded)
        declare(self, "ensemble", 0, "demo downsamplings averaged; 0: the checkpoint's (read at "
                "configure)", low=0, high=100, check=loaded, dynamic=True)
        declare(self, "torch_threads", 1, "CPU threads for the policy; one avoids contention "
                "with the other nodes (read at configure)", low=1, high=256, check=loaded,
                dynamic=True)
        period_s = declare_control_period(self, self.config)
        stale_s = declare_stale_timeout(self)
        # active:=true: configure and activate once spinning (also after busy-file retries)
        self.autostart = declare(self, "active", False, "true: configure and activate at start "
                                 "(later: lifecycle transitions or ~/activate)")
        self.marker_every = declare(self, "marker_every_steps", 5, "attention markers period",
                                    low=1, high=100000)
        latency = declare(self, "publish_latency", False, "publish ~/latency_s (benchmarks)")
        self.compensate = declare_latency_compensation(self)
        self.n_steps = 0
        self.gate = control.RateGate(period_s)
        self.state = RobotStateInput(self, stale_s, on_joint_state=self.step)
        self.commands = declare_command_output(self, period_s)
        self.markers = self.create_publisher(MarkerArray, "~/attention_markers", 1)
        self.latency = self.create_publisher(Float64, "~/latency_s", 10) if latency else None
        self.create_service(SetBool, "~/activate", self.on_activate_service)
        self.create_timer(RETRY_PERIOD_S, self.watchdog)
        if self.autostart:  # once spinning: the lifecycle services answer meanwhile
            self.start_timer = self.create_timer(0.0, self.start_up)

    # --- lifecycle transitions ----------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        from oneshot_ros.data.journal import FileBusyError

        p = {name: self.get_parameter(name).value for name in LOAD_PARAMS}
        try:
            policy, demo = load_policy(p)
        except FileBusyError as err:  # a recorder is still writing it: retry until it is done
            self.retry_busy = True
            self._log_load_error(f"{err} (configure is retried every {RETRY_PERIOD_S} s)",
                                 once=True)
            return FAILURE
        except Exception as err:  # any broken file: one line, stay unconfigured
            self.retry_busy = self.autostart = False  # no retry, no activation of its own
            self._log_load_error(f"{error_text(err)}; set model/demo_file/demo_index and "
                                 "configure again")
            return FAILURE
        self.policy, self.n_steps, self.retry_busy, self.load_error = policy, 0, False, None
        self.get_logger().info(f"policy {p['model']} conditioned on {p['demo_file']} demo "
                               f"{p['demo_index']} ({demo.task!r}, {demo.length} steps)")
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.active = True
        self.commands.forget()  # the arm may have been moved while inactive
        self.get_logger().info("active")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.active = False
        self.get_logger().info("inactive: holding")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.policy, self.active, self.autostart = None, False, False
        self.get_logger().info("policy unloaded")
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.policy, self.active, self.retry_busy, self.finalized = None, False, False, True
        self.get_logger().info("shut down")
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.policy, self.active = None, False  # back to unconfigured, nothing loaded
        self.get_logger().error(f"error while {state.label}: unloaded; configure again")
        return SUCCESS

    def finish(self, stopped_from_outside: bool = False) -> None:
        """On the way out (run_node): the shutdown transition, unless already finalized or
        stopped by SIGINT/SIGTERM (rclpy shuts the context down then, maybe while the
        transition would run: no event, no /rosout; only the local state is finalized)."""
        if self.finalized:
            return
        if stopped_from_outside or not self.context.ok():
            self.policy, self.active, self.retry_busy, self.finalized = None, False, False, True
        else:
            self.trigger_shutdown()

    def state_label(self) -> str:
        if self.finalized:
            return "finalized"
        return "unconfigured" if self.policy is None else "active" if self.active else "inactive"

    def _loaded_problem(self, _value) -> str | None:
        """Why the load settings cannot be set now (None: they can)."""
        if self.policy is None and not self.finalized:
            return None
        label = self.state_label()
        fix = {"active": "deactivate and clean up first (ros2 lifecycle set /imitator "
                         "deactivate, then cleanup)",
               "inactive": "clean up first (ros2 lifecycle set /imitator cleanup)",
               "finalized": "start the node again"}[label]
        return f"the imitator is {label}: model/demo settings are read at configure; {fix}"

    def _log_load_error(self, text: str, once: bool = False) -> None:
        if not (once and text == self.load_error):
            self.get_logger().error(f"no policy: {text}")
        self.load_error = text

    # --- timers and the convenience service ---------------------------------------------------
    def start_up(self) -> None:
        """active:=true: configure and activate (configure again while a demo file is busy)."""
        self.start_timer.cancel()
        self._configure_then_autostart()

    def watchdog(self) -> None:
        if self.retry_busy and self.policy is None and not self.finalized:
            self._configure_then_autostart()
        if self.active:
            self.state.stale_reason()  # logs once when inputs go stale

    def _configure_then_autostart(self) -> None:
        if self.trigger_configure() == SUCCESS and self.autostart:
            self.autostart = False  # the start-up's activation, once
            self.trigger_activate()

    def on_activate_service(self, request, response):
        label = self.state_label()
        if label == "finalized":
            return reply(response, False, "finalized (shut down): start the node again")
        if not request.data:
            if label == "active":
                self.trigger_deactivate()
            return reply(response, True, "inactive: holding" if self.policy else "unconfigured")
        if label == "active":
            return reply(response, True, "active")
        if label == "unconfigured" and self.trigger_configure() != SUCCESS:
            return reply(response, False, f"no policy: {self.load_error}; not activated")
        if self.trigger_activate() != SUCCESS:
            return reply(response, False, "activation failed; see the imitator's log")
        return reply(response, True, "active")

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
        scene, q_from = state.control_scene(self.config,
                                            self.commands if self.compensate else None)
        try:
            action, attention = self.policy.act(command_prediction.observation(scene))
        except NonFiniteActionError as err:
            self.get_logger().warning(f"{err}: holding", throttle_duration_sec=2)
            return
        command = control.action_to_command(state.kin, q_from, state.torso, action,
                                            self.config, gripper=scene.gripper,
                                            blocks=state.blocks)
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
