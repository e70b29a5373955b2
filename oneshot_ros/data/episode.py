"""One demonstration episode in memory: what every producer hands to storage."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from oneshot_ros.world.robot import ActionLayout, ObsLayout
from oneshot_ros.world.success import OUTCOMES


@dataclass
class Episode:
    task: str  # canonical task string, e.g. "ab cd"
    seed: int  # StackingEnv.reset seed: the initial block layout
    noise: float  # demonstrator action-noise std (m per step), 0 for a learner
    obs: np.ndarray  # (T, 3B+2) float32, observation BEFORE each action
    actions: np.ndarray  # (T, 4) float32, executed (noisy) actions
    expert_actions: np.ndarray  # (T, 4) float32, noise-free expert labels (train on these)
    success: bool
    outcome: str  # one of OUTCOMES
    stage_ends: list[int] = field(default_factory=list)  # step index at which each stage ended
    source: str = "scripted"  # "scripted", "ros", "dagger", ...

    def __post_init__(self):
        self.obs = np.asarray(self.obs, dtype=np.float32)
        self.actions = np.asarray(self.actions, dtype=np.float32)
        self.expert_actions = np.asarray(self.expert_actions, dtype=np.float32)
        n_blocks = ObsLayout.n_blocks_of(self.obs.shape[-1])
        if self.obs.ndim != 2 or self.actions.shape != (len(self.obs), ActionLayout.DIM):
            raise ValueError(
                f"episode arrays disagree: obs {self.obs.shape}, actions {self.actions.shape}"
            )
        if self.expert_actions.shape != self.actions.shape:
            raise ValueError("expert_actions must have the same shape as actions")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r} is not one of {OUTCOMES}")
        self.n_blocks = n_blocks

    @property
    def length(self) -> int:
        return len(self.obs)
