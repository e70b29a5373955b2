"""Pieces every oneshot_ros node shares: parameters, the robot's state in, commands out.

    config = declare_world_config(node)  # the WorldConfig the node runs in, checked
    run_node(MyNode)  # a node's main: bad parameters one line, exit 2; SIGINT/SIGTERM exit 0
    state = RobotStateInput(node, stale_timeout_s, on_joint_state=callback)
    commands = declare_command_output(node, control_period_s)  # CommandOutput from parameters
    commands.send(command, q_measured, state.stamp)
    scene, q_from = state.control_scene(config, commands)  # latency compensation
    teleop = TeleopInput(node, "/cmd_vel", stamped, control_period_s, max_step_m, stale_s)

Each class turns messages into checked numpy with `conversions` and logs a rejected message
(throttled) instead of acting on it. Sensor inputs (/joint_states, /block_poses) subscribe with
SENSOR_QOS (best effort, latest values): they match best-effort camera pipelines and robot
drivers as well as reliable publishers; commands go out reliable (what the controllers expect).
The world config comes from WorldConfig (or a YAML override), the one source of truth for the
control rate and the action clip.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import rclpy
from geometry_msgs.msg import PoseArray, Twist, TwistStamped
from rclpy.executors import ExternalShutdownException
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from oneshot_ros.config import ConfigError, load_yaml
from oneshot_ros.nodes import conversions as conv
from oneshot_ros.nodes import params
from oneshot_ros.nodes.params import declare
from oneshot_ros.world import command_prediction, control
from oneshot_ros.world.grasp import Scene
from oneshot_ros.world.kinematics import FetchKinematics
from oneshot_ros.world.robot import TORSO_JOINT
from oneshot_ros.world.tasks import parse_task
from oneshot_ros.world.world_config import WorldConfig

QOS_DEPTH = 10  # reliable topics: commands, teleop, /clock
# Sensor inputs: best effort, keep last 5, volatile (rclpy's qos_profile_sensor_data). A
# best-effort subscription matches reliable and best-effort publishers alike; a reliable one
# would never hear a best-effort camera pipeline. The nodes only ever use the latest message.
SENSOR_QOS = qos_profile_sensor_data
# spin wakes at least this often to see a shutdown: rclpy's signal thread wakes the executor
# before it shuts the context down, so a SIGTERM landing then left a node without timers (the
# action bridges) waiting for ever
SHUTDOWN_POLL_S = 0.5


class MissingDependency(RuntimeError):
    """An optional ROS package (control_msgs, moveit_py) is not installed; the text says which."""


# ROS packages without a PyPI wheel that a pip install (no ROS) builds from the source tree.
PIP_BUILDS = {"control_msgs": "python interfaces/install_control_msgs.py"}


def require(module: str, ros_package: str):
    """Import an optional ROS module only where it is used; MissingDependency names the fix."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        distro = os.environ.get("ROS_DISTRO", "<distro>")
        pip = PIP_BUILDS.get(ros_package)
        raise MissingDependency(
            f"{module} is not available ({err}): install it with `apt install ros-{distro}-"
            f"{ros_package.replace('_', '-')}` and source /opt/ros/{distro}/setup.bash"
            + (f"; without ROS, run `{pip}` in the oneshot_ros source tree" if pip else "")
        ) from None


def run_node(factory, args=None) -> None:
    """Every node's main: spin it. A refused parameter at start-up is one stderr line and exit
    2, a missing optional package one line and exit 1 (no traceback either way). Stopped from
    outside it exits 0 without a traceback, as ros2/demos' nodes do: Ctrl-C (SIGINT:
    KeyboardInterrupt) and SIGTERM (`ros2 launch` after SIGINT, systemd, docker stop: rclpy's
    handler shuts the context down, spin raises ExternalShutdownException), also while the node
    is still starting (rclpy calls then fail on the closed context). A lifecycle node passes
    through its shutdown transition on the way out (`finish`)."""
    warnings.formatwarning = _one_line_warning  # numpy's warnings: one log line, not three
    module = factory.__module__  # "__main__" under python -m: the file then names the node
    name = Path(sys.argv[0]).stem if module == "__main__" else module.rsplit(".", 1)[-1]
    rclpy.init(args=args)
    # Built before the node: a signal during the node's constructor cannot meet a half-built
    # executor (whose __del__ prints a traceback when the context closed under it).
    executor = rclpy.get_global_executor()
    node, code, stopped = None, 0, False
    try:
        node = factory()
        _spin(node, executor)
    except params.ParameterError as err:
        print(f"{name}: {err}", file=sys.stderr)
        code = 2
    except MissingDependency as err:
        print(f"{name}: {err}", file=sys.stderr)
        code = 1
    except (KeyboardInterrupt, ExternalShutdownException):
        stopped = True  # stopped from outside: a normal end
    except Exception:
        if rclpy.ok():  # a real failure: its traceback
            raise
        stopped = True  # stopped from outside during start-up: rclpy closed the context
    finally:
        if node is not None:
            finish = getattr(node, "finish", None)
            if finish is not None:
                # after a signal rclpy shuts the context down on its own, maybe only now: no
                # transition may start then (its logging would meet a closed context)
                finish(stopped_from_outside=stopped)
            node.destroy_node()
        rclpy.try_shutdown()
    if code:
        sys.exit(code)


