"""StackingEnv on real PyBullet: layout, actions, bad input, snapshots, success detection."""

import numpy as np
import pytest

from oneshot_ros.sim.env import StackingEnv
from oneshot_ros.world.robot import ObsLayout
from oneshot_ros.world.success import MANIPULATION, SUCCESS, TIMEOUT, WRONG_MOVE
from oneshot_ros.world.tasks import TaskError


@pytest.fixture(scope="module")
def env():
    e = StackingEnv()
    yield e
    e.close()


def test_reset_is_seeded_and_blocks_rest_apart_on_the_table(env):
    obs = env.reset("ab cd ef", seed=3)
    assert obs.shape == (ObsLayout(6).dim,) and obs.dtype == np.float32
    first = env.block_positions().copy()
    env.reset("ab cd ef", seed=3)
    assert np.allclose(env.block_positions(), first, atol=1e-6)
    env.reset("ab cd ef", seed=4)
    assert not np.allclose(env.block_positions(), first, atol=1e-3)
    cfg = env.config
    assert np.allclose(first[:, 2], cfg.table_height_m + cfg.block_size_m / 2, atol=2e-3)
    gaps = np.linalg.norm(first[:, None, :2] - first[None, :, :2], axis=-1) + np.eye(6)
    assert gaps.min() >= cfg.spawn_min_distance_m - 1e-6


def test_observation_is_blocks_relative_to_gripper(env):
    obs = env.reset("ab", seed=0)
    blocks, fingers = ObsLayout(2).split(obs)
    assert np.allclose(blocks, env.block_positions() - env.gripper_position(), atol=1e-5)
    assert np.allclose(fingers, env.gripper_state(), atol=1e-6)


def test_step_moves_the_gripper_by_the_clipped_displacement(env):
    env.reset("ab", seed=0)
    start = env.gripper_position()
    for _ in range(10):
        env.step([1.0, 0.0, 0.0, 1.0])  # clipped to max_step_m per step
    moved = env.gripper_position() - start
    assert 0.7 * 10 * env.config.max_step_m < moved[0] <= 10 * env.config.max_step_m + 1e-3
    assert abs(moved[1]) < 5e-3 and abs(moved[2]) < 5e-3


@pytest.mark.parametrize("action,match", [
    ([np.nan, 0, 0, 1], "NaN"), ([0, 0, np.inf, 1], "NaN or inf"), ([0, 0, 0], "shape"),
])
def test_bad_actions_raise(env, action, match):
    env.reset("ab", seed=0)
    with pytest.raises(ValueError, match=match):
        env.step(action)


def test_bad_task_strings_raise(env):
    with pytest.raises(TaskError, match="unknown block 'k'"):
        env.reset("abcdefghijk", seed=0)


def test_reset_to_replays_exactly(env):
    env.reset("ab cd", seed=1)
    rng = np.random.default_rng(0)
    for _ in range(15):
        env.step(np.r_[rng.uniform(-0.015, 0.015, 3), 1.0])
    state = env.get_state()
    actions = [np.r_[rng.uniform(-0.015, 0.015, 3), rng.choice([-1.0, 1.0])] for _ in range(25)]
    first = [env.step(a)[0] for a in actions]
    env.reset("ab cd", seed=7)  # somewhere else entirely
    env.reset_to(state)
    second = [env.step(a)[0] for a in actions]
    assert np.array_equal(np.array(first), np.array(second))
    other = StackingEnv(env.config)  # a state is plain arrays: any env with the config replays it
    other.reset("abc", seed=0)
    other.reset_to(state)
    third = [other.step(a)[0] for a in actions]
    other.close()
    assert np.array_equal(np.array(first), np.array(third))


def test_reset_to_refuses_a_state_of_another_task(env):
    env.reset("ab", seed=0)
    state = env.get_state()
    state.task = "ab cd"
    with pytest.raises(ValueError, match="blocks"):
        env.reset_to(state)


def test_episodes_do_not_depend_on_history(env):
    from oneshot_ros.demos.demonstrator import run_episode
    first = run_episode(env, "ab", 3)
    run_episode(env, "abc", 1)
    again = run_episode(env, "ab", 3)
    assert np.array_equal(first.obs, again.obs) and np.array_equal(first.actions, again.actions)


