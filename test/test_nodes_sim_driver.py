"""sim_driver as a real process: joint state names, motion on command, reset, /clock, hold."""

import numpy as np
import pytest

pytest.importorskip("rclpy")
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from oneshot_ros.nodes import conversions as conv  # noqa: E402
from oneshot_ros.world.robot import ALL_JOINTS, ARM_JOINTS, HOME_ARM  # noqa: E402

SIM = {"task": "ab cd", "seed": 7, "real_time": False, "time_scale": 3.0}


def start_sim(session, **params):
    session.start("sim_driver", {**SIM, **params})
    session.wait_for_service("/sim_driver/status")


def latest(messages, count=1, timeout_s=30.0, session=None):
    n = len(messages)
    session.ros.wait_for(lambda: len(messages) >= n + count, timeout_s, "new messages")
    return messages[-1][1]


def test_joint_states_name_every_joint_and_clock_runs_off_wall_time(ros_session):
    states = ros_session.ros.collect(conv.JOINT_STATES_TOPIC, JointState)
    clock = ros_session.ros.collect("/clock", Clock)
    start_sim(ros_session)
    msg = latest(states, 3, session=ros_session)
    assert set(msg.name) == set(ALL_JOINTS) and len(msg.name) == len(ALL_JOINTS)
    assert np.all(np.isfinite(msg.position))
    assert clock and conv.stamp_s(msg.header.stamp) > 0


def test_arm_moves_when_commanded_and_holds_the_last_target(ros_session):
    states = ros_session.ros.collect(conv.JOINT_STATES_TOPIC, JointState)
    arm = ros_session.ros.node.create_publisher(JointTrajectory, conv.ARM_COMMAND_TOPIC, 10)
    start_sim(ros_session)
    target = np.array(HOME_ARM) + [0.3, 0, 0, 0, 0, 0, 0]  # shoulder pan +0.3 rad
    bad = conv.arm_trajectory(target, 0.05)
    bad.points[0].positions[0] = float("nan")
    arm.publish(bad)  # rejected with a log line, the node keeps running
    for _ in range(10):  # the sim keeps the target after the commands stop
        arm.publish(conv.arm_trajectory(target, 0.05))
        ros_session.ros.spin_for(0.05)
    ros_session.wait_steps(ros_session.status()["step"] + 60)
    q = conv.arm_joint_vector(latest(states, session=ros_session))
    assert abs(q[ARM_JOINTS.index("shoulder_pan_joint")] - target[0]) < 0.02
    ros_session.nodes.check_alive()
    assert "arm command rejected" in ros_session.nodes.log("sim_driver")


def test_reset_puts_the_blocks_where_stacking_env_reset_does(ros_session):
    from geometry_msgs.msg import PoseArray

    from oneshot_ros.sim.env import StackingEnv

    poses = ros_session.ros.collect(conv.BLOCK_POSES_TOPIC, PoseArray)
    start_sim(ros_session, seed=0)
    ros_session.reset(seed=11, task="abc")
    env = StackingEnv()
    env.reset("abc", 11)
    expected = env.block_positions()
    env.close()
    ros_session.wait_steps(2)
    blocks = conv.block_positions(latest(poses, session=ros_session), n_blocks=3)
    np.testing.assert_allclose(blocks, expected, atol=2e-3)


def test_without_commands_the_arm_stays_in_the_pose_episodes_start_in(ros_session):
    """The driver holds StackingEnv's home pose after ~/reset: commanding any other pose
    swings the arm onto another IK branch before the policy's first step (the imitator then
    starts from states it never saw in simulation)."""
    states = ros_session.ros.collect(conv.JOINT_STATES_TOPIC, JointState)
    start_sim(ros_session, seed=0)
    ros_session.reset(seed=3)
    ros_session.wait_steps(ros_session.status()["step"] + 40)  # 2 s of sim time
    q = conv.arm_joint_vector(latest(states, session=ros_session))
    np.testing.assert_allclose(q, HOME_ARM, atol=0.02)