def _spin(node, executor) -> None:
    """rclpy.spin, waking every SHUTDOWN_POLL_S to check the context."""
    executor.add_node(node)
    try:
        while executor.context.ok():
            executor.spin_once(timeout_sec=SHUTDOWN_POLL_S)
    finally:
        executor.remove_node(node)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"{Path(filename).name}:{lineno}: {category.__name__}: {message}\n"


def reply(response, success: bool, message: str):
    """Fill a Trigger/SetBool response. Callers log it themselves: rclpy (Kilted) keys its log
    filters by call site, so one shared logging line here would mix severities and raise."""
    response.success, response.message = success, message
    return response


def world_config(path: str) -> WorldConfig:
    """WorldConfig defaults, or overrides from a YAML file ("" = defaults)."""
    return load_yaml(WorldConfig, path) if path else WorldConfig()


def world_config_problem(path: str) -> str | None:
    """Why `path` is not a usable world config (None: it loads)."""
    try:
        world_config(path)
    except (ConfigError, ValueError, OSError) as err:
        return str(err)
    return None


def declare_world_config(node) -> WorldConfig:
    """The `world_config` parameter (read once) -> the checked WorldConfig."""
    path = declare(node, "world_config", "", "WorldConfig override YAML; '' = defaults",
                   check=world_config_problem)
    return world_config(path)


def task_problem(text: str) -> str | None:
    """Why `text` is not a task string (None: it parses)."""
    try:
        parse_task(text)
    except ValueError as err:
        return str(err)
    return None


def declare_control_period(node, config: WorldConfig, what: str = "one command per period"):
    """`control_rate_hz` (read once; 0 = the world's control_hz) -> the control period, s."""
    rate_hz = declare(node, "control_rate_hz", 0.0, f"Hz, {what}; 0: WorldConfig.control_hz",
                      low=0.0, high=1000.0)
    return control_period_s(rate_hz, config)


def declare_stale_timeout(node, what: str = "hold, log once") -> float:
    return declare(node, "stale_timeout_s", 0.5, f"s, older inputs: {what}", low=0.01,
                   high=60.0)


def declare_seed(node, description: str, dynamic: bool = False, check=None) -> int:
    return declare(node, "seed", 0, description, low=0, high=params.SEED_MAX, check=check,
                   dynamic=dynamic)


def control_period_s(rate_hz: float, config: WorldConfig) -> float:
    """rate_hz <= 0 means the world's control rate (WorldConfig.control_hz)."""
    return 1.0 / (rate_hz if rate_hz > 0 else config.control_hz)


class StampSource:
    """Message stamps: wall time, or the simulator's own time, also published on /clock."""

    def __init__(self, node, real_time: bool):
        self.node = node
        self.clock = None if real_time else node.create_publisher(Clock, "/clock", 10)

    def stamp(self, sim_time_s: float):
        if self.clock is None:
            return self.node.get_clock().now().to_msg()
        stamp = conv.duration(sim_time_s)  # same sec/nanosec fields as builtin Time
        clock = Clock()
        clock.clock.sec, clock.clock.nanosec = stamp.sec, stamp.nanosec
        self.clock.publish(clock)
        return clock.clock


