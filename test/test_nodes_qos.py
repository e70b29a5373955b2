"""Sensor inputs meet a perception stack's QoS: /block_poses and /joint_states published best
effort (a camera pipeline's qos_profile_sensor_data, some robot drivers) reach the imitator and
the recorder as reliable ones do (real processes; the test process plays the robot)."""

from __future__ import annotations

import pytest

pytest.importorskip("rclpy")
from fake_robot import FakeRobot  # noqa: E402
from geometry_msgs.msg import PoseArray  # noqa: E402
from lifecycle_msgs.srv import GetState  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402

from oneshot_ros.data.storage import DemoReader  # noqa: E402
from oneshot_ros.nodes import conversions as conv  # noqa: E402

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
PROFILES = {"best_effort": qos_profile_sensor_data, "reliable": RELIABLE}


def robot_publishing(session, qos) -> FakeRobot:
    """FakeRobot whose /joint_states and /block_poses publishers use `qos`."""
    robot = FakeRobot(session)
    node = session.ros.node
    node.destroy_publisher(robot.joints)
    node.destroy_publisher(robot.poses)
    robot.joints = node.create_publisher(JointState, conv.JOINT_STATES_TOPIC, qos)
    robot.poses = node.create_publisher(PoseArray, conv.BLOCK_POSES_TOPIC, qos)
    return robot


@pytest.mark.parametrize("qos", PROFILES, ids=list(PROFILES))
def test_the_imitator_acts_on_sensor_inputs_of_either_reliability(ros_session, tiny_model,
                                                                   ab_demo_file, qos):
    ros_session.start("imitator", {"model": str(tiny_model), "demo_file": str(ab_demo_file)})
    ros_session.wait_for_service("/imitator/get_state", GetState)
    robot = robot_publishing(ros_session, PROFILES[qos])
    ros_session.lifecycle("imitator", "configure", "activate")
    ros_session.wait_until(lambda: (robot.run(0.25), len(robot.arm) >= 10)[1], 60,
                           f"10 commands answering {qos} sensor inputs")
    published = {round(t, 6) for t in robot.stamps}  # each answers a state it received
    assert all(round(conv.stamp_s(m.header.stamp), 6) in published for _, m in robot.arm)
    assert "rejected" not in ros_session.nodes.log("imitator")


def test_the_recorder_records_best_effort_sensor_inputs(ros_session, tmp_path):
    out = tmp_path / "demos.h5"
    ros_session.start("demo_recorder", {"task": "ab", "out": str(out)})
    ros_session.wait_for_service("/demo_recorder/stop_episode")
    robot = robot_publishing(ros_session, qos_profile_sensor_data)
    robot.run(1.0)  # discovery and a fresh state before the episode starts
    ok, message = ros_session.ros.trigger("/demo_recorder/start_episode")
    assert ok, message
    robot.run(1.0, command=True)  # ~20 commanded steps, each paired with the latest state
    ok, message = ros_session.ros.trigger("/demo_recorder/stop_episode")
    assert ok, message
    ros_session.nodes.stop("demo_recorder")  # it holds the file while it runs
    with DemoReader(out) as reader:
        assert len(reader) == 1 and reader[0].length >= 10
