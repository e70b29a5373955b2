"""What a perception stack reports of the blocks: the truth (default), or noisy, dropped frames.

    perception = Perception(config)
    perception.reset(seed, blocks)           # (B, 3) true centres; seeds the noise per episode
    observed = perception.update(blocks)     # once per control step -> (B, 3)

WorldConfig settings (0 = off): block_pose_noise_m, the std of Gaussian noise on each reported
centre coordinate (~5 mm for a depth camera's block detector); block_pose_dropout, the chance
that a step's report is the previous one again (a dropped frame). Only what the policy observes
changes: success, the scripted demonstrator and the arm's obstacle avoidance see the truth.
"""

from __future__ import annotations

import numpy as np

from oneshot_ros.world.world_config import WorldConfig

NOISE_STREAM = 0x5EED_0B5  # keeps the perception noise apart from other seeded streams


class Perception:
    def __init__(self, config: WorldConfig):
        self.noise_m, self.dropout = config.block_pose_noise_m, config.block_pose_dropout
        self.active = self.noise_m > 0 or self.dropout > 0
        self.observed: np.ndarray | None = None

    def reset(self, seed: int, blocks: np.ndarray) -> np.ndarray:
        self.rng = np.random.default_rng([int(seed), NOISE_STREAM])
        self.observed = None
        return self.update(blocks)

    def update(self, blocks: np.ndarray) -> np.ndarray:
        """The report of this step  # (B, 3)"""
        if not self.active:
            self.observed = blocks
        elif self.observed is None or self.rng.random() >= self.dropout:
            self.observed = blocks + self.rng.normal(0.0, self.noise_m, blocks.shape)
        return self.observed.copy()
