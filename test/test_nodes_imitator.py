"""imitator as a real process with a tiny policy: activation, limits, stale hold, bad input,
missing model; and the full loop through `oneshot-ros ros-demo` (sim driver + imitator).
Its lifecycle transitions themselves: test_nodes_lifecycle.py."""

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("rclpy")
from fake_robot import NAN_JOINTS, PERIOD_S, FakeRobot  # noqa: E402
from policy_data import overflowing_model  # noqa: E402
from std_srvs.srv import SetBool  # noqa: E402

from oneshot_ros.nodes import conversions as conv  # noqa: E402
from oneshot_ros.world.robot import ARM_JOINTS, JOINT_LIMITS, READY_ARM  # noqa: E402

MAX_VELOCITY = 1.5


LOAD_TIMEOUT_S = 120.0  # configure loads torch, the model and the demo


def start_imitator(session, model, demo_file, configure: bool = True):
    """The imitator, configured (inactive: loaded, publishing nothing) unless configure=False."""
    session.start("imitator", {"model": str(model), "demo_file": str(demo_file),
                               "max_joint_velocity_rad_s": MAX_VELOCITY})
    session.wait_for_service("/imitator/activate", SetBool)
    robot = FakeRobot(session)
    if configure:
        ok, message = session.ros.change_state("imitator", "configure", LOAD_TIMEOUT_S)
        assert ok and "conditioned on" in session.nodes.log("imitator"), message
    return robot


def set_active(session, value: bool) -> tuple[bool, str]:
    """~/activate: true configures (when unconfigured, i.e. loads) and activates."""
    return session.ros.set_bool("/imitator/activate", value, LOAD_TIMEOUT_S)


def test_commands_only_after_activation_within_limits_and_stale_inputs_hold(
        ros_session, tiny_model, ab_demo_file):
    robot = start_imitator(ros_session, tiny_model, ab_demo_file)
    robot.run(1.0)
    assert not robot.arm and not robot.gripper  # inactive until ~/activate
    assert ros_session.ros.set_bool("/imitator/activate", True)[0]
    # states keep coming until 10 commands answered them: no wall-clock window (a loaded
    # machine only takes longer)
    ros_session.wait_until(lambda: (robot.run(0.25), len(robot.arm) >= 10)[1], 60,
                           "10 commands after activation")
    assert robot.gripper
    published = {round(t, 6) for t in robot.stamps}  # each command answers a state it got
    assert all(round(conv.stamp_s(m.header.stamp), 6) in published for _, m in robot.arm)
    q_measured = np.array(READY_ARM)
    for _, msg in robot.arm:
        q = conv.trajectory_points(msg)[0][-1]
        assert np.all(np.abs(q - q_measured) <= MAX_VELOCITY * PERIOD_S + 1e-9)
        for name, value in zip(ARM_JOINTS, q, strict=True):
            assert JOINT_LIMITS[name].lower <= value <= JOINT_LIMITS[name].upper
    assert all(0.0 <= m.data[0] <= 0.1 for _, m in robot.gripper)
    robot.run(1.5, blocks=None)  # /block_poses stops: after stale_timeout_s (0.5 s), hold
    n_arm = len(robot.arm)
    robot.run(1.0, blocks=None)
    assert len(robot.arm) == n_arm
    log = ros_session.nodes.log("imitator")
    assert log.count("no /block_poses for") == 1  # logged once, not every step
    robot.run(0.5, joints=NAN_JOINTS)
    assert "/joint_states rejected" in ros_session.nodes.log("imitator")
    ros_session.nodes.check_alive()


def test_a_missing_model_refuses_activation_in_one_line_and_loads_when_set(
        ros_session, tiny_model, ab_demo_file, tmp_path):
    start_imitator(ros_session, tmp_path / "missing", ab_demo_file, configure=False)
    ok, message = set_active(ros_session, True)  # configure fails: not activated
    assert not ok and "no policy" in message and "missing" in message
    ros_session.ros.spin_for(1.0)
    assert ros_session.nodes.log("imitator").count("no policy") == 1  # no retries of it
    assert ros_session.ros.get_state("imitator") == "unconfigured"
    ros_session.ros.set_params("imitator", {"model": str(tiny_model)})
    ok, message = set_active(ros_session, True)
    assert ok and ros_session.ros.get_state("imitator") == "active", message


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


def activate(session) -> None:
    ok, message = set_active(session, True)
    assert ok, message


