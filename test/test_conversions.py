"""Message ⇄ numpy conversions with real message objects from the installed ROS wheels."""

import math

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist, TwistStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from oneshot_ros.nodes import conversions as cv
from oneshot_ros.world.robot import ALL_JOINTS, ARM_JOINTS, FINGER_JOINTS, JOINT_LIMITS, READY_ARM


def fetch_joint_state(extra=True, shuffle_seed=0) -> JointState:
    """Every Fetch joint plus base/head extras, in a shuffled order, positions = index/200
    (plausible readings of every joint)."""
    names = list(ALL_JOINTS) + (["l_wheel_joint", "head_pan_joint"] if extra else [])
    order = np.random.default_rng(shuffle_seed).permutation(len(names))
    names = [names[i] for i in order]
    return JointState(name=names, position=[ALL_JOINTS.index(n) / 200 if n in ALL_JOINTS
                                            else 9.0 for n in names])


def test_joint_state_matched_by_name_in_any_order_extras_ignored():
    for seed in range(3):
        msg = fetch_joint_state(shuffle_seed=seed)
        q = cv.arm_joint_vector(msg)
        assert q.shape == (7,)
        np.testing.assert_allclose(q, [ALL_JOINTS.index(n) / 200 for n in ARM_JOINTS])
        np.testing.assert_allclose(cv.finger_positions(msg), [0.04, 0.045])
    assert cv.joint_positions(fetch_joint_state())["head_pan_joint"] == 9.0


def test_absurd_finite_readings_are_rejected_like_nan():
    """A 1e6 rad shoulder reading (the arm at -0.84) was believed and commanded a 2.4 rad jump."""
    for name, value in (("shoulder_lift_joint", 1e6), ("elbow_flex_joint", 2.251 + 0.2),
                        ("wrist_roll_joint", 100.0), ("l_gripper_finger_joint", 0.5),
                        ("torso_lift_joint", -1.0)):
        msg = fetch_joint_state()
        msg.position[msg.name.index(name)] = value
        with pytest.raises(cv.MessageError, match=name):
            cv.arm_joint_vector(msg) if name in ARM_JOINTS else \
                cv.joint_vector(msg, [name])
    msg = fetch_joint_state()
    msg.position[msg.name.index("elbow_flex_joint")] = 2.251 + 0.05  # encoder overshoot: kept
    cv.arm_joint_vector(msg)
    poses = cv.pose_array([[0.6, 0.1, 0.75], [0.7, -0.1, 0.75]])
    cv.block_positions(poses, n_blocks=2)
    poses.poses[1].position.x = 3e38  # the recorder wrote this into a demo
    with pytest.raises(cv.MessageError, match="outside"):
        cv.block_positions(poses, n_blocks=2)


def test_joint_state_accepts_empty_velocity_and_effort_but_not_wrong_lengths():
    msg = fetch_joint_state()
    msg.velocity = [0.0] * len(msg.name)
    cv.arm_joint_vector(msg)
    msg.velocity = [0.0]
    with pytest.raises(cv.MessageError, match="velocity has 1 values"):
        cv.arm_joint_vector(msg)
    msg = fetch_joint_state()
    msg.position = list(msg.position)[:-1]
    with pytest.raises(cv.MessageError, match="names but"):
        cv.arm_joint_vector(msg)


def test_joint_state_rejects_nan_inf_missing_and_repeated_names():
    msg = fetch_joint_state(extra=False)
    for bad in (math.nan, math.inf):
        positions = list(msg.position)
        positions[msg.name.index("elbow_flex_joint")] = bad
        msg.position = positions
        with pytest.raises(cv.MessageError, match="NaN or inf"):
            cv.arm_joint_vector(msg)
    missing = JointState(name=list(ARM_JOINTS[:6]), position=[0.0] * 6)
    with pytest.raises(cv.MessageError, match="lacks \\['wrist_roll_joint'\\]"):
        cv.arm_joint_vector(missing)
    repeated = JointState(name=["a", "a"], position=[0.0, 0.0])
    with pytest.raises(cv.MessageError, match="repeats"):
        cv.joint_positions(repeated)


