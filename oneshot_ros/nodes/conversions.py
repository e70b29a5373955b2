"""ROS messages ⇄ numpy for the nodes: name matching, NaN and length checks, clamps, staleness.

Plain functions over message objects (no rclpy, no node): every node callback turns its message
into numpy here, makes one core call, and turns the result back into a message here. A message
that cannot be trusted raises MessageError; the node logs it (throttled) and keeps holding.
Conventions (REP 103 and ros2_control's): SI units, frame base_link, gripper command = gap
between the pads in metres, 0 closed … 0.1 open.
"""

from __future__ import annotations

import math
import time

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Pose, PoseArray, Twist, TwistStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
from visualization_msgs.msg import Marker, MarkerArray

from oneshot_ros.world.robot import (
    ARM_JOINTS,
    BASE_FRAME,
    FINGER_JOINTS,
    GRIPPER_MAX_GAP_M,
    JOINT_LIMITS,
    TORSO_JOINT,
)

# Topic names: ros2_control's controller topics, so a real robot is a remap (launch/fetch_*).
ARM_COMMAND_TOPIC = "/arm_controller/joint_trajectory"
GRIPPER_COMMAND_TOPIC = "/gripper_controller/commands"
JOINT_STATES_TOPIC = "/joint_states"
BLOCK_POSES_TOPIC = "/block_poses"

# Readings beyond these are a broken sensor or a forged message, never the arm or the scene:
# rejected like NaN (a 1e6 rad shoulder reading made the imitator command a 2.4 rad jump).
PRISMATIC_JOINTS = (TORSO_JOINT, *FINGER_JOINTS)
JOINT_READING_MARGIN = 0.1  # rad beyond a joint's URDF limits (encoders overshoot slightly)
PRISMATIC_READING_MARGIN_M = 0.01  # m, the torso and the fingers
CONTINUOUS_JOINT_RANGE_RAD = 4 * math.pi  # roll joints: two turns either way
BLOCK_WORKSPACE_M = ((-5.0, 5.0), (-5.0, 5.0), (-1.0, 5.0))  # base_link x, y, z of a block


class MessageError(ValueError):
    """A message that is rejected (NaN, wrong length, missing joint, wrong frame)."""


class JointNamesError(MessageError):
    """A trajectory that does not name each controlled joint once (JTC: INVALID_JOINTS)."""


