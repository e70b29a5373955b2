"""Latency compensation (world/command_prediction.py) in the real PyBullet world with Pinocchio
kinematics: what the prediction moves, why it is stable under command latency, the scripted
demonstrator's speed with it, exact replay, and the eval switch."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json

import numpy as np
import pytest

from oneshot_ros import cli
from oneshot_ros.demos.demonstrator import ScriptedStacker, run_episode
from oneshot_ros.demos.episode_loop import controller_scene
from oneshot_ros.demos.replay import replay
from oneshot_ros.sim.env import StackingEnv
from oneshot_ros.world.command_prediction import observation, predict_scene
from oneshot_ros.world.grasp import GRASP_OFFSET_M, Scene, held_block
from oneshot_ros.world.world_config import WorldConfig

LATE = WorldConfig(command_latency_periods=1.0)  # 50 ms: a command lands one period late


@pytest.fixture(scope="module")
def late_env():
    env = StackingEnv(LATE)
    yield env
    env.close()


@pytest.fixture(scope="module")
def nominal_env():
    env = StackingEnv()
    yield env
    env.close()


# --- what the prediction moves ---------------------------------------------------------------
def _carrying(env) -> Scene:
    """Run the compensated demonstrator on "ab" until it carries block a with the arm lagging
    its command by > 5 mm; returns the measured scene there."""
    env.reset("ab", 1)
    expert = ScriptedStacker("ab", env.config, noise_std=0.0)
    for _ in range(env.horizon):
        measured = controller_scene(env, compensate=False)
        lag = np.linalg.norm(env.commanded_gripper_position() - measured.gripper)
        if expert.phase in ("lift", "carry") and held_block(measured, env.config) == 0 \
                and lag > 0.005:
            return measured
        scene = controller_scene(env, compensate=True)
        env.step(expert.act(scene.gripper, scene.fingers, scene.blocks)[0], from_command=True)
    raise AssertionError("the demonstrator never carried block a with its command ahead")


def test_free_blocks_stay_and_the_held_block_rides_with_the_commanded_gripper(late_env):
    measured = _carrying(late_env)
    predicted = controller_scene(late_env, compensate=True)
    shift = late_env.commanded_gripper_position() - measured.gripper  # (3,), > 5 mm
    assert np.allclose(predicted.gripper, measured.gripper + shift)
    assert np.allclose(predicted.blocks[1], measured.blocks[1])  # free: where it is
    assert np.allclose(predicted.blocks[0], measured.blocks[0] + shift)  # held: in the hand
    obs, seen = late_env.observation(), observation(predicted)  # (3B+2,) each
    assert np.allclose(seen[3:6], obs[3:6] - shift, atol=1e-6)  # relative: free one shifts
    assert np.allclose(seen[0:3], obs[0:3], atol=1e-6)  # the held one keeps its grasp offset
    assert np.array_equal(seen[6:], obs[6:])  # fingers: measured


def test_an_open_command_in_flight_lets_the_held_block_go_and_reads_open():
    config = WorldConfig()
    gripper = np.array([0.6, 0.0, 0.80])
    blocks = np.array([gripper - [0, 0, GRASP_OFFSET_M], [0.5, 0.2, 0.745]])  # a in the hand
    measured = Scene(gripper, np.array([0.025, 0.025]), blocks)  # closed on a 5 cm cube
    up = gripper + [0.0, 0.0, 0.02]
    closed = predict_scene(measured, up, 0.0, config)
    opening = predict_scene(measured, up, config.open_gap_m, config)
    assert np.allclose(closed.blocks[0], blocks[0] + [0, 0, 0.02])
    assert np.array_equal(closed.fingers, measured.fingers)  # where a close stops: measured
    assert np.allclose(opening.blocks, blocks)  # released: stays on its support
    assert np.allclose(opening.fingers, config.open_gap_m / 2)  # and the fingers read open
    assert np.allclose(measured.blocks, blocks)  # the measured scene is not modified


@pytest.mark.parametrize("commanded, gap, problem", [
    ([0.6, np.nan, 0.8], 0.0, "commanded_gripper"),
    ([0.6, 0.0], 0.0, "commanded_gripper"),
    ([0.6, 0.0, 0.8], np.nan, "commanded_gap_m"),
])
def test_bad_prediction_input_is_one_line_naming_the_fix(commanded, gap, problem):
    measured = Scene(np.zeros(3), np.zeros(2), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=problem) as err:
        predict_scene(measured, commanded, gap, WorldConfig())
    assert "\n" not in str(err.value) and "pass" in str(err.value)


# --- stability under latency -------------------------------------------------------------------
def _approach(env, scheme: str, steps: int = 30) -> np.ndarray:
    """x error (m) of the measured gripper after each step of a gain-1 move to 10 cm ahead.

    measured: displace the measured gripper; predicted: act on and displace the command;
    naive: the measured error added to the last command (integral action under delay)."""
    env.reset("ab", 0)
    goal = env.gripper_position() + [0.10, 0.0, 0.0]
    errors = []
    for _ in range(steps):
        seen = controller_scene(env, scheme == "predicted").gripper
        move = np.clip(goal - seen, -0.012, 0.012)  # (3,), the demonstrator's speed
        env.step([*move, 1.0], from_command=scheme != "measured")
        errors.append(env.gripper_position()[0] - goal[0])
    return np.array(errors)


def test_predicting_the_command_is_stable_where_integrating_measured_errors_oscillates(late_env):
    predicted = _approach(late_env, "predicted")
    naive = _approach(late_env, "naive")
    measured = _approach(late_env, "measured")
    assert predicted.max() < 0.001 and abs(predicted[-10:]).max() < 0.001  # no overshoot
    assert naive[-10:].max() > 0.005 and naive[-10:].min() < -0.005  # a limit cycle
    steps_to_1cm = {name: int(np.argmax(errors > -0.01)) for name, errors in
                    (("predicted", predicted), ("measured", measured))}
    assert steps_to_1cm["measured"] > 1.6 * steps_to_1cm["predicted"], steps_to_1cm


# --- the demonstrator: as fast at 50 ms latency as without -------------------------------------
def test_compensated_demonstrator_is_as_fast_at_50_ms_as_at_none(late_env, nominal_env):
    slow = run_episode(late_env, "ab cd", 0, noise=0.002)
    late = run_episode(late_env, "ab cd", 0, noise=0.002, compensate=True)
    prompt = run_episode(nominal_env, "ab cd", 0, noise=0.002, compensate=True)
    assert late.success and prompt.success
    assert late.length < 0.6 * slow.length, (late.length, slow.length)  # ~1/(L+1) without
    assert abs(late.length - prompt.length) <= 0.05 * prompt.length, (late.length,
                                                                       prompt.length)


def test_without_latency_it_keeps_success_and_removes_only_the_servos_lag(nominal_env):
    """PyBullet's position servo reaches ~73 % of a step's target within the period (4 mm
    behind at full speed): compensating displaces the command, so the arm moves at the full
    commanded speed and the commanded-measured gap stays that lag."""
    gaps = []

    def gap(env):
        gaps.append(np.linalg.norm(env.commanded_gripper_position() - env.gripper_position()))

    plain = run_episode(nominal_env, "ab cd", 0, noise=0.002)
    compensated = run_episode(nominal_env, "ab cd", 0, noise=0.002, on_step=gap,
                              compensate=True)
    assert plain.success and compensated.success
    assert 0.6 * plain.length < compensated.length < plain.length
    assert max(gaps) < 0.008  # one servo lag at full speed (~6 mm), never a period's move more


def test_a_compensated_demonstration_replays_exactly_with_compensation(late_env):
    episode = run_episode(late_env, "ab", 2, noise=0.002, compensate=True)
    world = dataclasses.asdict(LATE)
    assert replay(episode, world, compensate=True) == 0.0
    assert replay(episode, world) > 0.005  # stepped from the measured joints: another episode


# --- oneshot-ros eval --latency-compensation ---------------------------------------------------
def _eval(model, out, *extra) -> tuple[int, str]:
    argv = ["eval", "--model", str(model), "--task", "ab", "--episodes", "1", "--out", str(out),
            "--max-steps", "5", "--workers", "1", "--quiet", "--no-demo-baseline",
            "--world", "command_latency_periods=1", *extra]
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        code = cli.main(argv)
    return code, stderr.getvalue()


def test_eval_switch_is_recorded_and_a_resume_must_match_it(tiny_model, tmp_path):
    out = tmp_path / "run"
    code, stderr = _eval(tiny_model, out, "--latency-compensation")
    assert code == 0, stderr
    assert json.loads((out / "settings.json").read_text())["latency_compensation"] is True
    record = json.loads((out / "episodes.jsonl").read_text())
    assert record["demo_seed"] is not None  # the compensated demonstrator made the demo
    code, stderr = _eval(tiny_model, out, "--episodes", "2")  # the flag left out
    assert code == 2 and "other settings (latency_compensation)" in stderr


def test_eval_refuses_the_switch_as_an_imitator_param_in_one_line(tiny_model, tmp_path, capsys):
    from cli_checks import one_line_error

    one_line_error(capsys, ["eval", "--model", tiny_model, "--task", "ab", "--out",
                            tmp_path / "run", "--ros", "--imitator-param",
                            "latency_compensation=true"], "use --latency-compensation")
