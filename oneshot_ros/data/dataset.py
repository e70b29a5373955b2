"""The paper's training pairs (Duan et al. §3.3) from demonstration files, held in memory.

    train_idx, val_idx = split_by_demo(reader, val_fraction=0.1)
    train = PairedDemoDataset.from_reader(reader, train_idx, pairs_per_task=16)
    loader = DataLoader(train, batch_size=N, shuffle=True, collate_fn=data.batch.collate)

Item i conditions on demonstration i (d1) and takes `pairs_per_task` (observation, noise-free
expert action) pairs from ANOTHER demonstration d2 of the same task, never d1 itself. Pairs are
drawn uniformly over d2's steps with replacement, so every item has the same M. `collate` pads
blocks and time and builds the masks (keys and conventions: `data.batch`).

Temporal dropout of d1 (keep ~5% of steps, p = 0.95) is NOT applied here: the policy's
demonstration network does it on every forward pass (`policy.demo_network`), in training and at
test time, so that it is in exactly one place. The loader hands over the full demonstration.

All arrays are read once into numpy (float32); an item is a few slices and one random draw, so
the loader is never the bottleneck (bench/bench_data.py measures samples/s). Randomness is a
function of (seed, epoch, index): call `set_epoch(k)` each epoch for fresh pairs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import numpy as np
import torch

from oneshot_ros.data import batch as keys
from oneshot_ros.data.retime import SPEED_RANGE, retime
from oneshot_ros.data.storage import DemoReader

log = logging.getLogger(__name__)

# Episodes produced by a learner (DAgger rollouts): their states and expert labels are training
# pairs, but they never condition the policy (a conditioning demo shows the task done right).
LEARNER_SOURCES = frozenset({"dagger"})


def split_by_demo(reader: DemoReader, val_fraction: float = 0.1,
                  min_val_per_task: int = 2) -> tuple[list[int], list[int]]:
    """Hold out whole demonstrations per task -> (train indices, validation indices).

    Which demos are held out depends only on (task, seed), not on file order or sharding. A
    task keeps at least 2 demos on each side (pairs need two) or stays entirely in training.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction}: use a value in [0, 1)")
    train, val = [], []
    for task, indices in reader.tasks.items():
        ranked = sorted(indices, key=lambda i: _stable_rank(task, reader.meta(i)["seed"]))
        n_val = max(min_val_per_task, round(val_fraction * len(ranked))) if val_fraction else 0
        if len(ranked) - n_val < 2:
            n_val = 0
        val += ranked[:n_val]
        train += ranked[n_val:]
    return sorted(train), sorted(val)


def _stable_rank(task: str, seed: int) -> bytes:
    return hashlib.blake2b(f"{task}|{seed}".encode(), digest_size=8).digest()


class PairedDemoDataset(torch.utils.data.Dataset):
    """Map-style dataset: item i = (demo i of task t, M pairs from demo j != i of task t)."""

    def __init__(self, demos: Sequence[dict], pairs_per_task: int = 16, seed: int = 0,
                 with_stage_ends: bool = False, retime_probability: float = 0.0,
                 retime_speed: tuple[float, float] = SPEED_RANGE):
        """`demos`: dicts with task, obs (T, 3B+2), expert_actions (T, 4), stage_ends, success.
        `retime_probability`: this fraction of conditioning demos is re-timed as a person would
        pace it (`data.retime`, at `retime_speed` source steps per step); the pairs are never
        re-timed."""
        if pairs_per_task < 1:
            raise ValueError(f"pairs_per_task={pairs_per_task}: use at least 1")
        if not 0.0 <= retime_probability <= 1.0:
            raise ValueError(f"retime_probability={retime_probability}: use a value in [0, 1]")
        self.retime_probability, self.retime_speed = retime_probability, tuple(retime_speed)
        self.demos = list(demos)
        self.pairs_per_task, self.seed, self.epoch = pairs_per_task, seed, 0
        self.with_stage_ends = with_stage_ends
        by_task: dict[str, list[int]] = {}
        for k, demo in enumerate(self.demos):
            by_task.setdefault(demo["task"], []).append(k)
        self.partners = {task: ks for task, ks in by_task.items() if len(ks) >= 2}
        self._slot = {k: slot for ks in self.partners.values() for slot, k in enumerate(ks)}
        dropped = sorted(set(by_task) - set(self.partners))
        if dropped:
            log.warning("tasks with a single demonstration cannot be paired, skipped: %s", dropped)
        # Conditioning demos: successful demonstrations of pairable tasks (the paper conditions
        # on success); learner rollouts only supply pairs.
        self.conditioning = [k for k, d in enumerate(self.demos)
                             if d["task"] in self.partners and d["success"]
                             and d.get("source", "scripted") not in LEARNER_SOURCES]
        if not self.conditioning:
            raise ValueError("no task has two demonstrations: collect at least 2 per task")

    @classmethod
    def from_reader(cls, reader: DemoReader, indices: Sequence[int] | None = None,
                    **kwargs) -> PairedDemoDataset:
        """Read demonstrations `indices` (default all) of `reader` into memory."""
        indices = range(len(reader)) if indices is None else indices
        return cls([_load(reader, i) for i in indices], **kwargs)

    @property
    def tasks(self) -> list[str]:
        return sorted(self.partners)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.conditioning)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        d1 = self.conditioning[index]
        task = self.demos[d1]["task"]
        partners = self.partners[task]
        slot = rng.integers(len(partners) - 1)  # uniform over the task's OTHER demos:
        slot += slot >= self._slot[d1]  # skip d1's own slot, never pair a demo with itself
        d2 = self.demos[partners[slot]]
        steps = rng.integers(len(d2["obs"]), size=self.pairs_per_task)  # (M,)
        demo_obs, stage_ends = self.demos[d1]["obs"], self.demos[d1]["stage_ends"]  # (T1, 3B+2)
        if self.retime_probability and rng.random() < self.retime_probability:
            demo_obs, stage_ends = retime(demo_obs, rng, stage_ends,
                                          self.retime_speed)  # (T1', 3B+2)
        item = {keys.DEMO_OBS: demo_obs,
                keys.OBS: d2["obs"][steps],  # (M, 3B+2)
                keys.ACTION: d2["expert_actions"][steps]}  # (M, 4)
        if self.with_stage_ends:
            item[keys.DEMO_STAGE_END] = stage_end_mask(len(demo_obs), stage_ends)
            item[keys.OBS_STAGE] = stages_done(d2["stage_ends"], steps)  # (M,)
        return item


def stages_done(stage_ends, steps: np.ndarray) -> np.ndarray:
    """(M,) steps -> (M,) int64: how many stages had ended before each step (a step that ends a
    stage is still in it)."""
    return np.searchsorted(np.sort(np.asarray(stage_ends, dtype=np.int64)), steps,
                           side="left").astype(np.int64)


def stage_end_mask(length: int, stage_ends) -> np.ndarray:
    """(T,) bool, True at the step where each stage ended (the snapshot baseline's frames)."""
    mask = np.zeros(length, dtype=bool)
    ends = np.asarray(stage_ends, dtype=np.int64)
    mask[ends[ends < len(mask)]] = True
    return mask


def _load(reader: DemoReader, index: int) -> dict:
    episode = reader[index]
    return {"task": episode.task, "seed": episode.seed, "obs": episode.obs,
            "expert_actions": episode.expert_actions, "stage_ends": episode.stage_ends,
            "success": episode.success, "source": episode.source, "index": index}