class RobotStateInput:
    """Latest /joint_states and /block_poses, checked, with their ages (wall clock).

    A rejected message leaves the last accepted one in place (it only ages). Both subscribe
    with SENSOR_QOS: best-effort and reliable publishers both reach them."""

    def __init__(self, node, stale_timeout_s: float, on_joint_state=None):
        self.node = node
        self.kin = FetchKinematics()
        self.q_arm = self.torso = self.fingers = self.blocks = self.quats = None
        self.expected_blocks: int | None = None  # set: other pose counts are rejected
        self.stamp_s = 0.0  # header stamp of the latest joint state (sim or wall time)
        self.stamp = None  # that stamp as builtin_interfaces/Time (commands carry it)
        self.received_s = 0.0  # time.perf_counter() when it arrived (latency measurements)
        self.joints_age = conv.StalenessTracker(stale_timeout_s)
        self.blocks_age = conv.StalenessTracker(stale_timeout_s)
        self._on_joint_state = on_joint_state
        self._held_topic: str | None = None
        node.create_subscription(JointState, conv.JOINT_STATES_TOPIC, self._joints, SENSOR_QOS)
        node.create_subscription(PoseArray, conv.BLOCK_POSES_TOPIC, self._blocks, SENSOR_QOS)

    def _joints(self, msg: JointState) -> None:
        received = time.perf_counter()
        try:
            self.q_arm = conv.arm_joint_vector(msg)
            self.torso = conv.joint_vector(msg, [TORSO_JOINT])[0]
            self.fingers = conv.finger_positions(msg)
        except conv.MessageError as err:
            self.node.get_logger().warning(f"/joint_states rejected: {err}",
                                           throttle_duration_sec=2)
            return
        self.stamp, self.received_s = msg.header.stamp, received
        self.stamp_s = conv.stamp_s(msg.header.stamp)
        self.joints_age.mark()
        if self._on_joint_state is not None:
            self._on_joint_state()

    def _blocks(self, msg: PoseArray) -> None:
        try:
            blocks = conv.block_positions(msg, n_blocks=self.expected_blocks)
            self.blocks, self.quats = blocks, conv.block_quaternions(msg)
        except conv.MessageError as err:
            self.node.get_logger().warning(f"/block_poses rejected: {err}",
                                           throttle_duration_sec=2)
            return
        self.blocks_age.mark()

    def stale_reason(self) -> str | None:
        """Why the state cannot be used now (None = fresh); logs each new reason once."""
        stale = None
        for topic, age in ((conv.JOINT_STATES_TOPIC, self.joints_age),
                           (conv.BLOCK_POSES_TOPIC, self.blocks_age)):
            if age.is_stale():
                stale = topic
                reason = f"no {topic} for {age.age_s():.2f} s (stale_timeout_s=" \
                         f"{age.timeout_s}): holding position"
                break
        if stale != self._held_topic:  # log each change once, not every step
            if stale:
                self.node.get_logger().warning(reason)
            else:
                self.node.get_logger().info("inputs fresh again: resuming")
            self._held_topic = stale
        return reason if stale else None

    def gripper_position(self) -> np.ndarray:
        return self.kin.fk(self.q_arm, self.torso)[0]

    def observation(self) -> np.ndarray:
        """(3B+2,) exactly as StackingEnv.observation builds it."""
        return control.observe(self.kin, self.q_arm, self.torso, self.fingers, self.blocks)

    def control_scene(self, config: WorldConfig,
                      commands: CommandOutput | None = None) -> tuple[Scene, np.ndarray]:
        """(the scene a controller acts on, the arm joints (7,) its action displaces).

        commands None, or nothing published yet: the measured scene and joints. Else (latency
        compensation) the scene once the commands last published have landed
        (world/command_prediction.py) and the arm target, as
        StackingEnv.step(from_command=True)."""
        measured = Scene(self.gripper_position(), self.fingers, self.blocks)
        if commands is None or commands.last_arm_q is None:
            return measured, self.q_arm
        commanded = self.kin.fk(commands.last_arm_q, self.torso)[0]  # (3,)
        scene = command_prediction.predict_scene(measured, commanded, commands.last_gap_m,
                                                 config)
        return scene, commands.last_arm_q


class GapInput:
    """The latest gripper command ([gap_m] on /gripper_controller/commands), checked."""

    def __init__(self, node, gap_m: float, on_gap=None):
        self.node, self.gap_m, self._on_gap = node, gap_m, on_gap
        node.create_subscription(Float64MultiArray, conv.GRIPPER_COMMAND_TOPIC, self._gap,
                                 QOS_DEPTH)

    def _gap(self, msg: Float64MultiArray) -> None:
        try:
            self.gap_m = conv.gripper_gap(msg)
        except conv.MessageError as err:
            self.node.get_logger().warning(f"gripper command rejected: {err}",
                                           throttle_duration_sec=2)
            return
        if self._on_gap is not None:
            self._on_gap(self.gap_m)


