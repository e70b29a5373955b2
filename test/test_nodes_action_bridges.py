"""Real-arm bridges as real processes: a clear exit without control_msgs, goals with it.

control_msgs has no PyPI wheel, so on this machine only the first test runs; the round trips
run wherever control_msgs is installed (a ROS 2 install: apt install ros-<distro>-control-msgs).
"""

import importlib.util
import subprocess

import numpy as np
import pytest

pytest.importorskip("rclpy")
from std_msgs.msg import Float64MultiArray  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from oneshot_ros.nodes import conversions as conv  # noqa: E402
from oneshot_ros.nodes.launcher import (  # noqa: E402
    node_command,
    ros_environment,
    unique_domain_id,
)
from oneshot_ros.world.robot import READY_ARM  # noqa: E402

BRIDGES = ["gripper_action_bridge", "trajectory_action_bridge"]
HAS_CONTROL_MSGS = importlib.util.find_spec("control_msgs") is not None


@pytest.mark.skipif(HAS_CONTROL_MSGS, reason="control_msgs is installed here")
@pytest.mark.parametrize("name", BRIDGES)
def test_without_control_msgs_the_bridge_exits_with_one_line_naming_the_package(name):
    env = {**ros_environment(unique_domain_id()), "ROS_DISTRO": "kilted"}
    result = subprocess.run(node_command(name, {}), env=env, capture_output=True, text=True,
                            timeout=60)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 1, output
    assert "Traceback" not in output and len(output.splitlines()) == 1, output
    assert "apt install ros-kilted-control-msgs" in output and name in output


def serve(ros, action_type, action_name: str) -> list:
    """An action server in the test process that accepts, records and succeeds every goal."""
    from rclpy.action import ActionServer

    goals = []

    def execute(goal_handle):
        goals.append(goal_handle.request)
        goal_handle.succeed()
        return action_type.Result()

    ros.server = ActionServer(ros.node, action_type, action_name, execute)  # keep a reference
    return goals


def publish_until(ros, publisher, msg, goals, count: int, timeout_s: float = 30.0) -> None:
    """Publish msg every 50 ms (the bridge drops it until it sees the server) until `count`."""
    def published_and_done():
        publisher.publish(msg)
        ros.spin_for(0.05)
        return len(goals) >= count

    ros.wait_for(published_and_done, timeout_s, f"{count} goal(s)")


@pytest.mark.parametrize("kind, scale", [("gripper_command", 1.0),
                                         ("parallel_gripper_command", 0.5)])
def test_gap_commands_become_one_gripper_goal_per_change(ros_session, kind, scale):
    pytest.importorskip("control_msgs")
    from control_msgs.action import GripperCommand, ParallelGripperCommand

    action = GripperCommand if kind == "gripper_command" else ParallelGripperCommand
    ros = ros_session.ros
    goals = serve(ros, action, "/test_gripper/action")
    ros_session.start("gripper_action_bridge", {"action_type": kind, "position_scale": scale,
                                                "action_name": "/test_gripper/action"})
    gripper = ros.node.create_publisher(Float64MultiArray, conv.GRIPPER_COMMAND_TOPIC, 10)
    publish_until(ros, gripper, conv.gripper_command(0.1), goals, 1)
    publish_until(ros, gripper, conv.gripper_command(0.0), goals, 2)
    ros.spin_for(0.5)  # repeats of the same gap send no further goals
    positions = [g.command.position if kind == "gripper_command" else g.command.position[0]
                 for g in goals]
    np.testing.assert_allclose(positions, [0.1 * scale, 0.0])
    ros_session.nodes.check_alive()


def test_streamed_trajectories_become_follow_joint_trajectory_goals(ros_session):
    pytest.importorskip("control_msgs")
    from control_msgs.action import FollowJointTrajectory

    ros = ros_session.ros
    goals = serve(ros, FollowJointTrajectory, "/test_arm/follow_joint_trajectory")
    ros_session.start("trajectory_action_bridge",
                      {"action_name": "/test_arm/follow_joint_trajectory"})
    arm = ros.node.create_publisher(JointTrajectory, conv.ARM_COMMAND_TOPIC, 10)
    publish_until(ros, arm, conv.arm_trajectory(np.array(READY_ARM), 0.05), goals, 1)
    positions, _ = conv.trajectory_points(goals[0].trajectory)
    np.testing.assert_allclose(positions[-1], READY_ARM)
    ros_session.nodes.check_alive()
