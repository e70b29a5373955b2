"""A real arm's controller and perception as WorldConfig settings: command
latency, tracking lag, velocity limit, block-pose noise and dropped frames. Off by default, and
then the world is exactly the one the shipped models were trained in."""

import dataclasses

import numpy as np
import pytest

from oneshot_ros.sim.actuation import Actuation
from oneshot_ros.sim.env import StackingEnv
from oneshot_ros.sim.perception import Perception
from oneshot_ros.world.world_config import WorldConfig, with_defaults

Q0, Q1 = np.zeros(7), np.full(7, 0.1)


def setpoints(config, steps):
    actuation = Actuation(config)
    actuation.reset(Q0, 0.08)
    actuation.command(Q1, 0.0)
    return np.array([actuation.substep()[0][0] for _ in range(steps)]), actuation


def test_latency_delays_the_command_by_whole_physics_steps():
    q, actuation = setpoints(WorldConfig(command_latency_periods=0.5), 12)
    assert actuation.active and actuation.delay == 6  # half a 12-step control period
    assert np.all(q[:6] == 0.0) and np.all(q[6:] == 0.1)
    assert actuation.gap == 0.0  # the gripper command arrived with it


def test_tracking_lag_and_velocity_limit_shape_the_setpoint():
    q, _ = setpoints(WorldConfig(tracking_time_constant_s=0.05), 12)  # one period = tau
    assert np.all(np.diff(q) > 0) and q[-1] == pytest.approx(0.1 * (1 - np.exp(-1)), rel=1e-6)
    q, _ = setpoints(WorldConfig(actuation_max_velocity_rad_s=1.2), 24)
    assert np.allclose(np.diff(q[:20]), 1.2 / 240) and q[-1] == pytest.approx(0.1)
    assert not Actuation(WorldConfig()).active


def test_perception_noise_and_dropout_are_seeded_per_episode():
    blocks = np.zeros((3, 3))
    config = WorldConfig(block_pose_noise_m=0.005, block_pose_dropout=0.5)
    a, b = Perception(config), Perception(config)
    first = a.reset(7, blocks)
    assert np.array_equal(first, b.reset(7, blocks))  # same seed, same noise
    reports = np.array([a.update(blocks) for _ in range(400)])
    assert 0.003 < reports.std() < 0.007
    repeats = np.mean(np.all(reports[1:] == reports[:-1], axis=(1, 2)))
    assert 0.35 < repeats < 0.65  # dropped frames repeat the last report
    assert np.array_equal(Perception(WorldConfig()).reset(0, blocks), blocks)


def test_the_env_observes_the_perceived_blocks_and_judges_the_true_ones():
    env = StackingEnv(WorldConfig(block_pose_noise_m=0.01))
    try:
        obs = env.reset("ab", 3)
        truth = env.block_positions()
        seen = env.perceived_block_positions()
        assert 0.0 < np.abs(seen - truth).max() < 0.06
        assert not np.allclose(obs, StackingEnv().reset("ab", 3))
    finally:
        env.close()


def test_defaults_leave_the_world_untouched_and_older_configs_compare_equal():
    stored = dataclasses.asdict(WorldConfig())
    for key in ("command_latency_periods", "tracking_time_constant_s",
                "actuation_max_velocity_rad_s", "block_pose_noise_m", "block_pose_dropout"):
        assert stored.pop(key) == 0.0
    assert with_defaults(stored) == with_defaults(dataclasses.asdict(WorldConfig()))
    assert with_defaults(stored) != with_defaults({**stored, "block_pose_noise_m": 0.005})
    with pytest.raises(ValueError, match="0..2 control periods"):
        WorldConfig(command_latency_periods=3)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        WorldConfig(block_pose_dropout=1.0)


def test_a_demo_file_from_before_the_new_settings_accepts_new_demos(tmp_path):
    from oneshot_ros.data.storage import DemoReader, DemoWriter
    from oneshot_ros.demos.demonstrator import run_episode

    env = StackingEnv()
    try:
        episode = run_episode(env, "ab", 1, noise=0.0)
    finally:
        env.close()
    old = dataclasses.asdict(WorldConfig())
    del old["block_pose_noise_m"], old["command_latency_periods"]
    path = tmp_path / "old.h5"
    with DemoWriter(path, old) as writer:
        writer.append(episode)
    with DemoWriter(path, dataclasses.asdict(WorldConfig())) as writer:  # no mismatch error
        writer.append(episode)
    with DemoReader(path) as reader:
        assert len(reader) == 2
    with pytest.raises(ValueError, match="different world config"):
        DemoWriter(path, dataclasses.asdict(WorldConfig(block_pose_noise_m=0.005)))


def test_eval_world_overrides_are_applied_recorded_and_checked(tiny_model, tmp_path):
    import json
    import subprocess
    import sys

    def run(*extra):
        return subprocess.run([sys.executable, "-m", "oneshot_ros.cli", "eval", "--model",
                               str(tiny_model), "--task", "ab", "--episodes", "1",
                               "--max-steps", "3", "--no-demo-baseline", "--workers", "1",
                               "--quiet", "--out", str(tmp_path / "e"), "--json", *extra],
                              capture_output=True, text=True, timeout=120)

    result = run("--world", "command_latency_periods=1", "--world", "block_pose_noise_m=0.005")
    assert result.returncode == 0, result.stderr[-1500:]
    world = json.loads(result.stdout)["settings"]["world_config"]
    assert world["command_latency_periods"] == 1 and world["block_pose_noise_m"] == 0.005
    bad = run("--world", "command_latency_periods=3")
    assert bad.returncode == 2 and "0..2 control periods" in bad.stderr
    assert bad.stderr.strip().count("\n") == 0
    nominal = run()  # other settings than the stored ones: refused, not mixed
    assert nominal.returncode == 2 and "world_config" in nominal.stderr