class TeleopInput:
    """Latest teleop Twist or TwistStamped (as teleop_twist_keyboard sends) as a step action."""

    def __init__(self, node, topic: str, stamped: bool, period_s: float, max_step_m: float,
                 stale_timeout_s: float):
        self.node, self.period_s, self.max_step_m = node, period_s, max_step_m
        self.twist = None  # (displacement (3,) per control step, angular.z)
        self.age = conv.StalenessTracker(stale_timeout_s)
        node.create_subscription(TwistStamped if stamped else Twist, topic, self._twist,
                                 QOS_DEPTH)

    def _twist(self, msg) -> None:
        try:
            self.twist = (conv.twist_displacement(msg, self.period_s, self.max_step_m),
                          (msg.twist if isinstance(msg, TwistStamped) else msg).angular.z)
        except conv.MessageError as err:
            self.node.get_logger().warning(f"teleop rejected: {err}", throttle_duration_sec=2)
            return
        self.age.mark()

    def action(self, current_grip: float) -> np.ndarray | None:
        """(dx, dy, dz, grip) (4,), None without fresh teleop; angular.z > 0 opens, < 0 closes,
        0 keeps current_grip."""
        if self.twist is None or self.age.is_stale():
            return None
        delta, turn = self.twist
        return np.array([*delta, np.sign(turn) if turn else current_grip])


class CommandOutput:
    """Arm JointTrajectory + gripper Float64MultiArray, clamped to limits and joint velocity.

    `stamp_commands`: an arm command carries the stamp of the joint state it was computed from,
    so a JTC reaches it trajectory_periods after that state even when it arrives late (and
    refuses it when it arrives after that); False: stamp zero, "start when received"."""

    def __init__(self, node, period_s: float, max_joint_velocity_rad_s: float,
                 trajectory_periods: float, stamp_commands: bool = True):
        self.period_s, self.max_velocity = period_s, max_joint_velocity_rad_s
        self.trajectory_periods, self.stamp_commands = trajectory_periods, stamp_commands
        self.arm = node.create_publisher(JointTrajectory, conv.ARM_COMMAND_TOPIC, QOS_DEPTH)
        self.gripper = node.create_publisher(Float64MultiArray, conv.GRIPPER_COMMAND_TOPIC,
                                             QOS_DEPTH)
        self.last_arm_q: np.ndarray | None = None  # (7,) the arm target last published
        self.last_gap_m = 0.0  # m, the gripper command last published

    def forget(self) -> None:
        """Another controller may move the arm from now on (inactive): no last target."""
        self.last_arm_q = None

    def send(self, command: control.JointCommand, q_measured: np.ndarray,
             state_stamp=None) -> None:
        """Gripper first, then the arm (the recorder pairs an arm command with the last gap).
        state_stamp: header.stamp of the joint state the command was computed from."""
        self.gripper.publish(conv.gripper_command(command.gap_m))
        self.last_gap_m = command.gap_m
        if command.arm_q is None:  # IK failed: send nothing, the controller holds its target
            return
        q = conv.limit_step(command.arm_q, q_measured, self.period_s, self.max_velocity)
        stamp = state_stamp if self.stamp_commands else None
        self.arm.publish(conv.arm_trajectory(q, self.period_s, self.trajectory_periods, stamp))
        self.last_arm_q = q  # after the clamps: what the controller will really reach

    def on_parameters(self, parameters) -> None:
        """The clamp and timing follow a runtime `ros2 param set` from the next command on."""
        for parameter in parameters:
            if parameter.name == "max_joint_velocity_rad_s":
                self.max_velocity = parameter.value
            elif parameter.name == "trajectory_periods":
                self.trajectory_periods = parameter.value


def declare_command_output(node, period_s: float) -> CommandOutput:
    """CommandOutput from the parameters every commanding node declares alike."""
    max_velocity = declare(node, "max_joint_velocity_rad_s", 1.5, "rad/s, command clamp "
                           "(applies from the next command when set at runtime)", low=0.01,
                           high=5.0, dynamic=True)
    periods = declare(node, "trajectory_periods", 1.0, "time_from_start, control periods "
                      "(1 = StackingEnv's execution model; more moves each step 1/periods of "
                      "the way)", low=1.0, high=4.0, dynamic=True)
    stamped = declare(node, "stamp_commands", True, "arm commands carry the stamp of the "
                      "joint state they answer; false: zero stamp (start when received)")
    output = CommandOutput(node, period_s, max_velocity, periods, stamped)
    node.add_post_set_parameters_callback(output.on_parameters)
    return output


def declare_latency_compensation(node) -> bool:
    """`latency_compensation` (read once): act on the scene the last published arm target will
    leave and displace that target (world/command_prediction.py), not the measured joints."""
    return declare(node, "latency_compensation", False, "true: act on the scene once the last "
                   "arm command has landed (FK of it) and move on from that command, not the "
                   "measured joints: command latency (DDS, the controller's queue) no longer "
                   "slows the arm")
