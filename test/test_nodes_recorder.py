"""sim_driver + scripted_expert + demo_recorder as real processes, and `oneshot-ros ros-record`."""

import dataclasses
import json
import signal
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("rclpy")
from fake_robot import BLOCKS, NAN_JOINTS, PERIOD_S, FakeRobot  # noqa: E402

from oneshot_ros.data.storage import DemoReader  # noqa: E402
from oneshot_ros.world.robot import ObsLayout  # noqa: E402
from oneshot_ros.world.world_config import WorldConfig  # noqa: E402


def test_ros_record_succeeds_on_ab_and_writes_the_collect_format(tmp_path):
    out = tmp_path / "ros.h5"
    result = subprocess.run(
        [sys.executable, "-m", "oneshot_ros.cli", "ros-record", "--task", "ab", "--episodes",
         "1", "--out", str(out), "--json"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["successes"] == 1, summary
    with DemoReader(out) as reader:
        episode = reader[0]
        assert reader.world_config == json.loads(json.dumps(dataclasses.asdict(WorldConfig())))
    assert episode.success and episode.source == "ros" and episode.stage_ends
    assert episode.obs.shape == (episode.length, ObsLayout(2).dim)
    assert np.all(np.abs(episode.actions[:, :3]) <= WorldConfig().max_step_m + 1e-6)


def test_recorder_keeps_earlier_episodes_when_killed(ros_session, tmp_path):
    out = tmp_path / "demos.h5"
    ros_session.start("sim_driver", {"task": "ab", "seed": 3, "real_time": False,
                                     "time_scale": 3.0})
    ros_session.start("scripted_expert", {"task": "ab"})
    ros_session.start("demo_recorder", {"task": "ab", "seed": 3, "out": str(out)})
    ros_session.wait_for_service("/sim_driver/status")
    ros_session.wait_for_service("/demo_recorder/stop_episode")
    ros_session.ros.trigger("/demo_recorder/start_episode")
    ros_session.wait_steps(ros_session.status()["step"] + 30)
    ok, message = ros_session.ros.trigger("/demo_recorder/stop_episode")
    assert ok, message
    ros_session.ros.trigger("/demo_recorder/start_episode")  # the episode in flight ...
    ros_session.wait_steps(ros_session.status()["step"] + 20)
    ros_session.nodes.procs["demo_recorder"].send_signal(signal.SIGKILL)  # ... is lost
    ros_session.nodes.procs["demo_recorder"].wait(10)
    with DemoReader(out) as reader:
        assert len(reader) == 1
        episode = reader[0]
    assert episode.task == "ab" and episode.seed == 3 and episode.length >= 20
    assert np.all(np.isfinite(episode.obs))


def start_recorder(session, out):
    session.start("demo_recorder", {"task": "ab", "out": str(out), "auto_start": True})
    session.wait_for_service("/demo_recorder/stop_episode")
    return FakeRobot(session)


def stop_and_read(session, out):
    ok, message = session.ros.trigger("/demo_recorder/stop_episode")
    assert ok, message
    session.nodes.check_alive()
    session.nodes.stop("demo_recorder")  # releases the file
    with DemoReader(out) as reader:
        assert len(reader) == 1
        return reader[0]


def test_recorder_survives_a_rejected_state_and_stale_inputs_in_either_order(ros_session,
                                                                           tmp_path):
    """rclpy (Kilted) raised from the deprecated `warn` once a throttled and an unthrottled
    warning had both been logged: the recorder exited and lost the episode in flight."""
    out = tmp_path / "demos.h5"
    robot = start_recorder(ros_session, out)
    robot.run(0.5, command=True)
    robot.run(0.3, joints=NAN_JOINTS, command=True)  # rejected (throttled warning) ...
    robot.pause(1.0)
    robot.command()  # ... then a command on stale inputs (a warning logged once)
    robot.run(0.5, command=True)
    robot.pause(1.0)
    robot.command()  # and the other way round
    robot.run(0.3, joints=NAN_JOINTS, command=True)
    robot.run(0.5, command=True)
    log = ros_session.nodes.log("demo_recorder")
    # >= 2: a loaded machine may also log a stale start before the first state arrives
    assert "/joint_states rejected" in log and log.count("no /joint_states for") >= 2
    assert stop_and_read(ros_session, out).length >= 10


def test_recorder_rejects_block_poses_of_another_count_and_keeps_the_episode(ros_session,
                                                                            tmp_path):
    """One pose for the 2 blocks of "ab" ended the recorder in the success check (three
    would have mixed observation widths in one episode)."""
    out = tmp_path / "demos.h5"
    robot = start_recorder(ros_session, out)
    robot.run(0.5, command=True)
    robot.run(0.3, blocks=BLOCKS[:1], command=True)
    robot.run(2.0, command=True)  # past the 2 s throttle of the rejection warning
    robot.run(0.3, blocks=np.vstack([BLOCKS, [[0.5, 0.0, 0.745]]]), command=True)
    robot.run(0.5, command=True)
    log = ros_session.nodes.log("demo_recorder")
    for n_poses in (1, 3):
        assert f"/block_poses rejected: PoseArray has {n_poses} poses; the task has 2" in log
    episode = stop_and_read(ros_session, out)
    assert episode.length >= 10 and episode.obs.shape[1] == ObsLayout(2).dim


def test_scripted_expert_survives_a_rejected_state_and_stale_inputs(ros_session):
    ros_session.start("scripted_expert", {"task": "ab"})
    robot = FakeRobot(ros_session)
    ros_session.wait_until(lambda: "scripted expert for" in ros_session.nodes.log(
        "scripted_expert"), 60, "the expert to start")
    robot.run(0.5)
    robot.run(0.3, joints=NAN_JOINTS)
    robot.pause(2.0)  # the expert's 0.5 s stale timer gets several chances on a loaded machine
    robot.run(0.5)
    ros_session.nodes.check_alive()
    n_arm = len(robot.arm)
    for _ in range(20):  # still commanding: within 0.5 s when idle, allow 10 s on a loaded CI
        robot.run(0.5)
        if len(robot.arm) > n_arm:
            break
    assert len(robot.arm) > n_arm

    def logged():
        log = ros_session.nodes.log("scripted_expert")
        return "/joint_states rejected" in log and "no /joint_states for" in log

    try:  # the lines may reach the log file after the commands on a loaded machine
        ros_session.wait_until(logged, 10, "the rejection and stale lines")
    except TimeoutError as err:
        raise AssertionError(ros_session.nodes.log("scripted_expert")[-1500:]) from err


def test_a_failed_write_keeps_the_episode_until_out_names_a_writable_file(ros_session,
                                                                         tmp_path):
    """The error line used the same logging call site as the info lines: rclpy raised on the
    changed severity and the recorder exited with the episode."""
    foreign = tmp_path / "notes.h5"
    foreign.write_text("not a demonstration file")
    robot = start_recorder(ros_session, foreign)
    robot.run(0.5, command=True)
    ok, message = ros_session.ros.trigger("/demo_recorder/stop_episode")
    assert not ok and "the episode is kept" in message
    ros_session.nodes.check_alive()
    out = tmp_path / "demos.h5"
    ros_session.ros.set_params("demo_recorder", {"out": str(out)})
    assert stop_and_read(ros_session, out).length >= 5
    assert foreign.read_text() == "not a demonstration file"


@pytest.mark.parametrize("use_sim_time", [True, False])
def test_teleop_steps_follow_the_sim_clock_with_use_sim_time(ros_session, tmp_path,
                                                             use_sim_time):
    """With the sim 3x faster than real time, a wall-time teleop timer spanned 3 sim steps per
    recorded step; on /clock it sends one command per sim control step. Without use_sim_time
    the node says once how to get that."""
    from geometry_msgs.msg import Twist
    from trajectory_msgs.msg import JointTrajectory

    from oneshot_ros.nodes import conversions as conv

    ros_session.start("sim_driver", {"task": "ab", "seed": 3, "real_time": False,
                                     "time_scale": 3.0})
    ros_session.start("demo_recorder", {"task": "ab", "out": str(tmp_path / "demos.h5"),
                                        "use_sim_time": use_sim_time})
    ros_session.wait_for_service("/sim_driver/status")
    ros_session.wait_for_service("/demo_recorder/stop_episode")
    commands = ros_session.ros.collect(conv.ARM_COMMAND_TOPIC, JointTrajectory)
    teleop = ros_session.ros.node.create_publisher(Twist, "/cmd_vel", 10)
    twist = Twist()
    twist.linear.z = 0.05  # up, slowly

    def drive(seconds):
        for _ in range(int(seconds / 0.05)):
            teleop.publish(twist)
            ros_session.ros.spin_for(0.05)

    drive(1.0)  # the first commands flow
    start_step, start_commands = ros_session.status()["step"], len(commands)
    ros_session.wait_until(lambda: (drive(0.25), ros_session.status()["step"] - start_step
                                    > 60)[1], 60, "60 sim steps of teleop")  # no wall window
    sim_steps = ros_session.status()["step"] - start_step
    sent = len(commands) - start_commands
    hints = ros_session.nodes.log("demo_recorder").count("start this node with use_sim_time:=true")
    if use_sim_time:
        assert 0.8 * sim_steps <= sent <= 1.2 * sim_steps and hints == 0, (sent, sim_steps)
    else:
        assert sent < 0.5 * sim_steps and hints == 1, (sent, sim_steps)
    ros_session.nodes.check_alive()


def test_keyboard_teleop_taps_and_pauses_are_all_recorded(ros_session, tmp_path):
    """teleop_twist_keyboard publishes once per key press: a tap moves the arm for 0.5 s and
    the pause after it is recorded as still steps (they used to vanish from the demo)."""
    from geometry_msgs.msg import Twist

    out = tmp_path / "demos.h5"
    robot = start_recorder(ros_session, out)
    keyboard = ros_session.ros.node.create_publisher(Twist, "/cmd_vel", 10)
    robot.run(0.5)  # inputs fresh; nothing recorded before the first key
    up, close = Twist(), Twist()
    up.linear.z, close.angular.z = 0.1, -1.0  # keys 't' and 'l' of teleop_twist_keyboard
    keyboard.publish(up)
    robot.run(1.5)
    keyboard.publish(close)
    robot.run(1.0)
    episode = stop_and_read(ros_session, out)
    assert episode.length >= 0.8 * 2.5 / PERIOD_S, episode.length  # every period from the tap
    moving = np.flatnonzero(episode.actions[:, 2] > 1e-3)
    assert 5 <= len(moving) <= 0.6 / PERIOD_S  # the tap's twist held for 0.5 s, not longer
    assert episode.actions[-1, 3] == WorldConfig().action_layout.CLOSE
    assert np.all(np.abs(episode.actions[moving[-1] + 1:, :3]) < 1e-3)  # still steps
