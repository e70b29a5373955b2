"""Behavioral cloning and evaluation for particle reaching (appendix A), on CPU in minutes.

Each iteration: N tasks (landmark count uniform in the range, target landmark uniform), one
scripted demo on layout A as conditioning and the noisy expert's trajectory on a new layout B
with noise-free labels as the (observation, action) pairs (as Duan et al. §3.3). Loss: L2 on the
displacement in units of max_step. Evaluation: fresh layouts from a seed stream disjoint from
training, a fresh demo each, success = final distance to the demo's landmark < success_radius.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from oneshot_ros.errors import InputError
from oneshot_ros.particle import VARIANTS
from oneshot_ros.particle.models import ParticlePolicy
from oneshot_ros.particle.world import MAX_LANDMARKS, MIN_LANDMARKS, ParticleWorld

log = logging.getLogger(__name__)

# Duan et al. Table 2: success (%) on unseen layouts, by number of landmarks 2..10
PAPER_TABLE_2 = {
    "plain_lstm": (100, 100, 99.0, 98.0, 99.0, 98.0, 93.9, 83.8, 50.5),
    "lstm_attention": (100, 100, 100, 100, 100, 100, 99.0, 94.9, 85.9),
    "final_state_attention": (100,) * 9,
}
EVAL_SEED_OFFSET = 1_000_003  # evaluation layouts come from a seed stream training never uses


@dataclass(frozen=True)
class ParticleTrainConfig:
    variant: str = "lstm_attention"  # one of models.VARIANTS
    landmarks: tuple[int, int] = (2, 5)  # inclusive range of landmark counts
    iterations: int = 1500
    batch_size: int = 32  # tasks per iteration; each contributes `horizon` (obs, action) pairs
    hidden: int = 64  # LSTM and MLP width (the appendix's plain LSTM used 512)
    lr: float = 3e-3  # Adam
    demo_noise: float = 0.02  # std of the demonstrator's action noise in demos (m per step)
    pair_noise: float = 0.08  # std of the noise on the trajectory the labels are taken on
    seed: int = 0
    world: ParticleWorld = field(default_factory=ParticleWorld)

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise InputError(f"variant {self.variant!r}: use one of {', '.join(VARIANTS)}")
        lo, hi = self.landmarks
        if not MIN_LANDMARKS <= lo <= hi <= MAX_LANDMARKS:
            raise InputError(f"landmarks {lo}-{hi}: use a range inside "
                             f"{MIN_LANDMARKS}-{MAX_LANDMARKS}, e.g. 2-5")
        if self.iterations < 1 or self.batch_size < 1:
            raise InputError("iterations and batch_size must be at least 1")


def sample_batch(config: ParticleTrainConfig, rng: np.random.Generator) -> dict:
    world, n = config.world, config.batch_size
    counts = rng.integers(config.landmarks[0], config.landmarks[1] + 1, n)  # (N,)
    target = (rng.random(n) * counts).astype(int)  # (N,) landmark slot = colour
    demo, _ = expert_demo(world, rng, counts, target, config.demo_noise)
    agent, landmarks, mask = world.sample_layouts(rng, counts)  # a new layout B
    obs, labels, _ = world.rollout(None, agent, landmarks, mask, target, config.pair_noise, rng)
    return {"demo": torch.from_numpy(demo), "mask": torch.from_numpy(mask),
            "obs": torch.from_numpy(obs),
            "action": torch.from_numpy(labels / world.max_step).float()}


def expert_demo(world, rng, counts, target, noise):
    """-> demo obs (N, T, D) on a fresh layout, and its landmark mask (N, L)."""
    agent, landmarks, mask = world.sample_layouts(rng, counts)
    demo, _, _ = world.rollout(None, agent, landmarks, mask, target, noise, rng)
    return demo, mask


def train(config: ParticleTrainConfig, progress: bool = False):
    """-> trained ParticlePolicy, per-iteration losses, wall time (s)."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = ParticlePolicy(config.variant, config.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    losses, start = [], time.perf_counter()
    bar = tqdm(range(config.iterations), desc=f"particle {config.variant}", unit="it",
               disable=not progress)
    for _ in bar:
        batch = sample_batch(config, rng)
        demo_len = torch.full((config.batch_size,), batch["demo"].shape[1])
        pred = model(batch["demo"], demo_len, batch["mask"], batch["obs"])  # (N, T, 2)
        loss = ((pred - batch["action"]) ** 2).sum(-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
    log.info("trained %s for %d iterations", config.variant, config.iterations)
    return model, losses, time.perf_counter() - start


@torch.inference_mode()
def evaluate(model: ParticlePolicy, world: ParticleWorld, n_landmarks: int,
             n_episodes: int = 100, seed: int = 0) -> float:
    """Success rate on unseen layouts: each episode gets a fresh demo and a fresh layout."""
    rng = np.random.default_rng(seed + EVAL_SEED_OFFSET + 7919 * n_landmarks)
    counts = np.full(n_episodes, n_landmarks)
    target = rng.integers(0, n_landmarks, n_episodes)
    demo, _ = expert_demo(world, rng, counts, target, noise=0.0)
    agent, landmarks, mask = world.sample_layouts(rng, counts)
    mask_t = torch.from_numpy(mask)
    embedding = model.embed_demo(torch.from_numpy(demo), torch.full((n_episodes,), len(demo[0])),
                                 mask_t)  # once per episode

    def policy(obs: np.ndarray) -> np.ndarray:
        out = model.act(embedding, torch.from_numpy(obs)[:, None], mask_t)[:, 0]  # (N, 2)
        return out.double().numpy() * world.max_step

    _, _, success = world.rollout(policy, agent, landmarks, mask, target)
    return float(success.mean())
