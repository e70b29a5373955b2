"""The ONE definition of a training batch: named keys, shapes and padding conventions.

A batch is a dict of torch tensors. N = tasks in the batch (sampled with replacement), T = longest
conditioning demo, M = (observation, action) pairs per task taken from ANOTHER demo of the same
task (paper §3.3), B = most blocks of any task in the batch.

Padding conventions (every producer must follow them; the policy relies on them):
- Observations keep the ObsLayout order: block k's xyz at columns [3k, 3k+3), then the 2 gripper
  values in the LAST two columns. A task with b < B blocks is padded by inserting zeros for blocks
  b..B-1 BEFORE the gripper columns (see `pad_obs`), so the gripper is always at [-2:].
- Time is padded at the END with zero rows; DEMO_MASK marks the real steps.
- BLOCK_MASK marks the real blocks (identical for demo and state: block k = letter k in both).
- ACTION holds the continuous noise-free expert action (dx, dy, dz, grip) in ActionLayout order;
  binning for the categorical head happens in the loss (`policy.action_head`), not in the data.
- ACTION_MASK (optional) marks real (obs, action) pairs when M is padded; absent = all real.
- DEMO_STAGE_END (optional: the "snapshot" baseline, keep_stage_ends) marks the last step of
  each stage.
- OBS_STAGE (optional, with DEMO_STAGE_END): the stage each OBS is in, counted from 0 (the
  number of its demo's stages already done); the stage-attention loss's label.
"""

from __future__ import annotations

import numpy as np
import torch

from oneshot_ros.world.robot import ActionLayout, ObsLayout

DEMO_OBS = "demo_obs"  # (N, T, 3B+2) float32, conditioning demonstration observations
DEMO_MASK = "demo_mask"  # (N, T) bool, True = real demo step
BLOCK_MASK = "block_mask"  # (N, B) bool, True = real block
OBS = "obs"  # (N, M, 3B+2) float32, current observations from another demo of the task
ACTION = "action"  # (N, M, 4) float32, noise-free expert actions for OBS
ACTION_MASK = "action_mask"  # (N, M) bool, optional; True = real pair
DEMO_STAGE_END = "demo_stage_end"  # (N, T) bool, optional; True at the last step of each stage
OBS_STAGE = "obs_stage"  # (N, M) int64, optional; stages done before each observation

REQUIRED_KEYS = (DEMO_OBS, DEMO_MASK, BLOCK_MASK, OBS, ACTION)
OPTIONAL_KEYS = (ACTION_MASK, DEMO_STAGE_END, OBS_STAGE)


def pad_obs(obs: np.ndarray, n_blocks_max: int) -> np.ndarray:
    """(..., 3b+2) -> (..., 3*n_blocks_max+2): zero blocks inserted before the gripper columns."""
    obs = np.asarray(obs, dtype=np.float32)
    n_blocks = ObsLayout.n_blocks_of(obs.shape[-1])
    if n_blocks > n_blocks_max:
        raise ValueError(f"observation has {n_blocks} blocks; cannot pad to {n_blocks_max}")
    pad = np.zeros((*obs.shape[:-1], 3 * (n_blocks_max - n_blocks)), dtype=np.float32)
    g = ObsLayout.GRIPPER_DIM
    return np.concatenate([obs[..., :-g], pad, obs[..., -g:]], axis=-1)


def collate(items: list[dict]) -> dict[str, torch.Tensor]:
    """Stack per-task samples into one padded batch.

    Each item: DEMO_OBS (T_i, 3b_i+2), OBS (M, 3b_i+2), ACTION (M, 4); optional DEMO_STAGE_END
    (T_i,) bool and OBS_STAGE (M,) int. M must be equal across items (sample pairs with
    replacement to get it).
    """
    if not items:
        raise ValueError("collate needs at least one sample")
    n_blocks = [ObsLayout.n_blocks_of(np.shape(it[OBS])[-1]) for it in items]
    b_max, t_max = max(n_blocks), max(len(it[DEMO_OBS]) for it in items)
    batch = {
        DEMO_OBS: np.stack([_pad_time(pad_obs(it[DEMO_OBS], b_max), t_max) for it in items]),
        DEMO_MASK: np.stack([np.arange(t_max) < len(it[DEMO_OBS]) for it in items]),
        BLOCK_MASK: np.stack([np.arange(b_max) < b for b in n_blocks]),
        OBS: np.stack([pad_obs(it[OBS], b_max) for it in items]),
        ACTION: np.stack([np.asarray(it[ACTION], dtype=np.float32) for it in items]),
    }
    if all(DEMO_STAGE_END in it for it in items):
        ends = [np.asarray(it[DEMO_STAGE_END], dtype=bool) for it in items]
        batch[DEMO_STAGE_END] = np.stack([_pad_time(e, t_max) for e in ends])
    if all(OBS_STAGE in it for it in items):
        batch[OBS_STAGE] = np.stack([np.asarray(it[OBS_STAGE], dtype=np.int64) for it in items])
    return {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in batch.items()}


def _pad_time(x: np.ndarray, t_max: int) -> np.ndarray:
    pad = np.zeros((t_max - len(x), *x.shape[1:]), dtype=x.dtype)
    return np.concatenate([x, pad], axis=0)


def validate_batch(batch: dict[str, torch.Tensor]) -> None:
    """Raise a ValueError naming the key when a batch breaks the conventions above."""
    missing = [key for key in REQUIRED_KEYS if key not in batch]
    if missing:
        raise ValueError(f"batch lacks keys {missing}; build it with data.batch.collate")
    n, t, obs_dim = batch[DEMO_OBS].shape
    b = batch[BLOCK_MASK].shape[1]
    expect = {
        DEMO_MASK: (n, t), BLOCK_MASK: (n, b), OBS: (n, batch[OBS].shape[1], 3 * b + 2),
        ACTION: (n, batch[OBS].shape[1], ActionLayout.DIM),
    }
    if obs_dim != 3 * b + 2:
        raise ValueError(f"{DEMO_OBS} has {obs_dim} columns; {b} blocks need {3 * b + 2}")
    for key, shape in expect.items():
        if tuple(batch[key].shape) != shape:
            raise ValueError(f"batch[{key!r}] has shape {tuple(batch[key].shape)}; want {shape}")
    if not bool(batch[DEMO_MASK].any(dim=1).all()) or not bool(batch[BLOCK_MASK][:, :2].all()):
        raise ValueError("every task needs >= 1 real demo step and >= 2 real blocks (first ones)")
