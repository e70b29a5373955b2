"""demo_recorder: topics -> demonstrations in the HDF5 format `oneshot-ros collect` writes.

    python -m oneshot_ros.nodes.demo_recorder --ros-args \
        --params-file config/demo_recorder.yaml -p task:="ab cd" -p out:=demos/ros.h5

One sample per arm command (whoever sends it: the scripted expert, teleop, a joystick): the
observation from the latest /joint_states + /block_poses (FK, as StackingEnv.observation) and
the action (FK(command) - FK(measured), grip from the last gripper command). Teleop Twist or
TwistStamped becomes a displacement per control step and is sent as commands by this node.
Services ~/start_episode, ~/stop_episode (writes it; one atomic commit, so a kill loses at most
the episode in flight), ~/discard_episode. Task and seed are read at ~/start_episode.
"""

import dataclasses
import sys
from pathlib import Path

import numpy as np
import rclpy
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from oneshot_ros import control
from oneshot_ros.nodes import conversions as conv
from oneshot_ros.nodes.common import (
    QOS_DEPTH,
    CommandOutput,
    RobotStateInput,
    control_period_s,
    declare,
    world_config,
)
from oneshot_ros.recording import EpisodeBuffer
from oneshot_ros.tasks import parse_task


class DemoRecorder(Node):
    def __init__(self):
        super().__init__("demo_recorder")
        self.config = world_config(declare(self, "world_config", "", "WorldConfig override "
                                           "YAML; '' = defaults"))
        for name, default, text in (("task", "ab cd", "task label of the episodes"),
                                    ("seed", 0, "episode seed stored as metadata"),
                                    ("noise", 0.0, "m, the driver's action noise (metadata)")):
            declare(self, name, default, text)
        self.out = declare(self, "out", "demos/ros_demos.h5", "dataset file (appended)")
        self.period_s = control_period_s(declare(self, "control_rate_hz", 0.0, "Hz, teleop "
                                                 "steps; <= 0: WorldConfig"), self.config)
        stale_s = declare(self, "stale_timeout_s", 0.5, "s, older inputs: step not recorded")
        self.teleop_step_m = declare(self, "teleop_max_step_m", self.config.max_step_m,
                                     "m, teleop displacement clip per control step")
        max_velocity = declare(self, "max_joint_velocity_rad_s", 1.5, "rad/s, teleop clamp")
        stamped = declare(self, "teleop_stamped", False, "teleop sends TwistStamped")
        topic = declare(self, "teleop_topic", "/cmd_vel", "teleop Twist(Stamped) topic")
        self.state = RobotStateInput(self, stale_s)
        self.commands = CommandOutput(self, self.period_s, max_velocity, 1.5)
        self.teleop_age = conv.StalenessTracker(stale_s)
        self.twist, self.gap, self.writer, self.episode = None, self.config.open_gap_m, None, None
        self.create_subscription(JointTrajectory, conv.ARM_COMMAND_TOPIC, self.on_arm, QOS_DEPTH)
        self.create_subscription(Float64MultiArray, conv.GRIPPER_COMMAND_TOPIC, self.on_gripper,
                                 QOS_DEPTH)
        self.create_subscription(TwistStamped if stamped else Twist, topic, self.on_twist, 10)
        self.create_timer(self.period_s, self.teleop_step)
        for name in ("start_episode", "stop_episode", "discard_episode"):
            self.create_service(Trigger, f"~/{name}", getattr(self, name))
        if declare(self, "auto_start", False, "start an episode at once"):
            self.start_episode(None, Trigger.Response())

    # --- inputs -----------------------------------------------------------------------------
    def on_gripper(self, msg: Float64MultiArray) -> None:
        try:
            self.gap = conv.gripper_gap(msg)
        except conv.MessageError as err:
            self.get_logger().warn(f"gripper command rejected: {err}", throttle_duration_sec=2)

    def on_arm(self, msg: JointTrajectory) -> None:
        state = self.state
        if self.episode is None or state.blocks is None or state.stale_reason():
            return
        try:
            q_cmd = conv.trajectory_points(msg)[0][-1]  # (7,)
        except conv.MessageError as err:
            self.get_logger().warn(f"arm command rejected: {err}", throttle_duration_sec=2)
            return
        action = control.command_to_action(state.kin, state.q_arm, state.torso, q_cmd, self.gap,
                                           self.config)
        self.episode.add(state.observation(), action, self._judge()[0])

    def _judge(self) -> tuple[int, str]:
        state = self.state
        return control.scene_outcome(self.episode.task, self.config, state.blocks, state.quats,
                                     state.gripper_position(), state.fingers)

    def on_twist(self, msg) -> None:
        try:
            self.twist = (conv.twist_displacement(msg, self.period_s, self.teleop_step_m),
                          (msg.twist if isinstance(msg, TwistStamped) else msg).angular.z)
        except conv.MessageError as err:
            self.get_logger().warn(f"teleop rejected: {err}", throttle_duration_sec=2)
            return
        self.teleop_age.mark()

    def teleop_step(self) -> None:
        """Fresh teleop -> commands (angular.z > 0 opens, < 0 closes, else keeps the grip)."""
        if self.twist is None or self.teleop_age.is_stale() or self.state.blocks is None \
                or self.state.stale_reason():
            return
        delta, turn = self.twist
        grip = np.sign(turn) if turn else control.gap_to_grip(self.gap, self.config)
        state = self.state
        command = control.action_to_command(state.kin, state.q_arm, state.torso, [*delta, grip],
                                            self.config)
        self.commands.send(command, state.q_arm)

    # --- services ---------------------------------------------------------------------------
    def start_episode(self, request, response):
        try:
            task = parse_task(self.get_parameter("task").value)
        except ValueError as err:
            response.success, response.message = False, str(err)
            return response
        self.episode = EpisodeBuffer(task, self.get_parameter("seed").value, self.config)
        response.success, response.message = True, f"recording {task.string!r}"
        self.get_logger().info(response.message)
        return response

    def stop_episode(self, request, response):
        if not self.episode or self.state.blocks is None:
            response.success, response.message = False, "no episode with recorded steps"
            return response
        _, outcome = self._judge()
        record = self.episode.finish(self.get_parameter("noise").value, outcome)
        try:
            index = self._writer().append(record)
        except (OSError, ValueError) as err:  # e.g. a foreign file at `out`: keep the episode
            response.success, response.message = False, f"could not write {self.out}: {err}"
            self.get_logger().error(response.message)
            return response
        self.episode = None
        response.success, response.message = True, f"{self.out} demo {index}: {outcome}, " \
                                                    f"{record.length} steps"
        self.get_logger().info(response.message)
        return response

    def discard_episode(self, request, response):
        response.success, self.episode = self.episode is not None, None
        response.message = "discarded" if response.success else "no episode in flight"
        return response

    def _writer(self):
        from oneshot_ros.data.storage import DemoWriter

        if self.writer is None:
            Path(self.out).parent.mkdir(parents=True, exist_ok=True)
            self.writer = DemoWriter(self.out, dataclasses.asdict(self.config))
        return self.writer

    def destroy_node(self):
        if self.writer is not None:
            self.writer.close()
        super().destroy_node()


def main(args=None):
    rclpy.init(args=args)
    node = None
    try:
        node = DemoRecorder()
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    except ExternalShutdownException:
        sys.exit(1)
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
