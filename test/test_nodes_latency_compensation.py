"""latency_compensation in the commanding nodes, as real processes on their own ROS_DOMAIN_ID:
declared (read once), and the commands move on from the last command, not the measured arm.

The test process plays an arm that never moves (FakeRobot: READY_ARM every period), the
extreme of a late command: without compensation every command is one action from the
measured gripper; with it each one goes on from the last, until the velocity clamp (from the
measured joints) stops it."""

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("rclpy")
from fake_robot import FakeRobot  # noqa: E402
from rcl_interfaces.srv import GetParameters  # noqa: E402
from std_srvs.srv import SetBool  # noqa: E402

from oneshot_ros.nodes import conversions as conv  # noqa: E402
from oneshot_ros.world.kinematics import FetchKinematics  # noqa: E402
from oneshot_ros.world.robot import READY_ARM, TORSO_UP_M  # noqa: E402

LOAD_TIMEOUT_S = 120.0  # configure loads torch, the model and the demo
EXPERT_STEP_M = 0.8 * 0.015  # the scripted expert's longest move per action (m)


def _parameter(session, node: str, name: str):
    response = session.ros.call(f"/{node}/get_parameters", GetParameters,
                                GetParameters.Request(names=[name]))
    return response.values[0].bool_value


def _reach_m(commands, start: int = 0) -> float:
    """Largest distance (m) of a commanded gripper from the measured (READY_ARM) one."""
    kin = FetchKinematics()
    measured = kin.fk(np.array(READY_ARM), TORSO_UP_M)[0]
    targets = [conv.trajectory_points(msg)[0][-1] for _, msg in commands[start:]]
    return max(float(np.linalg.norm(kin.fk(q, TORSO_UP_M)[0] - measured)) for q in targets)


def _commands_from(session, robot, n: int) -> int:
    """Play the frozen arm until `n` more arm commands came; returns where they start."""
    start = len(robot.arm)
    session.wait_until(lambda: (robot.run(0.25), len(robot.arm) >= start + n)[1], 60,
                       f"{n} arm commands")
    return start


def test_scripted_expert_moves_on_from_its_last_command_only_when_compensating(ros_session):
    reach = {}
    for compensate in (False, True):
        ros_session.start("scripted_expert", {"task": "ab", "latency_compensation": compensate})
        ros_session.wait_for_service("/scripted_expert/get_parameters", GetParameters)
        assert _parameter(ros_session, "scripted_expert", "latency_compensation") is compensate
        robot = FakeRobot(ros_session)
        start = _commands_from(ros_session, robot, 12)
        reach[compensate] = _reach_m(robot.arm, start)
        ros_session.nodes.check_alive()
        ros_session.nodes.stop("scripted_expert")
    assert reach[False] <= EXPERT_STEP_M + 0.001, reach  # one action from the measured arm
    assert reach[True] > 2 * EXPERT_STEP_M, reach  # actions added up on the last command


def test_imitator_declares_latency_compensation_read_once_and_runs_with_it(
        ros_session, tiny_model, ab_demo_file):
    ros_session.start("imitator", {"model": str(tiny_model), "demo_file": str(ab_demo_file),
                                   "latency_compensation": True})
    ros_session.wait_for_service("/imitator/activate", SetBool)
    assert _parameter(ros_session, "imitator", "latency_compensation") is True
    with pytest.raises(ValueError, match="refused"):  # read once: a runtime set would be lost
        ros_session.ros.set_params("imitator", {"latency_compensation": False})
    robot = FakeRobot(ros_session)
    ok, message = ros_session.ros.set_bool("/imitator/activate", True, LOAD_TIMEOUT_S)
    assert ok, message
    start = _commands_from(ros_session, robot, 10)
    # an untrained policy: no direction to test, but commands flow, finite, near the arm
    assert robot.gripper and _reach_m(robot.arm, start) < 0.2
    ros_session.nodes.check_alive()
    assert "Traceback" not in ros_session.nodes.log("imitator")


def test_eval_ros_passes_the_switch_to_the_imitator(tiny_model, tmp_path):
    """--ros --latency-compensation: compensated demos here, the parameter on the node."""
    out = tmp_path / "eval_ros"
    result = subprocess.run(
        [sys.executable, "-m", "oneshot_ros.cli", "eval", "--ros", "--latency-compensation",
         "--model", str(tiny_model), "--task", "ab", "--episodes", "1", "--max-steps", "20",
         "--no-demo-baseline", "--world", "command_latency_periods=1", "--time-scale", "0.5",
         "--out", str(out), "--json"], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    settings = json.loads(result.stdout)["settings"]
    assert settings["latency_compensation"] is True
    assert settings["imitator_params"] == {"latency_compensation": True}
    [record] = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert record["valid"] and 20 <= record["steps"] <= 23