def _settle(env, positions):
    env.scene.place_blocks(np.asarray(positions))
    env.scene.arm.reset_joints()  # gripper away above the table
    for _ in range(120):
        env.scene.client.stepSimulation()
    env.refresh()  # the scene changed without env.step


def test_success_for_a_built_tower_and_not_for_near_misses(env):
    env.reset("ab", seed=0)
    h = env.config.table_height_m + 0.025
    _settle(env, [[0.6, 0.1, h + 0.05], [0.6, 0.1, h]])
    assert env.is_success() and env.outcome() == SUCCESS
    _settle(env, [[0.6, 0.1 + 0.035, h + 0.05], [0.6, 0.1, h]])  # 3.5 cm off: slides/tilts
    assert not env.is_success()
    _settle(env, [[0.6, 0.1, h], [0.5, -0.1, h]])  # both on the table
    assert not env.is_success() and env.outcome() == TIMEOUT


def test_tower_on_the_wrong_block_is_a_wrong_move(env):
    env.reset("ab c", seed=0)
    h = env.config.table_height_m + 0.025
    _settle(env, [[0.6, 0.1, h + 0.05], [0.5, -0.15, h], [0.6, 0.1, h]])  # a on c, not on b
    assert not env.is_success() and env.outcome() == WRONG_MOVE


def test_block_off_the_table_is_a_manipulation_failure(env):
    env.reset("ab", seed=0)
    h = env.config.table_height_m + 0.025
    _settle(env, [[0.6, 0.1, h], [1.3, 0.0, 0.03]])  # b on the floor beyond the table
    assert env.outcome() == MANIPULATION


def _tower_drift_m(config, seconds: float = 4.0) -> float:
    """Largest cube displacement (m) of a 10-cube tower, each cube off its support by a
    demonstrator-like placement error (up to 3 mm), after `seconds` of physics."""
    env = StackingEnv(config)
    env.reset("abcdefghij", seed=0)
    offsets = np.random.default_rng(0).uniform(-0.003, 0.003, size=(10, 2))
    column = [[0.6 + dx, 0.35 + dy, config.table_height_m + 0.025 + 0.05 * (9 - k) + 5e-4]
              for k, (dx, dy) in enumerate(offsets)]  # a on top ... j on the table
    env.scene.place_blocks(np.array(column))
    env.refresh()
    start = env.block_positions()
    for _ in range(int(seconds * config.physics_hz)):
        env.scene.client.stepSimulation()
    env.refresh()
    drift = float(np.linalg.norm(env.block_positions() - start, axis=1).max())
    env.close()
    return drift


def test_a_ten_cube_tower_stands_with_the_default_physics():
    """The speed settings (residual threshold, rigid-body cubes) keep tall towers standing;
    20 solver iterations, which bench/tower_stability.py shows collapsing them, is the control."""
    from dataclasses import replace

    from oneshot_ros.world.world_config import WorldConfig

    assert _tower_drift_m(WorldConfig()) < 0.01
    assert _tower_drift_m(replace(WorldConfig(), solver_iterations=20)) > 0.05


@pytest.mark.parametrize("overrides, match", [
    ({"solver_iterations": 10}, "collapses tall towers"),
    ({"solver_residual_threshold": 0.01}, "solver_residual_threshold"),
    ({"solver_residual_threshold": -1.0}, "solver_residual_threshold"),
])
def test_physics_settings_that_break_towers_are_refused(overrides, match):
    from oneshot_ros.world.world_config import WorldConfig

    with pytest.raises(ValueError, match=match):
        WorldConfig(**overrides)


def test_render_returns_an_rgb_image(env):
    env.reset("ab", seed=0)
    img = env.render(64, 48)
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8 and img.std() > 5


def test_config_world_yaml_spells_out_the_defaults():
    """config/world.yaml is the editable copy of WorldConfig: it must not drift from it."""
    import dataclasses
    from pathlib import Path

    import yaml

    from oneshot_ros.config import load_yaml
    from oneshot_ros.world.world_config import WorldConfig

    path = Path(__file__).resolve().parents[1] / "config" / "world.yaml"
    assert load_yaml(WorldConfig, path) == WorldConfig()
    keys = set(yaml.safe_load(path.read_text()))
    assert keys == {f.name for f in dataclasses.fields(WorldConfig)}
