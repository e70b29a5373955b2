"""Training throughput: behavioral-cloning samples/s, today's eager step vs the options, one run.

    python bench/bench_train.py --data ~/.cache/oneshot_ros/data/train_all_25.h5 [--steps 6]
                                [--tasks 16] [--pairs 32] [--threads 2] [--json]

Batches are the trainer's own (TaskSampler over the 1-7 stage training tasks of --data, the
paper's N tasks x M pairs), the same batches for every variant; without --data, random batches
of 2-10 blocks and demos of up to 700 steps. Variants are timed in turn, step k of every variant
back to back (machine load hits all alike), after two warm-up steps each (which include any
compilation, reported separately):
  eager              the step as trained until now (TrainConfig.compile_scores: false)
  compiled           attention scores through torch.compile (compile_scores: true)
  compiled_2x_pairs  the same, half the tasks and twice the pairs per conditioning demo (same
                     samples per step; changes the batch statistics, so only a speed figure)
samples/s counts (observation, expert action) pairs; ratios are against eager.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from oneshot_ros.policy import attention
from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.policy.modeling import OneShotPolicy
from oneshot_ros.train.step import bc_step, make_optimizer

sys.path.insert(0, str(Path(__file__).parent))
from bench_policy import random_batch  # noqa: E402


def batches_from_data(data: str, n_tasks: int, n_pairs: int, count: int) -> list[dict]:
    from oneshot_ros.train.bc import TaskSampler, TrainConfig, load_datasets

    cfg = TrainConfig(tasks_per_batch=n_tasks, pairs_per_task=n_pairs)
    train_ds, _, _ = load_datasets(data, cfg)
    sampler = TaskSampler(train_ds, n_tasks, seed=0)
    return [sampler.batch(k) for k in range(count)]


def make_batches(args, n_tasks: int, n_pairs: int) -> list[dict]:
    count = args.steps + 2
    if args.data:
        return batches_from_data(args.data, n_tasks, n_pairs, count)
    rng = np.random.default_rng(0)
    return [random_batch(rng, n_tasks, n_pairs, 700) for _ in range(count)]


class Variant:
    """One training setup: its own model and optimizer (same initial weights for all)."""

    def __init__(self, name: str, compiled: bool, batches: list[dict]):
        self.name, self.compiled, self.batches = name, compiled, batches
        torch.manual_seed(0)
        self.model = OneShotPolicy(PolicyConfig(state_scale=10, demo_norm=True))
        self.optimizer = make_optimizer(self.model)
        self.seconds: list[float] = []
        self.samples = 0

    def step(self, k: int, timed: bool) -> None:
        attention.use_compiled_scores(self.compiled)
        batch = self.batches[k]
        start = time.perf_counter()
        bc_step(self.model, self.optimizer, batch)
        if timed:
            self.seconds.append(time.perf_counter() - start)
            self.samples += int(batch["obs"].shape[0] * batch["obs"].shape[1])
        attention.use_compiled_scores(False)

    def result(self, warmup_s: float) -> dict:
        return {"samples_per_s": self.samples / sum(self.seconds), "warmup_s": warmup_s,
                "median_step_s": float(np.median(self.seconds))}


def run_interleaved(variants: list[Variant], steps: int) -> dict:
    """Two warm-up steps each (compilation included), then the timed steps in turn: step k of
    every variant runs back to back, so a change in machine load hits all of them alike."""
    warmups = {}
    for variant in variants:
        start = time.perf_counter()
        for k in range(2):
            variant.step(k, timed=False)
        warmups[variant.name] = time.perf_counter() - start
    for k in range(2, steps + 2):
        for variant in variants:
            variant.step(k, timed=True)
    return {v.name: v.result(warmups[v.name]) for v in variants}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="demonstration file(s) of the training tasks")
    parser.add_argument("--tasks", type=int, default=16, help="N tasks per batch")
    parser.add_argument("--pairs", type=int, default=32, help="M pairs per task")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per variant")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batches = make_batches(args, args.tasks, args.pairs)
    wide = make_batches(args, max(args.tasks // 2, 1), 2 * args.pairs)
    result = {"load_average": os.getloadavg()[0], "threads": args.threads,
              "batch": f"{args.tasks} tasks x {args.pairs} pairs",
              "data": args.data or "random",
              **run_interleaved([Variant("eager", False, batches),
                                 Variant("compiled", True, batches),
                                 Variant("compiled_2x_pairs", True, wide)], args.steps)}
    base = result["eager"]["samples_per_s"]
    for name in ("eager", "compiled", "compiled_2x_pairs"):
        result[name]["ratio_vs_eager"] = result[name]["samples_per_s"] / base
    result["load_average_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{result['batch']}, {args.threads} threads, data: {result['data']}; load average "
          f"{result['load_average']:.2f} -> {result['load_average_end']:.2f}")
    for name in ("eager", "compiled", "compiled_2x_pairs"):
        row = result[name]
        print(f"  {name:18s} {row['samples_per_s']:7.0f} samples/s   ratio "
              f"{row['ratio_vs_eager']:.2f}x   (warm-up with compilation {row['warmup_s']:.0f} s)")


if __name__ == "__main__":
    main()
