"""Inputs that must never move the arm the wrong way, kill a node or lose a recording (real
processes): velocity-limit bursts, absurd finite readings, a second ~/start_episode, a video
path that cannot be written."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy")
from fake_robot import BLOCKS, JOINTS, FakeRobot  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from oneshot_ros.data.storage import DemoReader  # noqa: E402
from oneshot_ros.nodes import conversions as conv  # noqa: E402
from oneshot_ros.world.robot import ARM_JOINTS, HOME_ARM, JOINT_LIMITS  # noqa: E402

VELOCITY_LIMITS = np.array([JOINT_LIMITS[name].velocity for name in ARM_JOINTS])


def test_a_reversing_burst_stays_within_every_joint_velocity_limit(ros_session):
    """200 one-point trajectories 2 ms apart, q0 -/+ 1 rad: elbow_flex reached 1.1-1.66x its
    limit (the setpoint may lead the arm so far that PyBullet's servo outruns the limit)."""
    states = ros_session.ros.collect(conv.JOINT_STATES_TOPIC, JointState)
    arm = ros_session.ros.node.create_publisher(JointTrajectory, conv.ARM_COMMAND_TOPIC, 10)
    ros_session.start("sim_driver", {"task": "ab cd", "seed": 7})  # real time
    ros_session.wait_for_service("/sim_driver/status")
    ros_session.ros.spin_for(0.5)
    first = len(states)
    for _burst in range(2):
        for k in range(200):
            arm.publish(conv.arm_trajectory(np.array(HOME_ARM) + (1.0 if k % 2 else -1.0),
                                            0.01))
            ros_session.ros.spin_for(0.002)
        ros_session.ros.spin_for(0.5)
    by_name = [dict(zip(msg.name, msg.velocity, strict=True)) for _, msg in states[first:]]
    velocities = np.array([[v[name] for name in ARM_JOINTS] for v in by_name])  # (K, 7)
    assert len(velocities) > 20
    ratio = np.abs(velocities).max(axis=0) / VELOCITY_LIMITS
    assert ratio.max() <= 1.0, dict(zip(ARM_JOINTS, ratio.round(2), strict=True))
    assert ratio.max() > 0.4  # the burst did move the arm


def test_an_absurd_joint_reading_commands_nothing(ros_session):
    """shoulder_lift = 1e6 (the arm at -0.84) made the imitator command a 2.36 rad jump."""
    ros_session.start("scripted_expert", {"task": "ab"})
    robot = FakeRobot(ros_session)
    ros_session.wait_until(lambda: (robot.run(0.2), robot.arm)[1], 60, "expert commands")
    absurd = {**JOINTS, "shoulder_lift_joint": 1e6}
    robot.run(0.5)
    n = len(robot.arm)
    robot.run(1.0, joints=absurd)
    assert len(robot.arm) <= n + 2  # at most the commands already in flight
    n = len(robot.arm)
    robot.run(1.0, blocks=BLOCKS + [[3e38, 0, 0], [0, 0, 0]])  # a block at 3e38 m: stale
    assert len(robot.arm) <= n + 12  # commands stop once the last good poses go stale
    log = ros_session.nodes.log("scripted_expert")
    assert "shoulder_lift_joint reads 1e+06" in log and "a block pose has x = 3e+38" in log
    ros_session.nodes.check_alive()


def test_a_second_start_episode_keeps_the_episode_in_flight(ros_session, tmp_path):
    out = tmp_path / "demos.h5"
    ros_session.start("demo_recorder", {"task": "ab", "out": str(out)})
    ros_session.wait_for_service("/demo_recorder/stop_episode")
    robot = FakeRobot(ros_session)
    ok, _ = ros_session.ros.trigger("/demo_recorder/start_episode")
    robot.run(1.0, command=True)  # 20 recorded steps
    ok, message = ros_session.ros.trigger("/demo_recorder/start_episode")
    assert not ok and "already recording" in message and "stop_episode" in message
    robot.run(0.5, command=True)
    ok, message = ros_session.ros.trigger("/demo_recorder/stop_episode")
    assert ok, message
    ros_session.nodes.stop("demo_recorder")  # it holds the file while it runs
    with DemoReader(out) as reader:
        assert len(reader) == 1 and reader[0].length >= 25  # the first start's steps kept


def test_save_video_into_an_unwritable_path_is_an_error_reply(ros_session, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a regular file, not a directory")
    ros_session.start("sim_driver", {"task": "ab", "real_time": False, "time_scale": 3.0,
                                     "video_path": str(blocker / "video.mp4")})
    ros_session.wait_for_service("/sim_driver/status")
    ros_session.wait_steps(10)
    ok, message = ros_session.ros.trigger("/sim_driver/save_video")
    assert not ok and "could not write" in message
    ros_session.nodes.check_alive()
    video = tmp_path / "video.mp4"
    ros_session.ros.set_params("sim_driver", {"video_path": str(video)})
    ok, message = ros_session.ros.trigger("/sim_driver/save_video")  # the frames were kept
    assert ok and video.stat().st_size > 0, message
