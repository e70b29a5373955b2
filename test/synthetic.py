"""A cheap, deterministic stand-in for run_episode(env, task, seed, noise) in data tests.

Importable by spawned worker processes (pytest puts test/ on sys.path), so it can be passed to
the collector as its episode producer. Every 4th seed "fails", to exercise retries.
"""

from __future__ import annotations

import numpy as np

from oneshot_ros.episode import MANIPULATION, SUCCESS, Episode
from oneshot_ros.tasks import parse_task


def synthetic_episode(task: str, seed: int, noise: float = 0.0) -> Episode:
    parsed = parse_task(task)
    rng = np.random.default_rng([seed, parsed.n_blocks])
    length = 12 + seed % 23
    success = seed % 4 != 1
    ends = sorted(rng.choice(np.arange(1, length), size=parsed.n_stages, replace=False).tolist())
    return Episode(
        task=parsed.string, seed=seed, noise=noise,
        obs=rng.normal(size=(length, 3 * parsed.n_blocks + 2)),
        actions=rng.normal(size=(length, 4)), expert_actions=rng.normal(size=(length, 4)),
        success=success, outcome=SUCCESS if success else MANIPULATION, stage_ends=ends,
    )
