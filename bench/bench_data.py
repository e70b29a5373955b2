"""Data pipeline speed: collection demos/min (1 and 2 workers), bytes/demo, loader vs training.

    python bench/bench_data.py [--demos-per-task 4] [--out bench/results/bench_data.json]

1. Collects the same demonstrations (real StackingEnv + scripted demonstrator) with 1 and with 2
   worker processes; prints demos/min for each (wall time, spawn start-up included), the
   scaling ratio, and the 2-worker rate without the one-off start-up (workers import PyBullet and
   Pinocchio). Checks that both files hold identical episodes. The machine's load average is
   recorded: on a shared 2-core machine other jobs make the 2-worker figure meaningless.
2. Bytes per demonstration on disk (gzip + shuffle, the writer's default).
3. PairedDemoDataset + data.batch.collate samples/s (one sample = one task: a conditioning
   demo and M pairs), against the samples/s of one bc_step of the default OneShotPolicy on the
   same batches: the loader must be much faster than training.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from oneshot_ros.data import batch as keys
from oneshot_ros.data.dataset import PairedDemoDataset
from oneshot_ros.data.storage import DemoReader
from oneshot_ros.demos.collect import collect
from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.policy.modeling import OneShotPolicy
from oneshot_ros.train.step import bc_step, make_optimizer
from oneshot_ros.world.world_config import default_world_config

TASKS = ["ab", "abc", "ab cd", "a bc"]  # 1-2 stages: short demos keep the benchmark quick


def _import_world() -> None:
    import oneshot_ros.demos.demonstrator  # noqa: F401  (pybullet, pinocchio: the start-up cost)
    import oneshot_ros.sim.env  # noqa: F401


def worker_startup_s(workers: int) -> float:
    """Wall time to spawn `workers` processes that import the world (paid once per collect)."""
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.starmap(_import_world, [()] * workers)
    return time.perf_counter() - start


def bench_collect(out_dir: Path, demos_per_task: int) -> dict:
    results = {"load_average_before": os.getloadavg()[0],
               "worker_startup_s_2w": worker_startup_s(2)}
    for workers in (1, 2):
        out = out_dir / f"w{workers}.h5"
        start = time.perf_counter()
        report = collect(TASKS, demos_per_task, out, workers=workers, progress=False)
        wall_s = time.perf_counter() - start
        results[f"demos_per_min_{workers}w"] = 60.0 * report.written / wall_s
        results[f"wall_s_{workers}w"] = wall_s
    steady_2w = 60.0 * report.written / (results["wall_s_2w"] - results["worker_startup_s_2w"])
    results["demos_per_min_2w_after_startup"] = steady_2w
    results["scaling_2w_over_1w"] = results["demos_per_min_2w"] / results["demos_per_min_1w"]
    results["scaling_after_startup"] = steady_2w / results["demos_per_min_1w"]
    with DemoReader(out_dir / "w1.h5") as one, DemoReader(out_dir / "w2.h5") as two:
        results["identical_1w_2w"] = all(
            np.array_equal(one[i].obs, two[i].obs) and np.array_equal(one[i].actions,
                                                                      two[i].actions)
            for i in range(len(one)))
        results["demos"] = len(one)
        results["mean_length"] = float(np.mean([one.meta(i)["length"] for i in range(len(one))]))
    results["bytes_per_demo"] = (out_dir / "w1.h5").stat().st_size / results["demos"]
    results["bytes_per_step"] = results["bytes_per_demo"] / results["mean_length"]
    return results


def bench_loader(path: Path, batch_size: int, pairs: int, seconds: float = 2.0) -> dict:
    start = time.perf_counter()
    with DemoReader(path) as reader:
        dataset = PairedDemoDataset.from_reader(reader, pairs_per_task=pairs)
    load_s = time.perf_counter() - start
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                         collate_fn=keys.collate)
    samples, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for batch in loader:
            samples += len(batch[keys.DEMO_OBS])
    return {"load_s": load_s, "loader_samples_per_s": samples / (time.perf_counter() - start),
            "loader": loader}


def bench_train(loader, max_step_m: float, steps: int = 5) -> float:
    model = OneShotPolicy(PolicyConfig(max_step_m=max_step_m))
    optimizer = make_optimizer(model)
    batches = iter(loader)
    bc_step(model, optimizer, next(batches))  # data-dependent weight-norm init, warm-up
    samples, start = 0, time.perf_counter()
    for _ in range(steps):
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(loader)
            batch = next(batches)
        bc_step(model, optimizer, batch)
        samples += len(batch[keys.DEMO_OBS])
    return samples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--demos-per-task", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8, help="N tasks per batch")
    parser.add_argument("--pairs", type=int, default=16, help="M (obs, action) pairs per task")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        results = bench_collect(Path(tmp), args.demos_per_task)
        loading = bench_loader(Path(tmp) / "w1.h5", args.batch_size, args.pairs)
    loader = loading.pop("loader")
    results.update(loading)
    max_step_m = default_world_config()["max_step_m"]
    results["train_samples_per_s"] = bench_train(loader, max_step_m)
    results["loader_over_train"] = results["loader_samples_per_s"] / results["train_samples_per_s"]
    results.update(batch_size=args.batch_size, pairs=args.pairs, tasks=TASKS)
    for key, value in results.items():
        print(f"{key:>24}: {value:.3g}" if isinstance(value, float) else f"{key:>24}: {value}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
