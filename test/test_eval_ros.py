"""`oneshot-ros eval --ros`: the eval protocol with each episode run through the sim_driver and
imitator processes; command timing is recorded, and episodes that missed periods are refused."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("rclpy")


def eval_cli(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "oneshot_ros.cli", "eval", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_eval_ros_runs_the_nodes_records_timing_and_resumes(tiny_model, tmp_path):
    out = tmp_path / "eval_ros"
    args = ["--ros", "--model", tiny_model, "--task", "ab", "--episodes", "1", "--max-steps",
            "30", "--no-demo-baseline", "--out", out, "--json"]
    result = eval_cli(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["episodes"] == 1 and summary["time_scale"] == 1.0
    assert summary["settings"]["execution"] == "ros"
    [record] = records(out / "episodes.jsonl")
    assert record["valid"] and record["missed_periods"] == 0 and record["late_commands"] == 0
    assert 30 <= record["steps"] <= 33 and record["commanded_periods"] >= 30  # horizon kept
    assert record["demo_seed"] >= 2**31  # the sim eval's demo and layout seeds
    again = eval_cli(*args)  # resumes: nothing left to run
    assert again.returncode == 0 and len(records(out / "episodes.jsonl")) == 1
    sim = eval_cli("--model", tiny_model, "--task", "ab", "--episodes", "1", "--out", out)
    assert sim.returncode == 2 and "other settings" in sim.stderr  # no mixing sim and ROS
    assert sim.stderr.strip().count("\n") == 0


def test_eval_ros_refuses_episodes_that_missed_control_periods(tiny_model, tmp_path):
    """An imitator at half the world's rate leaves every other period without a command."""
    out = tmp_path / "eval_ros_slow"
    result = eval_cli("--ros", "--model", tiny_model, "--task", "ab", "--episodes", "1",
                      "--max-steps", "20", "--no-demo-baseline", "--out", out,
                      "--imitator-param", "control_rate_hz=10.0", "--quiet")
    assert result.returncode == 2 and "missed control periods" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "--time-scale" in result.stderr
    assert not records(out / "episodes.jsonl")  # not counted ...
    [rejected] = records(out / "rejected.jsonl")  # ... but kept
    assert not rejected["valid"] and rejected["missed_periods"] >= 8


def test_eval_ros_with_a_bad_node_parameter_fails_in_one_line(tiny_model, tmp_path):
    result = eval_cli("--ros", "--model", tiny_model, "--task", "ab", "--out", tmp_path / "e",
                      "--imitator-param", "control_rate_hz=10", "--quiet")  # int for a double
    assert result.returncode == 2 and "control_rate_hz" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_eval_flags_that_need_ros_say_so(tiny_model, tmp_path):
    result = eval_cli("--model", tiny_model, "--task", "ab", "--out", tmp_path / "e",
                      "--imitator-param", "trajectory_periods=1.5")
    assert result.returncode == 2 and "needs --ros" in result.stderr
    result = eval_cli("--ros", "--model", tiny_model, "--task", "ab", "--out", tmp_path / "e",
                      "--videos", "1")
    assert result.returncode == 2 and "not available with --ros" in result.stderr