def _finite(values, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise MessageError(f"{what} contains NaN or inf: {array.tolist()}; message dropped")
    return array


# --- JointState ----------------------------------------------------------------------------------
def joint_positions(msg: JointState, names=None) -> dict[str, float]:
    """Positions by joint name. With `names`, only those (all required, others ignored)."""
    if len(msg.position) != len(msg.name):
        raise MessageError(
            f"JointState has {len(msg.name)} names but {len(msg.position)} positions"
        )
    for field in ("velocity", "effort"):  # empty is allowed (sensor_msgs/JointState)
        if len(getattr(msg, field)) not in (0, len(msg.name)):
            raise MessageError(f"JointState {field} has {len(getattr(msg, field))} values "
                               f"for {len(msg.name)} names; send none or one per name")
    index = {name: i for i, name in enumerate(msg.name)}  # name -> index, per message
    if len(index) != len(msg.name):
        raise MessageError(f"JointState repeats a joint name: {list(msg.name)}")
    wanted = list(msg.name) if names is None else list(names)
    missing = [n for n in wanted if n not in index]
    if missing:
        raise MessageError(f"JointState lacks {missing}; publish every joint in {wanted}")
    values = _finite([msg.position[index[n]] for n in wanted], f"JointState {wanted}")
    return dict(zip(wanted, values.tolist(), strict=True))


def joint_vector(msg: JointState, names) -> np.ndarray:
    """Positions of `names` in that order, each a plausible reading  # (len(names),)"""
    positions = joint_positions(msg, names)
    for name in names:
        _check_reading(name, positions[name])
    return np.array([positions[n] for n in names], dtype=np.float64)


def _check_reading(name: str, q: float) -> None:
    limit = JOINT_LIMITS.get(name)
    if limit is None:
        return
    low, high = limit.lower, limit.upper
    if math.isinf(low) or math.isinf(high):
        low, high = -CONTINUOUS_JOINT_RANGE_RAD, CONTINUOUS_JOINT_RANGE_RAD
    else:
        margin = PRISMATIC_READING_MARGIN_M if name in PRISMATIC_JOINTS else JOINT_READING_MARGIN
        low, high = low - margin, high + margin
    if not low <= q <= high:
        raise MessageError(f"{name} reads {q:g}, outside its range [{low:.3f}, {high:.3f}] "
                           "(limits plus a margin): a broken reading, message dropped")


def arm_joint_vector(msg: JointState) -> np.ndarray:
    """The 7 arm joint positions in ARM_JOINTS order  # (7,)"""
    return joint_vector(msg, ARM_JOINTS)


def finger_positions(msg: JointState) -> np.ndarray:
    """(l, r) finger joint positions, 0 closed … 0.05 open: the observation's gripper state."""
    return joint_vector(msg, FINGER_JOINTS)


def joint_state(positions: dict[str, float], stamp=None,
                velocities: dict[str, float] | None = None) -> JointState:
    """JointState with every given joint (names in dict order); stamp: builtin Time or None;
    velocities (rad/s or m/s) by the same names, or None for an empty velocity field."""
    msg = JointState(name=list(positions), position=[float(v) for v in positions.values()])
    if velocities is not None:
        msg.velocity = [float(velocities[name]) for name in positions]
    if stamp is not None:
        msg.header.stamp = stamp
    return msg


# --- PoseArray: block positions (perception's role), task-letter order ---------------------------
def block_positions(msg: PoseArray, n_blocks: int | None = None,
                    frame_id: str = BASE_FRAME) -> np.ndarray:
    """Block centres in `frame_id`  # (B, 3)"""
    if msg.header.frame_id not in ("", frame_id):
        raise MessageError(
            f"block poses are in frame {msg.header.frame_id!r}; publish them in {frame_id!r}"
        )
    if n_blocks is not None and len(msg.poses) != n_blocks:
        raise MessageError(f"PoseArray has {len(msg.poses)} poses; the task has {n_blocks} blocks")
    xyz = [(p.position.x, p.position.y, p.position.z) for p in msg.poses]
    xyz = _finite(xyz, "block poses").reshape(len(msg.poses), 3)
    for k, (low, high) in enumerate(BLOCK_WORKSPACE_M):
        column, axis = xyz[:, k], "xyz"[k]
        if np.any((column < low) | (column > high)):
            raise MessageError(f"a block pose has {axis} = {column[np.argmax(np.abs(column))]:g} "
                               f"m, outside [{low}, {high}] m of {frame_id}: message dropped")
    return xyz


def block_quaternions(msg: PoseArray) -> np.ndarray:
    """Block orientations as xyzw quaternions  # (B, 4)"""
    xyzw = [(p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w)
            for p in msg.poses]
    return _finite(xyzw, "block orientations").reshape(len(msg.poses), 4)


def pose_array(positions, stamp=None, frame_id: str = BASE_FRAME, quats=None) -> PoseArray:
    """(B, 3) block centres (+ optional (B, 4) xyzw, else identity) -> PoseArray."""
    positions = _finite(positions, "block positions").reshape(-1, 3)
    quats = np.tile([0.0, 0.0, 0.0, 1.0], (len(positions), 1)) if quats is None else \
        _finite(quats, "block orientations").reshape(-1, 4)
    msg = PoseArray()
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    for (x, y, z), (qx, qy, qz, qw) in zip(positions.tolist(), quats.tolist(), strict=True):
        pose = Pose()
        pose.position.x, pose.position.y, pose.position.z = x, y, z
        o = pose.orientation
        o.x, o.y, o.z, o.w = qx, qy, qz, qw
        msg.poses.append(pose)
    return msg


# --- JointTrajectory: one point per control step (JTC streaming) ---------------------------------
def duration(seconds: float) -> Duration:
    nanoseconds = int(round(seconds * 1e9))
    return Duration(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def duration_s(msg: Duration) -> float:
    return msg.sec + msg.nanosec * 1e-9


def time_msg(seconds: float) -> Time:
    """Seconds on the stamps' clock (sim or wall time) -> builtin_interfaces/Time."""
    stamp = duration(seconds)
    return Time(sec=stamp.sec, nanosec=stamp.nanosec)


def arm_trajectory(q_arm, control_period_s: float, periods: float = 1.0,
                   stamp=None) -> JointTrajectory:
    """One-point JointTrajectory naming all 7 arm joints, reached `periods` control periods
    after `stamp` (builtin_interfaces/Time; None or zero = "start when received", JTC's now).

    One period is the execution model StackingEnv trains with: the joint target of an action is
    the setpoint for the whole control period that follows the state it was computed from. A JTC
    samples the trajectory at the end of each period (ros2_controllers #1306), so 1.5 periods
    moved the arm 2/3 of each commanded step (bench/ros_parity.py). Stamping the command with
    the state's stamp keeps that timing when the command arrives late: the point is still due
    one period after the state. Up to 2 periods are allowed for controllers that need slack.
    """
    if not 1.0 <= periods <= 2.0 or not control_period_s > 0:
        raise ValueError(f"periods={periods}, control_period_s={control_period_s}: use 1-2 "
                         "periods of a positive control period")
    q_arm = _finite(q_arm, "arm command").reshape(-1)
    if q_arm.shape != (len(ARM_JOINTS),):
        raise ValueError(f"arm command has {q_arm.size} values; expected {len(ARM_JOINTS)}")
    point = JointTrajectoryPoint(positions=q_arm.tolist(),
                                 time_from_start=duration(periods * control_period_s))
    msg = JointTrajectory(joint_names=list(ARM_JOINTS), points=[point])
    if stamp is not None:
        msg.header.stamp = stamp
    return msg


def trajectory_points(msg: JointTrajectory) -> tuple[np.ndarray, np.ndarray]:
    """Points in ARM_JOINTS order  # (P, 7), and their time_from_start in seconds  # (P,)

    All 7 arm joints must be named (JTC rejects partial goals too); unknown names are rejected.
    """
    names = list(msg.joint_names)
    order = arm_joint_order(names)
    if not msg.points:
        raise MessageError("JointTrajectory has no points")
    rows = []
    for k, point in enumerate(msg.points):
        if len(point.positions) != len(names):
            raise MessageError(f"trajectory point {k} has {len(point.positions)} positions for "
                               f"{len(names)} joints")
        rows.append([point.positions[i] for i in order])
    times = [duration_s(p.time_from_start) for p in msg.points]
    return _finite(rows, "trajectory positions"), _finite(times, "time_from_start")


def arm_joint_order(names) -> list[int]:
    """Index in `names` of each arm joint, ARM_JOINTS order; JointNamesError unless `names`
    names each arm joint once and nothing else."""
    names = list(names)
    unknown = sorted(set(names) - set(ARM_JOINTS))
    missing = [n for n in ARM_JOINTS if n not in names]
    if unknown or missing or len(names) != len(ARM_JOINTS):
        raise JointNamesError(f"JointTrajectory names {names}; name each of {list(ARM_JOINTS)} "
                              "once")
    return [names.index(n) for n in ARM_JOINTS]


# --- gripper: Float64MultiArray [gap_m] ---------------------------------------------------------
def clamp_gap(gap_m: float) -> float:
    return min(max(float(gap_m), 0.0), GRIPPER_MAX_GAP_M)


def gripper_command(gap_m: float) -> Float64MultiArray:
    """Gap between the pads (m), clamped to [0, 0.1]: 0 closed, 0.1 open."""
    gap = _finite([gap_m], "gripper command")[0]
    return Float64MultiArray(data=[clamp_gap(gap)])


def gripper_gap(msg: Float64MultiArray) -> float:
    """The commanded gap (m), clamped to [0, 0.1]; one finite value required."""
    if len(msg.data) != 1:
        raise MessageError(f"gripper command has {len(msg.data)} values; send [gap_m]")
    return clamp_gap(_finite(msg.data, "gripper command")[0])


def gap_from_fingers(fingers) -> float:
    """(l, r) finger positions -> gap between the pads (m); each finger moves gap/2."""
    return clamp_gap(float(np.sum(fingers)))


# --- teleop --------------------------------------------------------------------------------------
def twist_displacement(msg: Twist | TwistStamped, control_period_s: float,
                       max_step_m: float) -> np.ndarray:
    """Teleop linear velocity (m/s) -> end-effector displacement per control step  # (3,)"""
    twist = msg.twist if isinstance(msg, TwistStamped) else msg
    velocity = _finite([twist.linear.x, twist.linear.y, twist.linear.z], "teleop twist")
    return np.clip(velocity * control_period_s, -max_step_m, max_step_m)


# --- safety clamps -------------------------------------------------------------------------------
def _limit_arrays(names) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    limits = [JOINT_LIMITS[n] for n in names]
    return (np.array([lim.lower for lim in limits]), np.array([lim.upper for lim in limits]),
            np.array([lim.velocity for lim in limits]))


def clamp_to_limits(q, names=ARM_JOINTS) -> np.ndarray:
    """Positions clipped to the URDF limits (continuous joints pass)  # (len(names),)"""
    lower, upper, _ = _limit_arrays(names)
    return np.clip(_finite(q, "joint command"), lower, upper)


def limit_step(q_target, q_current, dt_s: float, max_velocity: float,
               names=ARM_JOINTS) -> np.ndarray:
    """Move from q_current toward q_target by at most min(max_velocity, URDF velocity) * dt_s,
    then clip to the position limits  # (len(names),)"""
    if not (max_velocity > 0 and dt_s > 0):  # a negative limit would flip every step
        raise ValueError(f"max_velocity={max_velocity}, dt_s={dt_s}: both must be positive")
    _, _, urdf_velocity = _limit_arrays(names)
    max_delta = np.minimum(max_velocity, urdf_velocity) * dt_s
    q_current = _finite(q_current, "current joints")
    delta = np.clip(_finite(q_target, "joint command") - q_current, -max_delta, max_delta)
    return clamp_to_limits(q_current + delta, names)


# --- staleness -----------------------------------------------------------------------------------
class StalenessTracker:
    """Age of the last accepted message vs a timeout; stale until the first message arrives.

    Times are seconds on any monotonic clock: pass `now_s` (e.g. the node clock, so sim time
    works) or let it default to time.monotonic().
    """

    def __init__(self, timeout_s: float, clock=time.monotonic):
        if not timeout_s > 0:
            raise ValueError(f"timeout_s={timeout_s}: use a positive number of seconds")
        self.timeout_s = timeout_s
        self._clock = clock
        self._last_s: float | None = None

    def mark(self, now_s: float | None = None) -> None:
        self._last_s = self._clock() if now_s is None else now_s

    def age_s(self, now_s: float | None = None) -> float:
        if self._last_s is None:
            return math.inf
        return (self._clock() if now_s is None else now_s) - self._last_s

    def is_stale(self, now_s: float | None = None) -> bool:
        return self.age_s(now_s) > self.timeout_s


# --- RViz: attention markers ---------------------------------------------------------------------
def attention_markers(blocks: np.ndarray, block_attention: np.ndarray) -> MarkerArray:
    """Cubes over the blocks (B, 3), red with alpha = attention weight (2, H, B) averaged."""
    weight = block_attention.reshape(-1, blocks.shape[0]).mean(axis=0)  # (B,)
    weight = weight / max(float(weight.max()), 1e-9)
    markers = MarkerArray()
    for k, (position, w) in enumerate(zip(blocks.tolist(), weight.tolist(), strict=True)):
        marker = Marker(id=k, type=Marker.CUBE, action=Marker.ADD, ns="attention")
        marker.header.frame_id = BASE_FRAME
        marker.pose.position.x, marker.pose.position.y, marker.pose.position.z = position
        marker.pose.orientation.w = 1.0
        marker.scale.x = marker.scale.y = marker.scale.z = 0.06
        marker.color.r, marker.color.a = 1.0, 0.15 + 0.85 * w
        markers.markers.append(marker)
    return markers


# --- time ----------------------------------------------------------------------------------------
def stamp_s(stamp) -> float:
    """builtin_interfaces/Time -> seconds."""
    return stamp.sec + stamp.nanosec * 1e-9