def test_nan_in_an_ignored_joint_does_not_reject_the_arm():
    msg = fetch_joint_state()
    positions = list(msg.position)
    positions[msg.name.index("head_pan_joint")] = math.nan
    msg.position = positions
    assert cv.arm_joint_vector(msg).shape == (7,)


def test_joint_state_builder_round_trips():
    positions = dict(zip(ALL_JOINTS, np.linspace(0, 1, len(ALL_JOINTS)).tolist(), strict=True))
    msg = cv.joint_state(positions, stamp=Time(sec=3, nanosec=5))
    assert cv.joint_positions(msg) == positions and msg.header.stamp.sec == 3


def test_pose_array_round_trip_and_checks():
    xyz = np.array([[0.6, -0.1, 0.775], [0.7, 0.2, 0.825], [0.5, 0.0, 0.775]])  # (B, 3)
    msg = cv.pose_array(xyz)
    assert msg.header.frame_id == "base_link" and msg.poses[0].orientation.w == 1.0
    np.testing.assert_array_equal(cv.block_positions(msg, n_blocks=3), xyz)
    with pytest.raises(cv.MessageError, match="3 poses; the task has 4"):
        cv.block_positions(msg, n_blocks=4)
    msg.header.frame_id = "map"
    with pytest.raises(cv.MessageError, match="frame 'map'"):
        cv.block_positions(msg)
    msg.header.frame_id = "base_link"
    msg.poses[1].position.y = math.nan
    with pytest.raises(cv.MessageError, match="NaN"):
        cv.block_positions(msg)
    with pytest.raises(cv.MessageError, match="NaN"):
        cv.pose_array([[0.0, math.inf, 0.0]])


def test_arm_trajectory_is_one_point_all_arm_joints_reached_one_period_on():
    msg = cv.arm_trajectory(READY_ARM, control_period_s=0.1)
    assert list(msg.joint_names) == list(ARM_JOINTS) and len(msg.points) == 1
    assert msg.header.stamp.sec == 0 and msg.header.stamp.nanosec == 0  # "start now"
    assert cv.duration_s(msg.points[0].time_from_start) == pytest.approx(0.1)  # StackingEnv's
    q, t = cv.trajectory_points(msg)
    np.testing.assert_allclose(q[0], READY_ARM)
    np.testing.assert_allclose(t, [0.1])
    stamped = cv.arm_trajectory(READY_ARM, 0.1, periods=1.5, stamp=cv.duration(12.25))
    assert cv.stamp_s(stamped.header.stamp) == pytest.approx(12.25)  # the state it answers
    assert cv.duration_s(stamped.points[0].time_from_start) == pytest.approx(0.15)
    with pytest.raises(ValueError, match="1-2 periods"):
        cv.arm_trajectory(READY_ARM, control_period_s=0.1, periods=5)
    with pytest.raises(ValueError, match="expected 7"):
        cv.arm_trajectory(READY_ARM[:6], control_period_s=0.1)
    with pytest.raises(cv.MessageError, match="NaN"):
        cv.arm_trajectory([math.nan] * 7, control_period_s=0.1)


def test_trajectory_points_reorders_by_name_and_rejects_bad_messages():
    names = list(reversed(ARM_JOINTS))
    point = JointTrajectoryPoint(positions=[float(i) for i in range(7)])
    q, _ = cv.trajectory_points(JointTrajectory(joint_names=names, points=[point]))
    np.testing.assert_array_equal(q[0], [6, 5, 4, 3, 2, 1, 0])
    partial = JointTrajectory(joint_names=names[:6],
                              points=[JointTrajectoryPoint(positions=[0.0] * 6)])
    unknown = JointTrajectory(joint_names=[*names[:6], "head_pan_joint"], points=[point])
    empty = JointTrajectory(joint_names=names)
    short = JointTrajectory(joint_names=names, points=[JointTrajectoryPoint(positions=[0.0])])
    nan = JointTrajectory(joint_names=names,
                          points=[JointTrajectoryPoint(positions=[math.nan] * 7)])
    for msg, problem in [(partial, "name each"), (unknown, "name each"), (empty, "no points"),
                         (short, "1 positions"), (nan, "NaN")]:
        with pytest.raises(cv.MessageError, match=problem):
            cv.trajectory_points(msg)