def test_joint_states_carry_velocities_like_a_joint_state_broadcaster(ros_session):
    """Each state reports every joint's mean velocity over the last control period."""
    states = ros_session.ros.collect(conv.JOINT_STATES_TOPIC, JointState)
    arm = ros_session.ros.node.create_publisher(JointTrajectory, conv.ARM_COMMAND_TOPIC, 10)
    start_sim(ros_session)
    target = np.array(HOME_ARM) + [0.3, 0, 0, 0, 0, 0, 0]  # shoulder pan +0.3 rad
    for _ in range(6):
        arm.publish(conv.arm_trajectory(target, 0.05))
        ros_session.ros.spin_for(0.05)
    latest(states, 2, session=ros_session)
    (_, before), (_, after) = states[-2:]
    assert len(after.velocity) == len(after.name) == len(before.name)
    dt = conv.stamp_s(after.header.stamp) - conv.stamp_s(before.header.stamp)
    expected = (np.array(after.position) - np.array(before.position)) / dt
    np.testing.assert_allclose(after.velocity, expected, atol=1e-6)
    pan = list(after.name).index("shoulder_pan_joint")
    assert any(abs(msg.velocity[pan]) > 0.1 for _, msg in states[-20:])  # it moved


# --- joint_trajectory_controller semantics -------------------------------------------------------
PAN = ARM_JOINTS.index("shoulder_pan_joint")
PAN_LIMIT = 1.256  # rad/s: the URDF's, below max_joint_velocity_rad_s (2.5)


def pan_track(states, since_s: float) -> np.ndarray:
    """(N, 3): stamp - since_s, pan position, pan velocity of the states after since_s."""
    rows = []
    for _, msg in list(states):
        t = conv.stamp_s(msg.header.stamp) - since_s
        if t > 0:
            i = list(msg.name).index("shoulder_pan_joint")
            rows.append((t, msg.position[i], msg.velocity[i]))
    return np.array(rows)


def motion_start(track: np.ndarray) -> float:
    """When the pan first moved (s): the trajectory's start, whatever its delivery took (under
    load the sim can run ahead of the wall clock while a message is in flight)."""
    moved = np.abs(track[:, 1] - HOME_ARM[PAN]) > 0.005
    return float(track[np.argmax(moved), 0]) - 0.05  # it moves within the first period


def send_once(session, states, msg, seconds: float, after_steps: int = 5) -> np.ndarray:
    """Publish one trajectory once the sim has run `after_steps` steps, let `seconds` of sim
    time pass; the pan joint's track since."""
    arm = session.ros.node.create_publisher(JointTrajectory, conv.ARM_COMMAND_TOPIC, 10)
    start_sim(session)
    session.wait_steps(after_steps)
    session.ros.wait_for(lambda: arm.get_subscription_count() > 0, 10, "the sim subscribing")
    t0 = conv.stamp_s(latest(states, session=session).header.stamp)
    for message in msg if isinstance(msg, list) else [msg]:
        arm.publish(message)
    session.wait_steps(session.status()["step"] + int(seconds / 0.05))
    return pan_track(states, t0)


def trajectory(points) -> JointTrajectory:
    """points: [(time_from_start_s, pan offset from HOME_ARM rad)]"""
    msg = conv.arm_trajectory(HOME_ARM, 0.05)
    msg.points = [conv.arm_trajectory(np.array(HOME_ARM) + [dq, 0, 0, 0, 0, 0, 0], 0.05).points[0]
                  for _, dq in points]
    for point, (t, _) in zip(msg.points, points, strict=True):
        point.time_from_start = conv.duration(t)
    return msg


def test_one_point_at_1s_is_reached_in_about_1s(ros_session):
    """`ros2 topic pub --once` of one point 0.3 rad away at 1 s: there after ~1 s, half way at
    0.5 s (the previous main moved 0.063 rad, one control period's worth, and stopped)."""
    states = ros_session.ros.collect(conv.JOINT_STATES_TOPIC, JointState, depth=1000)
    track = send_once(ros_session, states, trajectory([(1.0, 0.3)]), 2.5)
    pan, start = track[:, 1] - HOME_ARM[PAN], motion_start(track)
    half = pan[np.argmin(np.abs(track[:, 0] - start - 0.55))]
    assert 0.08 < half < 0.22, track  # on its way: neither a jump nor one period's worth
    settled = track[:, 0] > start + 1.4
    assert settled.any() and np.all(np.abs(pan[settled] - 0.3) < 0.02), track
    assert np.all(np.abs(track[:, 2]) < 0.3 * 1.5), track  # ~0.3 rad/s, not a step


