"""Particle reaching (Duan et al. 2017, appendix A): a numpy world and its scripted demonstrator.

A point agent and 2-10 landmarks in the square [-arena_m, arena_m]^2. The task is "reach
landmark k" (k = its colour: landmark slot k is the same colour in the demo and the new layout).
Observation (like the stacking ObsLayout, relative to the agent):
    o = (agent x, agent y, landmark_1 - agent (2), ..., landmark_L - agent (2))  in R^(2+2L)
Batches pad landmark slots to MAX_LANDMARKS with zeros and a mask.
Our simplification: the agent is velocity-controlled (action = displacement per step, each axis
clipped to max_step), not the appendix's force-driven point mass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oneshot_ros.errors import InputError

MIN_LANDMARKS, MAX_LANDMARKS = 2, 10


@dataclass(frozen=True)
class ParticleWorld:
    arena_m: float = 1.0  # landmarks and agent start inside [-arena_m, arena_m]^2
    max_step: float = 0.15  # displacement per step, each axis clipped to +-max_step
    horizon: int = 25  # steps per episode (a corner-to-corner move needs 14)
    success_radius: float = 0.1  # reached when the final distance is below this
    min_separation: float = 0.3  # landmarks at least this far apart (> 2 success radii)

    def __post_init__(self):
        if not (self.arena_m > 0 and self.max_step > 0 and self.horizon >= 1):
            raise InputError(f"{self}: arena_m, max_step and horizon must be positive")
        if self.min_separation <= 2 * self.success_radius:
            raise InputError("min_separation must exceed 2 * success_radius so one is reached")

    def obs_dim(self) -> int:
        return 2 + 2 * MAX_LANDMARKS

    def sample_layouts(self, rng: np.random.Generator, n_landmarks: np.ndarray):
        """n_landmarks (N,) -> agent (N, 2), landmarks (N, L_max, 2), mask (N, L_max) bool."""
        n = len(n_landmarks)
        mask = np.arange(MAX_LANDMARKS) < np.asarray(n_landmarks)[:, None]  # (N, L_max)
        landmarks = np.zeros((n, MAX_LANDMARKS, 2))
        for k in range(MAX_LANDMARKS):  # rejection sampling, vectorised over the batch
            todo = mask[:, k].copy()
            while todo.any():
                landmarks[todo, k] = rng.uniform(-self.arena_m, self.arena_m, (todo.sum(), 2))
                gap = np.linalg.norm(landmarks[:, :k] - landmarks[:, k:k + 1], axis=-1)
                todo &= (gap < self.min_separation).any(axis=1) if k else False
        agent = rng.uniform(-self.arena_m, self.arena_m, (n, 2))
        return agent, landmarks * mask[..., None], mask

    def observe(self, agent: np.ndarray, landmarks: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """agent (N, 2), landmarks (N, L_max, 2), mask -> obs (N, 2 + 2 L_max) float32."""
        relative = (landmarks - agent[:, None]) * mask[..., None]  # padded slots stay zero
        return np.concatenate([agent, relative.reshape(len(agent), -1)], 1).astype(np.float32)

    def step(self, agent: np.ndarray, action: np.ndarray) -> np.ndarray:
        move = np.clip(action, -self.max_step, self.max_step)
        return np.clip(agent + move, -self.arena_m, self.arena_m)

    def expert_action(self, agent: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The scripted demonstrator: straight at the target, clipped per axis."""
        return np.clip(target - agent, -self.max_step, self.max_step)

    def rollout(self, policy, agent, landmarks, mask, target_index, noise_std=0.0, rng=None):
        """Run `policy(obs (N, D)) -> action (N, 2)` (None: the expert) for `horizon` steps.

        -> obs (N, T, D), expert actions (N, T, 2), success (N,) bool.
        """
        target = landmarks[np.arange(len(agent)), target_index]  # (N, 2)
        all_obs, labels = [], []
        for _ in range(self.horizon):
            obs = self.observe(agent, landmarks, mask)
            expert = self.expert_action(agent, target)
            action = expert if policy is None else policy(obs)
            if noise_std > 0:
                action = action + rng.normal(scale=noise_std, size=action.shape)
            all_obs.append(obs)
            labels.append(expert.astype(np.float32))
            agent = self.step(agent, action)
        success = np.linalg.norm(agent - target, axis=-1) < self.success_radius
        return np.stack(all_obs, 1), np.stack(labels, 1), success
