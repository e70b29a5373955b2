"""imitator as a real process with a tiny policy: activation, limits, stale hold, bad input,
missing model; and the full loop through `oneshot-ros ros-demo` (sim driver + imitator)."""

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("rclpy")
from geometry_msgs.msg import PoseArray  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402
from std_srvs.srv import SetBool  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from oneshot_ros.nodes import conversions as conv  # noqa: E402
from oneshot_ros.robot import (  # noqa: E402
    ARM_JOINTS,
    FINGER_JOINTS,
    JOINT_LIMITS,
    READY_ARM,
    TORSO_JOINT,
    TORSO_UP_M,
)

PERIOD_S = 0.05
MAX_VELOCITY = 1.5
JOINTS = {TORSO_JOINT: TORSO_UP_M, **dict(zip(ARM_JOINTS, READY_ARM, strict=True)),
          **dict.fromkeys(FINGER_JOINTS, 0.04), "head_pan_joint": 0.0}  # an extra joint
BLOCKS = np.array([[0.6, 0.1, 0.745], [0.55, -0.15, 0.745]])


class FakeRobot:
    """The test process plays the robot: joint states and block poses with advancing stamps."""

    def __init__(self, session):
        node, self.session, self.t = session.ros.node, session, 0.0
        self.joints = node.create_publisher(JointState, conv.JOINT_STATES_TOPIC, 10)
        self.poses = node.create_publisher(PoseArray, conv.BLOCK_POSES_TOPIC, 10)
        self.arm = session.ros.collect(conv.ARM_COMMAND_TOPIC, JointTrajectory)
        self.gripper = session.ros.collect(conv.GRIPPER_COMMAND_TOPIC, Float64MultiArray)

    def run(self, seconds: float, blocks: bool = True, joints: dict = JOINTS) -> None:
        for _ in range(int(seconds / PERIOD_S)):
            self.t += PERIOD_S
            stamp = conv.duration(self.t)
            if blocks:
                self.poses.publish(conv.pose_array(BLOCKS))
            msg = conv.joint_state(joints)
            msg.header.stamp.sec, msg.header.stamp.nanosec = stamp.sec, stamp.nanosec
            self.joints.publish(msg)
            self.session.ros.spin_for(PERIOD_S)


def start_imitator(session, model, demo_file):
    session.start("imitator", {"model": str(model), "demo_file": str(demo_file),
                               "max_joint_velocity_rad_s": MAX_VELOCITY})
    session.wait_for_service("/imitator/activate", SetBool)
    robot = FakeRobot(session)
    session.wait_until(lambda: "conditioned on" in session.nodes.log("imitator"), 60,
                       "the policy to load")
    return robot


def test_commands_only_after_activation_within_limits_and_stale_inputs_hold(
        ros_session, tiny_model, ab_demo_file):
    robot = start_imitator(ros_session, tiny_model, ab_demo_file)
    robot.run(1.0)
    assert not robot.arm and not robot.gripper  # inactive until ~/activate
    assert ros_session.ros.set_bool("/imitator/activate", True)[0]
    robot.run(1.5)
    assert len(robot.arm) >= 10 and robot.gripper
    q_measured = np.array(READY_ARM)
    for _, msg in robot.arm:
        q = conv.trajectory_points(msg)[0][-1]
        assert np.all(np.abs(q - q_measured) <= MAX_VELOCITY * PERIOD_S + 1e-9)
        for name, value in zip(ARM_JOINTS, q, strict=True):
            assert JOINT_LIMITS[name].lower <= value <= JOINT_LIMITS[name].upper
    assert all(0.0 <= m.data[0] <= 0.1 for _, m in robot.gripper)
    robot.run(1.5, blocks=False)  # /block_poses stops: after stale_timeout_s (0.5 s), hold
    n_arm = len(robot.arm)
    robot.run(1.0, blocks=False)
    assert len(robot.arm) == n_arm
    log = ros_session.nodes.log("imitator")
    assert log.count("no /block_poses for") == 1  # logged once, not every step
    robot.run(0.5, joints={**JOINTS, ARM_JOINTS[0]: float("nan")})
    assert "/joint_states rejected" in ros_session.nodes.log("imitator")
    ros_session.nodes.check_alive()


def test_missing_model_logs_once_stays_up_and_loads_when_set(ros_session, tiny_model,
                                                              ab_demo_file, tmp_path):
    ros_session.start("imitator", {"model": str(tmp_path / "missing"),
                                   "demo_file": str(ab_demo_file)})
    ros_session.wait_for_service("/imitator/activate", SetBool)
    ros_session.wait_until(lambda: "no policy" in ros_session.nodes.log("imitator"), 60,
                           "the load error")
    ros_session.ros.spin_for(1.5)
    assert ros_session.nodes.log("imitator").count("no policy") == 1
    ok, message = ros_session.ros.set_bool("/imitator/activate", True)
    assert not ok and "no policy" in message
    ros_session.ros.set_params("imitator", {"model": str(tiny_model)})
    ros_session.wait_until(lambda: ros_session.ros.set_bool("/imitator/activate", True)[0], 60,
                           "activation after the model is set")


def test_ros_demo_runs_the_loop_and_writes_json_and_video(tiny_model, tmp_path):
    video = tmp_path / "ros_demo.mp4"
    result = subprocess.run(
        [sys.executable, "-m", "oneshot_ros.cli", "ros-demo", "--model", str(tiny_model),
         "--task", "ab", "--episodes", "1", "--max-steps", "40", "--video", str(video),
         "--json"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["episodes"] == 1 and 0.0 <= summary["success_rate"] <= 1.0
    assert summary["per_episode"][0]["steps"] >= 40 and video.stat().st_size > 0


def test_ros_demo_without_a_model_fails_with_one_clear_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "oneshot_ros.cli", "ros-demo", "--model", str(tmp_path / "m")],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "oneshot-ros train" in result.stderr