def test_a_burst_of_40_messages_never_exceeds_the_velocity_limit(ros_session):
    """40 streamed one-point commands at once (the previous main moved the pan 4.3 rad/s)."""
    states = ros_session.ros.collect(conv.JOINT_STATES_TOPIC, JointState, depth=1000)
    burst = [conv.arm_trajectory(np.array(HOME_ARM) + [0.3, 0, 0, 0, 0, 0, 0], 0.05)] * 40
    track = send_once(ros_session, states, burst, 1.5)
    assert np.abs(track[:, 2]).max() <= PAN_LIMIT, track
    assert abs(track[-1, 1] - HOME_ARM[PAN] - 0.3) < 0.02, track  # it still gets there


def test_a_two_point_trajectory_passes_through_the_middle_point(ros_session):
    """Out 0.3 rad at 0.6 s, back home at 1.2 s (the previous main took only the last point,
    so the arm never moved)."""
    states = ros_session.ros.collect(conv.JOINT_STATES_TOPIC, JointState, depth=1000)
    track = send_once(ros_session, states, trajectory([(0.6, 0.3), (1.2, 0.0)]), 2.0)
    pan, start = track[:, 1] - HOME_ARM[PAN], motion_start(track)
    assert pan.max() > 0.25, track
    assert 0.45 < track[np.argmax(pan), 0] - start < 0.9, track  # about when the point is due
    assert abs(pan[-1]) < 0.02, track


def test_a_trajectory_that_ends_in_the_past_is_refused(ros_session):
    states = ros_session.ros.collect(conv.JOINT_STATES_TOPIC, JointState, depth=1000)
    msg = trajectory([(0.5, 0.3)])
    msg.header.stamp.sec = 0
    msg.header.stamp.nanosec = 1000  # sim time 1 us: ends at 0.5 s, long over at step 40 (2 s)
    track = send_once(ros_session, states, msg, 0.5, after_steps=40)
    assert np.all(np.abs(track[:, 1] - HOME_ARM[PAN]) < 0.01)
    assert "in the past" in ros_session.nodes.log("sim_driver")


# --- command_interface: the Fetch's controller actions beside (or instead of) the topics --------
def test_command_interface_must_name_one_of_three():
    import subprocess

    from oneshot_ros.nodes.launcher import node_command, ros_environment, unique_domain_id

    done = subprocess.run(node_command("sim_driver", {"command_interface": "rpc"}), text=True,
                          env=ros_environment(unique_domain_id()), capture_output=True,
                          timeout=60)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "command_interface" in done.stderr and "actions" in done.stderr


def test_with_both_a_topic_trajectory_aborts_the_goal_it_replaces(ros_session):
    pytest.importorskip("control_msgs")
    from action_msgs.msg import GoalStatus
    from control_msgs.action import FollowJointTrajectory
    from rclpy.action import ActionClient

    states = ros_session.ros.collect(conv.JOINT_STATES_TOPIC, JointState, depth=1000)
    arm = ros_session.ros.node.create_publisher(JointTrajectory, conv.ARM_COMMAND_TOPIC, 10)
    start_sim(ros_session, command_interface="both")
    ros = ros_session.ros
    client = ActionClient(ros.node, FollowJointTrajectory,
                          "/arm_controller/follow_joint_trajectory")
    assert client.wait_for_server(timeout_sec=30)
    sent = client.send_goal_async(FollowJointTrajectory.Goal(trajectory=trajectory([(3.0, 0.5)])))
    ros.executor.spin_until_future_complete(sent, timeout_sec=10)
    ros.wait_for(lambda: arm.get_subscription_count() > 0, 10, "the sim subscribing")
    arm.publish(trajectory([(0.5, -0.2)]))
    result = sent.result().get_result_async()
    ros.executor.spin_until_future_complete(result, timeout_sec=30)
    assert result.result().status == GoalStatus.STATUS_ABORTED
    assert "topic" in result.result().result.error_string
    ros_session.wait_steps(ros_session.status()["step"] + 30)  # 1.5 s: the topic's one is done
    pan = conv.arm_joint_vector(latest(states, session=ros_session))[PAN]
    assert abs(pan - HOME_ARM[PAN] + 0.2) < 0.02