def test_a_rejected_state_and_a_stale_gap_in_either_order_keep_the_imitator_up(
        ros_session, tiny_model, ab_demo_file):
    """rclpy (Kilted) raised from the deprecated `warn` once a throttled and an unthrottled
    warning had both been logged: one NaN /joint_states and a 0.5 s gap ended the node."""
    robot = start_imitator(ros_session, tiny_model, ab_demo_file)
    robot.run(0.5)
    activate(ros_session)
    robot.run(0.3, joints=NAN_JOINTS)  # rejected (throttled warning) ...
    robot.pause(1.0)  # ... then stale (a warning logged once)
    robot.run(0.5)
    robot.pause(1.0)  # and the other way round
    robot.run(0.3, joints=NAN_JOINTS)
    robot.run(0.5)
    ros_session.nodes.check_alive()
    n_arm = len(robot.arm)
    robot.run(0.5)
    assert len(robot.arm) > n_arm  # still commanding
    log = ros_session.nodes.log("imitator")
    assert "/joint_states rejected" in log and log.count("no /joint_states for") == 2


def broken_model(model, tmp_path):
    """A copy of `model` whose config.json has "policy": null."""
    import json
    import shutil

    broken = shutil.copytree(model, tmp_path / "policy_null")
    meta = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**meta, "policy": None}))
    return broken


def broken_demo_file(demo_file, path, edit):
    """A copy of `demo_file` changed by edit(h5py.File)."""
    import shutil

    import h5py

    shutil.copy(demo_file, path)
    with h5py.File(path, "a") as h5:
        edit(h5)
    return path


def test_broken_files_set_at_runtime_give_one_error_line_each_and_the_node_stays_up(
        ros_session, tiny_model, ab_demo_file, tmp_path):
    no_obs = broken_demo_file(ab_demo_file, tmp_path / "no_obs.h5",
                              lambda h5: h5["data/demo_0"].pop("obs"))
    too_many = broken_demo_file(ab_demo_file, tmp_path / "too_many.h5",
                                lambda h5: h5["data"].attrs.modify("n_demos", 3))
    start_imitator(ros_session, tiny_model, ab_demo_file)  # loaded: inactive
    assert ros_session.ros.change_state("imitator", "cleanup")[0]  # settable again
    settings = [{"model": str(broken_model(tiny_model, tmp_path))},
                {"model": str(tiny_model), "demo_file": str(no_obs)},
                {"demo_file": str(too_many)}]
    for k, params in enumerate(settings, start=1):
        ros_session.ros.set_params("imitator", params)
        ok, message = ros_session.ros.change_state("imitator", "configure", LOAD_TIMEOUT_S)
        log = ros_session.nodes.log("imitator")
        assert not ok and log.count("no policy") == 2 * k - 1, params  # one line a configure
        ok, message = set_active(ros_session, True)  # configures again: the same refusal
        assert not ok and "no policy" in message
        assert ros_session.nodes.log("imitator").count("no policy") == 2 * k
    with pytest.raises(ValueError, match="torch_threads out of range"):  # refused at the set
        ros_session.ros.set_params("imitator", {"demo_file": str(ab_demo_file),
                                                "torch_threads": 0})
    assert "Traceback" not in ros_session.nodes.log("imitator")
    ros_session.ros.set_params("imitator", {"demo_file": str(ab_demo_file)})
    ok, message = set_active(ros_session, True)
    assert ok, message


def test_non_finite_policy_outputs_send_no_command_and_the_node_stays_up(
        ros_session, ab_demo_file, tmp_path):
    """argmax over NaN logits picked an extreme bin: the arm moved at full speed."""
    model = overflowing_model(tmp_path / "overflowing")
    robot = start_imitator(ros_session, model, ab_demo_file)
    robot.run(0.5)
    activate(ros_session)
    robot.run(1.5)
    assert not robot.arm
    log = ros_session.nodes.log("imitator")
    assert 1 <= log.count("policy's outputs are NaN or inf") <= 2  # throttled: 2 s
    ros_session.nodes.check_alive()


def test_a_demo_file_still_being_written_is_retried_until_it_is_free(
        ros_session, tiny_model, ab_demo_file, tmp_path):
    """Started while a recorder held the file, the imitator said "try again" but never did."""
    import dataclasses
    import shutil

    from oneshot_ros.data.storage import DemoWriter
    from oneshot_ros.world.world_config import WorldConfig

    demo_file = shutil.copy(ab_demo_file, tmp_path / "recording.h5")
    writer = DemoWriter(demo_file, dataclasses.asdict(WorldConfig()))  # holds the file
    try:
        start_imitator(ros_session, tiny_model, demo_file, configure=False)
        ok, message = ros_session.ros.change_state("imitator", "configure", LOAD_TIMEOUT_S)
        assert not ok and "being written" in ros_session.nodes.log("imitator")
        ros_session.ros.spin_for(1.5)  # configured again three times, logged once
        assert ros_session.nodes.log("imitator").count("no policy") == 1
        assert ros_session.ros.get_state("imitator") == "unconfigured"
    finally:
        writer.close()
    ros_session.wait_until(lambda: "conditioned on" in ros_session.nodes.log("imitator"), 30,
                           "the retry after the writer closed the file")
    assert ros_session.ros.get_state("imitator") == "inactive"