def test_gripper_command_both_ways_clamped():
    assert list(cv.gripper_command(0.05).data) == [0.05]
    assert list(cv.gripper_command(0.3).data) == [0.1]
    assert list(cv.gripper_command(-1.0).data) == [0.0]
    assert cv.gripper_gap(Float64MultiArray(data=[0.07])) == pytest.approx(0.07)
    assert cv.gripper_gap(Float64MultiArray(data=[2.0])) == 0.1
    with pytest.raises(cv.MessageError, match="2 values"):
        cv.gripper_gap(Float64MultiArray(data=[0.1, 0.1]))
    with pytest.raises(cv.MessageError, match="NaN"):
        cv.gripper_gap(Float64MultiArray(data=[math.nan]))
    with pytest.raises(cv.MessageError, match="NaN"):
        cv.gripper_command(math.inf)
    assert cv.gap_from_fingers([0.02, 0.03]) == pytest.approx(0.05)


def test_twist_to_displacement_plain_and_stamped():
    twist = Twist()
    twist.linear.x, twist.linear.z = 0.1, -1.0
    np.testing.assert_allclose(cv.twist_displacement(twist, 0.1, 0.03), [0.01, 0.0, -0.03])
    stamped = TwistStamped()
    stamped.twist = twist
    np.testing.assert_allclose(cv.twist_displacement(stamped, 0.1, 0.03), [0.01, 0.0, -0.03])


def test_clamp_to_joint_limits_passes_continuous_joints():
    q = np.array([5.0, -5.0, 10.0, 0.1, -10.0, 3.0, 7.0])
    clamped = cv.clamp_to_limits(q)
    lim = [JOINT_LIMITS[n] for n in ARM_JOINTS]
    np.testing.assert_allclose(clamped, [lim[0].upper, lim[1].lower, 10.0, 0.1, -10.0,
                                         lim[5].upper, 7.0])
    np.testing.assert_allclose(cv.clamp_to_limits([0.02, 0.09], FINGER_JOINTS), [0.02, 0.05])


def test_limit_step_caps_velocity_and_keeps_small_moves():
    current = np.array(READY_ARM)
    target = current + np.array([1.0, -1.0, 0.01, 0.0, 0.0, 0.0, 3.0])
    q = cv.limit_step(target, current, dt_s=0.1, max_velocity=0.5)
    np.testing.assert_allclose(q - current, [0.05, -0.05, 0.01, 0, 0, 0, 0.05])
    # the URDF velocity limit wins when it is lower than max_velocity
    q = cv.limit_step(target, current, dt_s=0.1, max_velocity=100.0)
    assert q[0] - current[0] == pytest.approx(JOINT_LIMITS["shoulder_pan_joint"].velocity * 0.1)
    with pytest.raises(cv.MessageError, match="NaN"):
        cv.limit_step([math.nan] * 7, current, dt_s=0.1, max_velocity=1.0)


def test_staleness_tracker():
    tracker = cv.StalenessTracker(timeout_s=0.5)
    assert tracker.is_stale(10.0) and tracker.age_s(10.0) == math.inf
    tracker.mark(10.0)
    assert not tracker.is_stale(10.4) and tracker.age_s(10.4) == pytest.approx(0.4)
    assert tracker.is_stale(10.6)
    fake_now = [100.0]
    clocked = cv.StalenessTracker(timeout_s=1.0, clock=lambda: fake_now[0])
    clocked.mark()
    fake_now[0] = 100.5
    assert not clocked.is_stale()
    fake_now[0] = 101.5
    assert clocked.is_stale()
    with pytest.raises(ValueError, match="positive"):
        cv.StalenessTracker(timeout_s=0.0)


def test_duration_conversion():
    assert cv.duration(1.25).sec == 1 and cv.duration(1.25).nanosec == 250_000_000
    assert cv.duration_s(cv.duration(0.15)) == pytest.approx(0.15)


def test_topic_names_are_the_controller_conventions():
    assert cv.ARM_COMMAND_TOPIC == "/arm_controller/joint_trajectory"
    assert cv.GRIPPER_COMMAND_TOPIC == "/gripper_controller/commands"
    assert (cv.JOINT_STATES_TOPIC, cv.BLOCK_POSES_TOPIC) == ("/joint_states", "/block_poses")
