"""demo_recorder: topics -> demonstrations in the HDF5 format `oneshot-ros collect` writes.

    python -m oneshot_ros.nodes.demo_recorder --ros-args \
        --params-file config/demo_recorder.yaml -p task:="ab cd" -p out:=demos/ros.h5

One sample per arm command (whoever sends it: the scripted expert, teleop, a joystick): the
observation from the latest /joint_states + /block_poses (FK, as StackingEnv.observation) and
the action (FK(command) - FK(measured), grip from the last gripper command). Teleop Twist or
TwistStamped becomes a displacement per control step and is sent as commands by this node.
A twist is held for stale_timeout_s (0.5 s, longer than teleop_twist_keyboard's key repeat
while a key is held: a tap moves the arm 0.5 s); once teleop has driven an episode, every
period without a fresh twist is a recorded still step (the keyboard's pauses are demo too).
Teleop steps run on the node's clock: with a simulator publishing /clock, set use_sim_time:=true
for one command per simulated control step (a hint is logged once otherwise). Services
~/start_episode, ~/stop_episode (writes it; one atomic commit, so a kill loses at most
the episode in flight), ~/discard_episode. Task and seed are read at ~/start_episode.
"""

from pathlib import Path

import numpy as np
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from oneshot_ros.demos.recording import EpisodeBuffer, EpisodeFile
from oneshot_ros.nodes import conversions as conv
from oneshot_ros.nodes.common import (
    QOS_DEPTH,
    GapInput,
    RobotStateInput,
    TeleopInput,
    declare_command_output,
    declare_control_period,
    declare_seed,
    declare_stale_timeout,
    declare_world_config,
    reply,
    run_node,
    task_problem,
)
from oneshot_ros.nodes.params import declare
from oneshot_ros.world import control
from oneshot_ros.world.tasks import parse_task


