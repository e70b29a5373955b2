"""Human-style demonstrations: a teleoperator's timing over the scripted demonstrator."""

import json
import subprocess
import sys

import numpy as np
import pytest

from oneshot_ros.demos.demonstrator import run_episode
from oneshot_ros.demos.human_style import KEY_DELAY_STEPS, SPEED_RANGE, HumanStyle
from oneshot_ros.world.world_config import WorldConfig

CONFIG = WorldConfig()
FAST = np.array([0.012, 0.0, 0.0, 1.0])  # a traverse, gripper open


def test_moves_are_slower_held_and_paused_never_faster():
    style = HumanStyle(CONFIG, np.random.default_rng(0))
    moves = np.array([style(FAST)[0] for _ in range(2000)])
    assert np.all(moves <= SPEED_RANGE[1] * FAST[0] + 1e-12)  # never faster than 80 %
    moving = moves[moves > 0]
    assert SPEED_RANGE[0] * FAST[0] - 1e-12 <= moving.min()
    assert len(np.unique(np.round(moving, 9))) >= 5  # the speed changes over time
    assert 0.02 < np.mean(moves == 0) < 0.4  # pauses


def test_the_gripper_is_a_key_press_after_stopping():
    style = HumanStyle(CONFIG, np.random.default_rng(1))
    style(FAST)
    close = np.array([0.0, 0.0, 0.0, -1.0])
    out = [style(close) for _ in range(KEY_DELAY_STEPS[1] + 2)]
    grips = [a[3] for a in out]
    assert grips[0] == 1.0 and grips[-1] == -1.0  # pressed, late
    switch = grips.index(-1.0)
    assert KEY_DELAY_STEPS[0] <= switch <= KEY_DELAY_STEPS[1]
    assert all(np.all(a[:3] == 0) for a in out[:switch + 1])  # still while deciding


def test_a_human_style_demo_succeeds_slower_with_expert_labels():
    from oneshot_ros.sim.env import StackingEnv

    env = StackingEnv()
    try:
        scripted = run_episode(env, "ab", 3, noise=0.0)
        human = run_episode(env, "ab", 3, noise=0.0, style="human")
        with pytest.raises(ValueError, match="style"):
            run_episode(env, "ab", 3, style="robot")
    finally:
        env.close()
    assert scripted.success and human.success
    assert human.length > 1.4 * scripted.length
    executed, labels = human.actions, human.expert_actions  # labels: the expert, full speed
    assert np.abs(labels[:, :3]).max() > np.abs(executed[:, :3]).max()


def test_eval_conditions_on_human_style_demos_and_keeps_them_apart(tiny_model, tmp_path):
    def run(out, *extra):
        return subprocess.run([sys.executable, "-m", "oneshot_ros.cli", "eval", "--model",
                               str(tiny_model), "--task", "ab", "--episodes", "1",
                               "--max-steps", "5", "--no-demo-baseline", "--workers", "1",
                               "--quiet", "--out", str(out), "--json", *extra],
                              capture_output=True, text=True, timeout=120)

    human, scripted = run(tmp_path / "h", "--demo-style", "human"), run(tmp_path / "s")
    assert human.returncode == 0 and scripted.returncode == 0, human.stderr[-1500:]
    assert json.loads(human.stdout)["settings"]["demo_style"] == "human"
    assert "demo_style" not in json.loads(scripted.stdout)["settings"]  # older dirs resume

    def demo_length(out):
        return json.loads((out / "episodes.jsonl").read_text())["demo_length"]

    assert demo_length(tmp_path / "h") > 1.4 * demo_length(tmp_path / "s")
    mixed = run(tmp_path / "h")  # scripted demos into a human-style evaluation: refused
    assert mixed.returncode == 2 and "demo_style" in mixed.stderr
