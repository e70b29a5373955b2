"""sim_driver: StackingEnv (PyBullet) behind ros2_control-style topics.

    python -m oneshot_ros.nodes.sim_driver --ros-args --params-file config/sim_driver.yaml \
        -p task:="ab cd" -p seed:=3

Arm commands follow ros2_control's joint_trajectory_controller (nodes.trajectory_follower): a
received JointTrajectory replaces the current one at the next control period, its points are
reached at header.stamp (zero = now) + time_from_start, interpolated linearly from the measured
joints through every point, and the last point is held; a trajectory that ends in the past, or
whose times do not increase, is refused with a log line. Each period's setpoint (sampled at the
period's end) moves each joint at most max_joint_velocity_rad_s (and its URDF limit) per second,
whatever the message rate, and leads the measured joint by at most max_lead_periods periods of
that, so the joints measured on /joint_states stay within the limit too.

Every control period: apply that setpoint and the finger gap (held when commands stop), run
one control step of physics, publish /block_poses then /joint_states (positions, and
velocities as the mean over the last control period; /clock when not real time). Services:
~/reset (task and seed from the parameters), ~/status (JSON: step, success, outcome,
n_placed, and the command timing below), ~/save_video (writes the frames kept since the last
save to video_path).

command_interface selects what commands the arm: `topics` (the two topics above, default),
`actions` (only the Fetch's controller actions, nodes.fetch_controllers: FollowJointTrajectory
on arm_action_name and GripperCommand on gripper_action_name, with joint_trajectory_controller
and gripper_action_controller semantics, judged at each control period in sim time) or `both`
(a topic command then aborts the goal it replaces). ~/status counts the goals of each action.

Command timing, from the first command after a reset (a controller that does not keep up with
the simulator shows here, not as a worse policy): `commanded_periods` had a fresh arm or
gripper command, `missed_periods` had none, `late_commands` arm commands stamped for an earlier
period than the one that picked them up (answering an older state; refused when already due).
"""

import json

import numpy as np
from geometry_msgs.msg import PoseArray
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from oneshot_ros.nodes import conversions as conv
from oneshot_ros.nodes import fetch_controllers as controllers
from oneshot_ros.nodes import trajectory_follower as trajectory
from oneshot_ros.nodes.common import (
    QOS_DEPTH,
    GapInput,
    StampSource,
    declare_control_period,
    declare_seed,
    declare_world_config,
    reply,
    run_node,
    task_problem,
)
from oneshot_ros.nodes.params import ParameterError, declare
from oneshot_ros.sim.env import StackingEnv
from oneshot_ros.utils.video import write_video
from oneshot_ros.world.robot import ARM_JOINTS, JOINT_LIMITS

INTERFACES = ("topics", "actions", "both")