class DemoRecorder(Node):
    def __init__(self):
        super().__init__("demo_recorder")
        self.config = declare_world_config(self)
        # read at each ~/start_episode (task, seed) and ~/stop_episode (noise, out)
        declare(self, "task", "ab cd", "task label of the episodes", check=task_problem,
                dynamic=True)
        declare_seed(self, "episode seed stored as metadata", dynamic=True)
        declare(self, "noise", 0.0, "m, the driver's action noise (metadata)", low=0.0,
                high=0.05, dynamic=True)
        self.out = declare(self, "out", "demos/ros_demos.h5", "dataset file (appended; read "
                           "at each ~/stop_episode)", check=out_problem, dynamic=True)
        self.period_s = declare_control_period(self, self.config, "teleop steps")
        stale_s = declare_stale_timeout(self, "step not recorded")
        teleop_step_m = declare(self, "teleop_max_step_m", self.config.max_step_m,
                                "m, teleop displacement clip per control step", low=0.0005,
                                high=self.config.max_step_m)
        stamped = declare(self, "teleop_stamped", False, "teleop sends TwistStamped")
        topic = declare(self, "teleop_topic", "/cmd_vel", "teleop Twist(Stamped) topic")
        self.state = RobotStateInput(self, stale_s)
        self.commands = declare_command_output(self, self.period_s)
        self.teleop = TeleopInput(self, topic, stamped, self.period_s, teleop_step_m, stale_s)
        self.episode, self.teleop_drives_episode = None, False
        self.file = EpisodeFile(self.out, self.config)  # opened at the first stop_episode
        self.create_subscription(JointTrajectory, conv.ARM_COMMAND_TOPIC, self.on_arm, QOS_DEPTH)
        self.gripper = GapInput(self, self.config.open_gap_m)  # after on_arm: callback order
        self.create_timer(self.period_s, self.teleop_step)
        for name in ("start_episode", "stop_episode", "discard_episode"):
            self.create_service(Trigger, f"~/{name}", getattr(self, name))
        self.clock_hint = None if self.get_parameter("use_sim_time").value else \
            self.create_subscription(Clock, "/clock", self.on_clock_without_sim_time, 1)
        if declare(self, "auto_start", False, "start an episode at once"):
            self.start_episode(None, Trigger.Response())

    def on_clock_without_sim_time(self, msg: Clock) -> None:
        """A simulator publishes /clock, yet the teleop timer runs on wall time: say so once."""
        if self.clock_hint is None:  # a message queued before the subscription went
            return
        self.get_logger().warning(
            "/clock is published but use_sim_time is false: teleop steps run on wall time, so "
            "a simulator faster than real time moves several steps per recorded step; start "
            "this node with use_sim_time:=true")
        self.destroy_subscription(self.clock_hint)
        self.clock_hint = None

    def on_arm(self, msg: JointTrajectory) -> None:
        state = self.state
        if self.episode is None or state.blocks is None or state.stale_reason():
            return
        if (mismatch := self._block_count_mismatch()) is not None:
            self.get_logger().warning(f"{mismatch}: step not recorded", throttle_duration_sec=2)
            return
        try:
            q_cmd = conv.trajectory_points(msg)[0][-1]  # (7,)
        except conv.MessageError as err:
            self.get_logger().warning(f"arm command rejected: {err}", throttle_duration_sec=2)
            return
        action = control.command_to_action(state.kin, state.q_arm, state.torso, q_cmd,
                                           self.gripper.gap_m, self.config)
        self.episode.add(state.observation(), action, self._judge()[0])

    def _block_count_mismatch(self) -> str | None:
        """Why the latest block poses do not fit the episode's task (None = they do)."""
        n_poses, n_blocks = len(self.state.blocks), self.episode.task.n_blocks
        if n_poses == n_blocks:
            return None
        return (f"/block_poses has {n_poses} poses, the task {self.episode.task.string!r} "
                f"{n_blocks} blocks; publish one pose per task block")

    def _judge(self) -> tuple[int, str]:
        state = self.state
        return control.scene_outcome(self.episode.task, self.config, state.blocks, state.quats,
                                     state.gripper_position(), state.fingers)

    def teleop_step(self) -> None:
        """Fresh teleop -> commands (angular.z > 0 opens, < 0 closes, else keeps the grip).

        Once teleop has driven the running episode, a period without a fresh twist is a still
        step (no motion, the grip kept), commanded and so recorded: keyboard teleop sends only
        on key presses, and its pauses (e.g. while the fingers close) belong to the demo."""
        state = self.state
        grip = control.gap_to_grip(self.gripper.gap_m, self.config)
        action = self.teleop.action(grip)
        if action is not None and self.episode is not None:
            self.teleop_drives_episode = True
        elif action is None and self.episode is not None and self.teleop_drives_episode:
            action = np.array([0.0, 0.0, 0.0, grip])  # a still step
        if action is None or state.blocks is None or state.stale_reason():
            return
        command = control.action_to_command(state.kin, state.q_arm, state.torso, action,
                                            self.config, blocks=state.blocks)
        self.commands.send(command, state.q_arm, state.stamp)

    def start_episode(self, request, response):
        if self.episode is not None:  # never drop the steps in flight
            return reply(response, False, f"already recording {self.episode.task.string!r} "
                         f"({len(self.episode)} steps): call ~/stop_episode (writes it) or "
                         "~/discard_episode first")
        try:
            task = parse_task(self.get_parameter("task").value)
        except ValueError as err:
            return reply(response, False, str(err))
        self.episode = EpisodeBuffer(task, self.get_parameter("seed").value, self.config)
        self.teleop_drives_episode = False  # still steps start with the first teleop message
        self.state.expected_blocks = task.n_blocks  # other pose counts: rejected, logged
        self.get_logger().info(f"recording {task.string!r}")
        return reply(response, True, f"recording {task.string!r}")

    def stop_episode(self, request, response):
        if not self.episode or self.state.blocks is None:
            return reply(response, False, "no episode with recorded steps")
        if (mismatch := self._block_count_mismatch()) is not None:  # cannot judge: keep it
            return reply(response, False, f"{mismatch}; the episode is kept, stop again")
        record = self.episode.finish(self.get_parameter("noise").value, self._judge()[1])
        try:
            index = self._episode_file().append(record)
        except (OSError, ValueError) as err:  # e.g. a foreign file at `out`: keep the episode
            message = f"could not write {self.out}: {err}; the episode is kept, stop again"
            self.get_logger().error(message)
            return reply(response, False, message)
        self.episode = None
        message = f"{self.out} demo {index}: {record.outcome}, {record.length} steps"
        self.get_logger().info(message)
        return reply(response, True, message)

    def _episode_file(self) -> EpisodeFile:
        """The file `out` names now: after a failed write, set `out` and stop again."""
        self.out = self.get_parameter("out").value
        if Path(self.out) != self.file.path:
            self.file.close()
            self.file = EpisodeFile(self.out, self.config)
        return self.file

    def discard_episode(self, request, response):
        discarded, self.episode = self.episode is not None, None
        return reply(response, discarded, "discarded" if discarded else "no episode in flight")

    def destroy_node(self):
        self.file.close()
        super().destroy_node()


def out_problem(path: str) -> str | None:
    """Why `out` cannot name a dataset file (None: it can; writing may still fail later)."""
    if not path.strip():
        return "out is empty: name an .h5 file"
    if Path(path).is_dir():
        return f"out={path} is a directory: name an .h5 file in it"
    return None


def main(args=None):
    run_node(DemoRecorder, args)


if __name__ == "__main__":
    main()
