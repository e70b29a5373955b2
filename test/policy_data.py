"""Tiny policy configs, random padded batches and broken checkpoints shared by the tests."""

from __future__ import annotations

import numpy as np

from oneshot_ros.data import batch as keys
from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.world.robot import ActionLayout


def tiny_config(**overrides) -> PolicyConfig:
    """A few-thousand-parameter policy: every code path, fast enough for unit tests."""
    settings = dict(embed_dim=16, n_heads=2, dilations=(1, 2), lstm_steps=2,
                    mlp_hidden=(32, 32), n_bins=5, ensemble_size=3, temporal_dropout_p=0.5)
    settings.update(overrides)
    return PolicyConfig(**settings)


def task_sample(rng: np.random.Generator, n_blocks: int, demo_len: int, n_pairs: int) -> dict:
    """One task: a random demo and n_pairs (obs, action) with actions pointing at block 0."""
    demo = rng.normal(scale=0.2, size=(demo_len, 3 * n_blocks + 2)).astype(np.float32)
    obs = rng.normal(scale=0.2, size=(n_pairs, 3 * n_blocks + 2)).astype(np.float32)
    step = ActionLayout.max_step_m
    move = np.clip(obs[:, 0:3], -step, step)  # toward block 0 (relative position)
    grip = np.where(obs[:, -1:] > 0, 1.0, -1.0)
    return {keys.DEMO_OBS: demo, keys.OBS: obs,
            keys.ACTION: np.concatenate([move, grip], axis=1).astype(np.float32)}


def random_batch(seed: int = 0, blocks=(2, 4, 3), lengths=(12, 20, 7), n_pairs: int = 4):
    rng = np.random.default_rng(seed)
    items = [task_sample(rng, b, t, n_pairs) for b, t in zip(blocks, lengths, strict=True)]
    return keys.collate(items), items


def overflowing_model(path):
    """A tiny checkpoint with finite weights (it loads) whose outputs overflow to NaN/inf."""
    from oneshot_ros.policy import checkpoint
    from oneshot_ros.policy.modeling import OneShotPolicy

    model = OneShotPolicy(tiny_config())
    state = model.state_dict()
    for name, value in state.items():
        if name.endswith("bias"):
            value.fill_(3e38)
    model.load_state_dict(state)
    return checkpoint.save(model, path)