class SimDriver(Node):
    def __init__(self):
        super().__init__("sim_driver")
        self.env = StackingEnv(declare_world_config(self))
        self.period_s = declare_control_period(self, self.env.config, "must equal the world's")
        if abs(self.period_s * self.env.config.control_hz - 1.0) > 1e-9:
            raise ParameterError(f"control_rate_hz={1.0 / self.period_s:g} differs from the "
                                 f"world's control_hz={self.env.config.control_hz:g}: set 0, or "
                                 "set control_hz in world_config instead")
        self.real_time = declare(self, "real_time", True, "false: publish /clock (sim time)")
        time_scale = declare(self, "time_scale", 1.0, "sim seconds per wall second when "
                             "real_time is false (e.g. 3.0 = three times faster)", low=0.01,
                             high=100.0)
        self.command_timeout_s = declare(self, "command_timeout_s", 0.5, "s without a command: "
                                         "log once, keep holding the last target", low=0.01,
                                         high=3600.0)
        self.max_velocity = declare(self, "max_joint_velocity_rad_s", 2.5, "rad/s, the arm "
                                    "setpoint moves at most this fast (and the URDF limits)",
                                    low=0.01, high=10.0)
        self.lead_periods = declare(self, "max_lead_periods", 0.9, "the setpoint leads the "
                                    "measured joints by at most this many periods at the "
                                    "velocity limit (PyBullet's servo runs a longer lead faster "
                                    "than the limit: with 1.2, reversing bursts reached 1.2x "
                                    "it)", low=0.5, high=20.0)
        self.open_loop = declare(self, "open_loop_control", False, "as JTC's: a new trajectory "
                                 "starts from the last setpoint instead of the measured joints")
        self.video_path = declare(self, "video_path", "", "~/save_video writes here; '' = no "
                                  "frames are rendered", dynamic=True)
        self.video_every = declare(self, "video_every_steps", 2, "render every k-th step",
                                   low=1, high=100000)
        declare(self, "task", "ab cd", "task string; read at each ~/reset", check=task_problem,
                dynamic=True)
        declare_seed(self, "block start layout of the episode ~/reset creates (read at each "
                     "~/reset)", dynamic=True)
        declare(self, "gui", False, "unsupported here (DIRECT only); kept for launch files")
        self.interface = declare(self, "command_interface", "topics", "what commands the arm: "
                                 "topics, actions (the Fetch's two controller actions only) or "
                                 "both", check=lambda value: None if value in INTERFACES else
                                 f"command_interface={value!r}: use one of {list(INTERFACES)}")
        self.sim_time_s, self.frames = 0.0, []
        self.timed_out = False
        self.arm_action = self.gripper_action = None
        if self.interface == "actions":
            self.gripper = HeldGap(self.env.config.open_gap_m)
        else:
            self.gripper = GapInput(self, self.env.config.open_gap_m,  # held when commands stop
                                    on_gap=lambda gap: self._gap_arrived())
        self._reset()
        self.joint_pub = self.create_publisher(JointState, conv.JOINT_STATES_TOPIC, QOS_DEPTH)
        self.block_pub = self.create_publisher(PoseArray, conv.BLOCK_POSES_TOPIC, QOS_DEPTH)
        self.stamps = StampSource(self, self.real_time)
        # the start of the current control period on the stamps' clock (sim or wall time)
        self.time_s = 0.0 if not self.real_time else self.get_clock().now().nanoseconds * 1e-9
        self.last_command_s = self.time_s
        if self.interface != "actions":
            self.create_subscription(JointTrajectory, conv.ARM_COMMAND_TOPIC, self.on_arm,
                                     QOS_DEPTH)
        if self.interface != "topics":
            self._serve_actions()
        self.create_service(Trigger, "~/reset", self.on_reset)
        self.create_service(Trigger, "~/status", self.on_status)
        self.create_service(Trigger, "~/save_video", self.on_save_video)
        wall_period = self.period_s / (1.0 if self.real_time else time_scale)
        self.create_timer(wall_period, self.tick)
        self.add_post_set_parameters_callback(self.on_parameters)

    def _serve_actions(self) -> None:
        """The Fetch's arm and gripper controller actions (nodes.fetch_controllers)."""
        self.arm_action, self.gripper_action = controllers.declare_controllers(
            self, clock=lambda: self.time_s, start=self._follow_goal, hold=self._hold_arm,
            command=self._grip)

    def _follow_goal(self, path: trajectory.Trajectory) -> None:
        """An accepted FollowJointTrajectory goal: followed from the next period."""
        self.arm.receive(path, self.time_s)
        self._arm_arrived(path.start_s)

    def _hold_arm(self) -> None:
        """Hold the measured joints from the next period (JTC's set_hold_position)."""
        q = self.env.scene.arm.arm_positions()
        self.arm.receive(trajectory.Trajectory([0.0], q[None]), self.time_s)

    def _grip(self, gap_m: float) -> None:
        self.gripper.gap_m = gap_m
        self._command_arrived()

    def on_parameters(self, parameters) -> None:
        for parameter in parameters:
            if parameter.name == "video_path":
                self.video_path = parameter.value

    def _reset(self) -> None:
        task, seed = self.get_parameter("task").value, self.get_parameter("seed").value
        self.env.reset(task, seed)
        self.previous_positions = None  # the first state after a reset reports velocity 0
        self.previous_arm = self.previous_gap = None  # so do the goals' velocities
        # hold the pose the episode starts in (StackingEnv's home pose) until commands arrive
        arm_target, self.gripper.gap_m = self.env.joint_targets()
        self.timing = CommandTiming()
        limits = [JOINT_LIMITS[name] for name in ARM_JOINTS]
        self.arm = trajectory.TrajectoryFollower(
            arm_target, self.period_s, [min(self.max_velocity, lim.velocity) for lim in limits],
            [lim.lower for lim in limits], [lim.upper for lim in limits], self.open_loop,
            self.lead_periods)
        for action in (self.arm_action, self.gripper_action):
            if action is not None:
                action.superseded("the simulation was reset")
        self.get_logger().info(f"reset: task {task!r}, seed {seed}")

    def on_arm(self, msg: JointTrajectory) -> None:
        try:
            positions, times = conv.trajectory_points(msg)  # (P, 7), (P,)
            start = conv.stamp_s(msg.header.stamp) or None
            self.arm.receive(trajectory.Trajectory(times, positions, start), self.time_s)
        except (conv.MessageError, trajectory.TrajectoryError) as err:
            self.get_logger().warning(f"arm command rejected: {err}", throttle_duration_sec=2)
            return
        if self.arm_action is not None:
            self.arm_action.superseded("a trajectory on the topic replaced it")
        self._arm_arrived(start)

    def _arm_arrived(self, start: float | None) -> None:
        self.last_command_s, self.timed_out = self.time_s, False
        self._command_arrived()
        if start is not None and start < self.time_s - 0.5 * self.period_s:
            self.timing.late += 1  # computed from a state older than this period's start

    def _gap_arrived(self) -> None:
        if self.gripper_action is not None:
            self.gripper_action.superseded("a gap on the topic replaced it")
        self._command_arrived()

    def _command_arrived(self) -> None:
        self.timing.arrived(self.env.n_steps)

    def tick(self) -> None:
        self.timing.tick()
        q_arm = self.env.scene.arm.arm_positions()  # (7,) measured, ARM_JOINTS order
        setpoint = self.arm.update(self.time_s, q_arm)  # sampled at the end of this period
        if self.arm_action is not None:
            self._tick_actions(q_arm)
            setpoint = self.arm.setpoint.copy()  # held when a goal was aborted
        self.env.command_joints(setpoint, self.gripper.gap_m)
        self.env.advance()
        self.sim_time_s += self.period_s
        stamp = self.stamps.stamp(self.sim_time_s)  # also publishes /clock off wall time
        self.time_s = conv.stamp_s(stamp)
        quats = self.env.scene.block_poses()[1]  # (B, 4)
        positions = self.env.perceived_block_positions()  # (B, 3) with perception's noise
        self.block_pub.publish(conv.pose_array(positions, stamp, quats=quats))
        positions = self.env.joint_positions()
        self.joint_pub.publish(conv.joint_state(positions, stamp, self._velocities(positions)))
        if self.video_path and self.env.n_steps % self.video_every == 0:
            self.frames.append(self.env.render())
        idle_s = self.time_s - max(self.arm.end_s, self.last_command_s)  # since the last
        if not self.timed_out and idle_s > self.command_timeout_s:  # command or trajectory point
            self.timed_out = True
            self.get_logger().info("no fresh command: holding the last target")

    def _tick_actions(self, q_arm: np.ndarray) -> None:
        """Judge the goals at this period's start on the measured joints and their mean
        velocities over the last period (0 after a reset)."""
        gap = conv.gap_from_fingers(self.env.scene.arm.finger_positions())
        previous_arm = q_arm if self.previous_arm is None else self.previous_arm
        previous_gap = gap if self.previous_gap is None else self.previous_gap
        self.previous_arm, self.previous_gap = q_arm, gap
        qd_arm = (q_arm - previous_arm) / self.period_s
        self.arm_action.tick(self.time_s, self.arm, q_arm, qd_arm)
        self.gripper_action.tick(self.time_s, gap, (gap - previous_gap) / self.period_s,
                                 self._finger_effort())

    def _finger_effort(self) -> float:
        """N, the mean force of the two finger motors over the last physics step."""
        arm = self.env.scene.arm
        states = arm.client.getJointStates(arm.body, arm.fingers)
        return float(np.mean([abs(state[3]) for state in states]))

    def _velocities(self, positions: dict[str, float]) -> dict[str, float]:
        """Mean velocity of each joint over the last control period (0 after a reset), as a
        joint_state_broadcaster reports the hardware's velocity state."""
        previous = self.previous_positions or positions
        self.previous_positions = positions
        return {name: (q - previous[name]) / self.period_s for name, q in positions.items()}

    def on_reset(self, request, response):
        try:
            self._reset()
        except ValueError as err:  # bad task string: keep the previous episode
            return reply(response, False, str(err))
        return reply(response, True, json.dumps(self._status()))

    def _status(self) -> dict:
        env = self.env
        return {"task": env.task.string, "seed": env.seed, "step": env.n_steps,
                "horizon": env.horizon, "control_hz": env.config.control_hz,
                "success": env.is_success(), "outcome": env.outcome(),
                "n_placed": env.n_placed(), "stages": env.task.n_stages,
                **self.timing.as_dict(), "command_interface": self.interface,
                **{f"{name}_goals": action.as_dict() for name, action in
                   (("arm", self.arm_action), ("gripper", self.gripper_action))
                   if action is not None}}

    def on_status(self, request, response):
        return reply(response, True, json.dumps(self._status()))

    def on_save_video(self, request, response):
        if not self.video_path or not self.frames:
            return reply(response, False, "no frames: set video_path")
        fps = 1.0 / (self.period_s * self.video_every)
        try:
            path = write_video(self.frames, self.video_path, fps=fps)
        except (OSError, ValueError, RuntimeError) as err:  # frames kept: fix the path, retry
            message = f"could not write {self.video_path}: {err}; the frames are kept: set " \
                      "video_path and call again"
            self.get_logger().error(message)
            return reply(response, False, message)
        self.frames = []
        return reply(response, True, str(path))


class HeldGap:
    """The finger gap when no topic commands it (command_interface actions)."""

    def __init__(self, gap_m: float):
        self.gap_m = gap_m


class CommandTiming:
    """Per control period since the first command of an episode: was a fresh command there?"""

    def __init__(self):
        self.first_step: int | None = None  # env step at which the first command arrived
        self.commanded = self.missed = self.late = 0
        self._fresh = False  # a command arrived since the last tick

    def arrived(self, step: int) -> None:
        if self.first_step is None:
            self.first_step = step
        self._fresh = True

    def tick(self) -> None:
        if self.first_step is not None:
            if self._fresh:
                self.commanded += 1
            else:
                self.missed += 1
        self._fresh = False

    def as_dict(self) -> dict:
        return {"first_command_step": self.first_step, "commanded_periods": self.commanded,
                "missed_periods": self.missed, "late_commands": self.late}


def main(args=None):
    run_node(SimDriver, args)


if __name__ == "__main__":
    main()
