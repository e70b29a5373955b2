"""Policy speed: BC training samples/s and Imitator.act latency, in one run.

    python bench/bench_policy.py [--blocks 10] [--demo-len 700] [--acts 300] [--repeats 3]
                                 [--act-only] [--json]

1. Training: bc_step of the default OneShotPolicy (D=64, K=21) on random padded batches of
   N tasks x M pairs (2-10 blocks, demos of --demo-len steps); samples/s counts (obs, action)
   pairs. One CPU thread, and the GPU too when one is present.
2. act latency with --blocks blocks, one thread, for ensembles of 1 and 10: median and p99 of
   `act` with the demo embedded once (set_demo per episode, as deployed) vs recomputing the
   demo embedding every step (set_demo + act), and their ratio; and, for comparison, the same
   act through the training network (ContextNetwork.forward on the cached step 1, the pre-
   FastPolicy path). The act measurement runs --repeats times (the machine may be shared);
   every repeat is reported and the summary keeps the repeat with the lowest cached median.
Random weights and inputs: speed does not depend on the values.

    python bench/bench_policy.py --baseline 79d7f63 [--repeats 5] [--model models/bc_all_stages]

3. Before/after in one run: `act` of the code at --baseline (a git revision, extracted with
   `git archive` into a temporary directory) and of this tree, with the same weights, demo and
   observations, in alternating subprocesses (baseline, current, current, baseline, ...) so a
   shared machine's load falls on both alike. Per ensemble size: the median and p99 of all the
   repeats' act times pooled, wall clock and this thread's CPU time (what an act costs on one
   core when a loaded machine preempts it), and each repeat's wall median, for both. --model
   times a trained checkpoint (what is deployed) instead of untrained weights.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from oneshot_ros.data import batch as keys
from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.policy.imitator import Imitator
from oneshot_ros.policy.modeling import OneShotPolicy
from oneshot_ros.train.step import bc_step, make_optimizer


def random_batch(rng, n_tasks: int, n_pairs: int, demo_len: int) -> dict:
    items = []
    for _ in range(n_tasks):
        b = int(rng.integers(2, 11))
        t = int(rng.integers(demo_len // 2, demo_len + 1))
        items.append({keys.DEMO_OBS: rng.normal(scale=0.2, size=(t, 3 * b + 2)),
                      keys.OBS: rng.normal(scale=0.2, size=(n_pairs, 3 * b + 2)),
                      keys.ACTION: rng.normal(scale=0.01, size=(n_pairs, 4))})
    return keys.collate(items)


def train_rate(device: str, n_tasks: int, n_pairs: int, demo_len: int, steps: int) -> float:
    rng = np.random.default_rng(0)
    model = OneShotPolicy(PolicyConfig()).to(device)
    optimizer = make_optimizer(model)
    batches = [{k: v.to(device) for k, v in random_batch(rng, n_tasks, n_pairs,
                                                           demo_len).items()}
               for _ in range(steps + 2)]
    for batch in batches[:2]:  # warm-up
        bc_step(model, optimizer, batch)
    _sync(device)
    start = time.perf_counter()
    for batch in batches[2:]:
        bc_step(model, optimizer, batch)
    _sync(device)
    return steps * n_tasks * n_pairs / (time.perf_counter() - start)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def act_latency(ensemble: int, blocks: int, demo_len: int, n_acts: int) -> dict:
    rng = np.random.default_rng(1)
    imitator = Imitator(OneShotPolicy(PolicyConfig()), ensemble=ensemble, seed=0)
    demo = rng.normal(scale=0.2, size=(demo_len, 3 * blocks + 2))
    obs = rng.normal(scale=0.2, size=(n_acts, 3 * blocks + 2))
    imitator.set_demo(demo)
    cached = _timed(lambda k: imitator.act(obs[k]), n_acts)
    training = _timed(_training_path_act(imitator, demo, obs), n_acts)
    recomputed = _timed(lambda k: (imitator.set_demo(demo), imitator.act(obs[k])),
                        max(n_acts // 5, 20))
    return {"ensemble": ensemble, "cached_median_ms": cached[0], "cached_p99_ms": cached[1],
            "recompute_median_ms": recomputed[0], "recompute_p99_ms": recomputed[1],
            "recompute_over_cached": recomputed[0] / cached[0],
            "training_path_median_ms": training[0], "training_path_p99_ms": training[1],
            "training_path_over_cached": training[0] / cached[0]}


def _training_path_act(imitator: Imitator, demo: np.ndarray, obs: np.ndarray):
    """act through ContextNetwork.forward (the imitator's folded model) on the cached step 1."""
    model, e = imitator.model, imitator.ensemble
    with torch.inference_mode():
        demo_t = torch.from_numpy(demo.astype(np.float32)).expand(e, -1, -1)
        block_mask = torch.ones(e, (demo.shape[1] - 2) // 3, dtype=torch.bool)
        embedding = model.embed_demo(demo_t, torch.ones(e, len(demo), dtype=torch.bool),
                                     block_mask, generator=torch.Generator().manual_seed(0))
        cache = model.prepare(embedding, block_mask)

    @torch.inference_mode()
    def act(k: int):
        obs_t = torch.from_numpy(obs[k].astype(np.float32)).expand(e, 1, -1)
        logits, _ = model.act_logits(cache, obs_t)  # (E, 1, A)
        head = model.head
        return head.decode(head.ensemble(head.distribution(logits[:, 0]))).numpy()

    return act


def act_times(ensemble: int, blocks: int, demo_len: int, n_acts: int,
              model_dir: str | None = None) -> tuple[list[float], list[float]]:
    """Wall and CPU (this thread's) milliseconds of each of n_acts acts (after 20 warm-up acts);
    seeded weights and inputs, so every code version times the same function on the same
    numbers. CPU time is what the act costs on one core even when a loaded machine preempts it
    (wall time then includes the waits). model_dir: a trained checkpoint's weights instead of
    untrained ones (a trained model's values decide which exp/sigmoid forms FastPolicy takes)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    imitator = (Imitator(OneShotPolicy(PolicyConfig()), ensemble=ensemble, seed=0)
                if model_dir is None else
                Imitator.from_checkpoint(model_dir, ensemble=ensemble, seed=0))
    imitator.set_demo(rng.normal(scale=0.2, size=(demo_len, 3 * blocks + 2)))
    obs = rng.normal(scale=0.2, size=(n_acts, 3 * blocks + 2))
    return time_acts(imitator, obs, n_acts)


def time_acts(imitator: Imitator, obs: np.ndarray, n_acts: int,
              warm_up: int = 20) -> tuple[list[float], list[float]]:
    """Wall and this thread's CPU milliseconds of n_acts acts on obs (cycled), after warm_up."""
    for k in range(warm_up):
        imitator.act(obs[k % len(obs)])
    wall, cpu = [], []
    for k in range(n_acts):
        start, start_cpu = time.perf_counter(), time.thread_time()
        imitator.act(obs[k % len(obs)])
        cpu.append(1e3 * (time.thread_time() - start_cpu))
        wall.append(1e3 * (time.perf_counter() - start))
    return wall, cpu


def compare_with_baseline(revision: str, args) -> dict:
    """act of `revision` vs this tree, alternating subprocesses; see the module docstring."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", revision, "oneshot_ros"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {"baseline": tmp, "current": str(root)}
        result = {"baseline_revision": revision, "ensembles": []}
        for ensemble in (1, 10):
            pooled = {(name, clock): [] for name in trees for clock in ("wall", "cpu")}
            medians = {name: [] for name in trees}
            for repeat in range(max(args.repeats, 1)):
                order = list(trees) if repeat % 2 == 0 else list(reversed(trees))
                for name in order:
                    wall, cpu = _worker(trees[name], ensemble, args)
                    pooled[name, "wall"] += wall
                    pooled[name, "cpu"] += cpu
                    medians[name].append(float(np.median(wall)))
            row = {"ensemble": ensemble}
            for name in trees:
                row[name] = {f"{clock}_{stat}_ms": float(np.percentile(pooled[name, clock], q))
                             for clock in ("wall", "cpu") for stat, q in (("median", 50),
                                                                          ("p99", 99))}
                row[name].update(repeat_wall_medians_ms=medians[name], n=len(medians[name]) *
                                 args.acts)
            for clock in ("wall", "cpu"):
                row[f"{clock}_median_speedup"] = (row["baseline"][f"{clock}_median_ms"] /
                                                  row["current"][f"{clock}_median_ms"])
            result["ensembles"].append(row)
    return result


def _worker(tree: str, ensemble: int, args) -> tuple[list[float], list[float]]:
    env = {**os.environ, "PYTHONPATH": tree + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, __file__, "--worker", str(ensemble), "--blocks", str(args.blocks),
               "--demo-len", str(args.demo_len), "--acts", str(args.acts)]
    if args.model:
        command += ["--model", args.model]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    reply = json.loads(out.strip().splitlines()[-1])
    if not reply["module"].startswith(tree):
        raise RuntimeError(f"the worker imported {reply['module']}, not the tree {tree}")
    return reply["wall_ms"], reply["cpu_ms"]


def best_of(repeats: list[dict]) -> dict:
    """The repeat with the lowest cached median (the quietest moment), with all medians."""
    best = dict(min(repeats, key=lambda row: row["cached_median_ms"]))
    best["repeats_cached_median_ms"] = [row["cached_median_ms"] for row in repeats]
    best["repeats_cached_p99_ms"] = [row["cached_p99_ms"] for row in repeats]
    return best


def _timed(fn, n: int) -> tuple[float, float]:
    for k in range(10):  # warm-up
        fn(k % n)
    times = []
    for k in range(n):
        start = time.perf_counter()
        fn(k)
        times.append(1e3 * (time.perf_counter() - start))
    return float(np.median(times)), float(np.percentile(times, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--demo-len", type=int, default=700, help="demo steps (10 blocks ~700)")
    parser.add_argument("--acts", type=int, default=300)
    parser.add_argument("--tasks", type=int, default=8, help="N tasks per training batch")
    parser.add_argument("--pairs", type=int, default=16, help="M (obs, action) pairs per task")
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="act measurements per ensemble")
    parser.add_argument("--act-only", action="store_true", help="skip the training benchmark")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--baseline", metavar="REV", help="also time act of this git revision "
                        "against this tree, alternating (implies --act-only)")
    parser.add_argument("--model", help="with --baseline: time a trained checkpoint "
                        "(e.g. models/bc_all_stages) instead of untrained weights")
    parser.add_argument("--worker", type=int, metavar="E", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.worker:  # one subprocess of --baseline: act times of the oneshot_ros it imports
        import oneshot_ros

        wall, cpu = act_times(args.worker, args.blocks, args.demo_len, args.acts, args.model)
        print(json.dumps({"module": oneshot_ros.__file__, "wall_ms": wall, "cpu_ms": cpu}))
        return
    if args.baseline:
        result = {"load_average": os.getloadavg()[0], "blocks": args.blocks,
                  "demo_len": args.demo_len, "acts_per_repeat": args.acts,
                  "model": args.model or "untrained default OneShotPolicy",
                  **compare_with_baseline(args.baseline, args),
                  "load_average_end": os.getloadavg()[0]}
        print(json.dumps(result, indent=1))
        return
    result = {"load_average": os.getloadavg()[0], "blocks": args.blocks,
              "demo_len": args.demo_len, "batch": f"{args.tasks} tasks x {args.pairs} pairs"}
    if not args.act_only:
        result["train_samples_per_s_cpu"] = train_rate("cpu", args.tasks, args.pairs,
                                                       args.demo_len, args.train_steps)
    if torch.cuda.is_available() and not args.act_only:
        result["train_samples_per_s_gpu"] = train_rate("cuda", args.tasks, args.pairs,
                                                       args.demo_len, 4 * args.train_steps)
    result["act"] = [best_of([act_latency(e, args.blocks, args.demo_len, args.acts)
                              for _ in range(max(args.repeats, 1))]) for e in (1, 10)]
    result["load_average_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(result, indent=1))
        return
    _print_table(args, result)


def _print_table(args, result: dict) -> None:
    print(f"load average {result['load_average']:.2f} -> {result['load_average_end']:.2f}; "
          f"{result['batch']}, demos <= {args.demo_len} steps")
    for key in ("train_samples_per_s_cpu", "train_samples_per_s_gpu"):
        if key in result:
            print(f"{key}: {result[key]:.0f}")
    print(f"act, {args.blocks} blocks, one thread (ms)  median   p99")
    for row in result["act"]:
        print(f"  ensemble {row['ensemble']:2d}, demo cached      {row['cached_median_ms']:6.2f} "
              f"{row['cached_p99_ms']:6.2f}")
        print(f"  ensemble {row['ensemble']:2d}, demo recomputed  "
              f"{row['recompute_median_ms']:6.2f} {row['recompute_p99_ms']:6.2f}   "
              f"ratio {row['recompute_over_cached']:.1f}x")
        print(f"  ensemble {row['ensemble']:2d}, training network "
              f"{row['training_path_median_ms']:6.2f} {row['training_path_p99_ms']:6.2f}   "
              f"ratio {row['training_path_over_cached']:.1f}x")
        medians = " ".join(f"{m:.2f}" for m in row["repeats_cached_median_ms"])
        p99s = " ".join(f"{m:.2f}" for m in row["repeats_cached_p99_ms"])
        print(f"    cached, every repeat: medians {medians}; p99 {p99s}")


if __name__ == "__main__":
    main()
