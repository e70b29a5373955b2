"""A cheap, deterministic stand-in for run_episode(env, task, seed, noise) in data tests.

Importable by spawned worker processes (pytest puts test/ on sys.path), so it can be passed to
the collector as its episode producer. Every 4th seed "fails", to exercise retries.
"""

from __future__ import annotations

import numpy as np

from oneshot_ros.data.episode import Episode
from oneshot_ros.world.success import MANIPULATION, SUCCESS
from oneshot_ros.world.tasks import parse_task


def synthetic_episode(task: str, seed: int, noise: float = 0.0) -> Episode:
    parsed = parse_task(task)
    rng = np.random.default_rng([seed, parsed.n_blocks])
    length = 12 + seed % 23
    success = seed % 4 != 1
    ends = sorted(rng.choice(np.arange(1, length), size=parsed.n_stages, replace=False).tolist())
    return Episode(
        task=parsed.string, seed=seed, noise=noise,
        obs=rng.normal(size=(length, 3 * parsed.n_blocks + 2)),
        actions=_actions(rng, length), expert_actions=_actions(rng, length),
        success=success, outcome=SUCCESS if success else MANIPULATION, stage_ends=ends,
    )


def _actions(rng: np.random.Generator, length: int) -> np.ndarray:
    """Plausible actions (storage refuses others): moves of at most 1.5 cm, grip +1 or -1."""
    moves = rng.uniform(-0.015, 0.015, size=(length, 3))
    grips = rng.choice([-1.0, 1.0], size=(length, 1))
    return np.concatenate([moves, grips], axis=1)
