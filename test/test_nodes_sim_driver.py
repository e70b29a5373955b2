"""sim_driver as a real process: joint state names, motion on command, reset, /clock, hold."""

import numpy as np
import pytest

pytest.importorskip("rclpy")
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from oneshot_ros.nodes import conversions as conv  # noqa: E402
from oneshot_ros.robot import ALL_JOINTS, ARM_JOINTS, HOME_ARM  # noqa: E402

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
