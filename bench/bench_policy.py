"""Policy speed: BC training samples/s and Imitator.act latency, in one run.

    python bench/bench_policy.py [--blocks 10] [--demo-len 700] [--acts 300] [--repeats 3]
                                 [--act-only] [--json]

1. Training: bc_step of the default OneShotPolicy (D=64, K=21) on random padded batches of
   N tasks x M pairs (2-10 blocks, demos of --demo-len steps); samples/s counts (obs, action)
   pairs. One CPU thread, and the GPU too when one is present.
2. act latency with --blocks blocks, one thread, for ensembles of 1 and 10: median and p99 of
   `act` with the demo embedded once (set_demo per episode, as deployed) vs recomputing the
   demo embedding every step (set_demo + act), and their ratio; and, for comparison, the same
   act through the training network (`TrainingNetwork`: ContextNetwork.forward on the cached
   step 1, the pre-FastPolicy path). The act measurement runs --repeats times in this process;
   every repeat is reported and the summary keeps the repeat with the lowest cached median.
Random weights and inputs. For before/after figures use 3: only it is fair between versions.

    python bench/bench_policy.py --baseline CODE [--candidate CODE] [--model models/bc_all_stages]
        [--baseline-net training] [--processes 4] [--rounds 8] [--burst 50] [--out FILE]

3. A/B of `act`: CODE is a git revision (extracted with `git archive`) or a directory holding
   oneshot_ros; the candidate defaults to this tree, so `--baseline HEAD` on an unchanged tree
   is an A/A run that measures the harness's own bias (bench/README.md). Both arms run the same
   way: each in its own fresh worker process (PYTHONPATH naming its tree, checked), one torch
   thread (OMP/MKL too), the same seeded weights (or --model), demo and observation sequence,
   --warm-up acts first. The arms then take turns on request, one burst of --burst timed acts
   (after 3 untimed ones) at a time, in ABBA order for --rounds rounds, so load on a shared
   machine falls on both alike; --processes such pairs of workers run one after the other, as
   each process has its own speed (memory layout: +-2-5% between processes in A/A runs).
   Per ensemble: wall and CPU (this thread's: what an act costs when a loaded machine preempts
   it) median and p99 per arm, pooled; the speedups baseline / candidate (> 1: candidate
   faster) of the median and p99 with a 95% interval from a two-level bootstrap (process
   pairs, then rounds); the load average before and after each pair. --baseline-net training
   times the baseline's act through TrainingNetwork instead of FastPolicy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.policy.imitator import Imitator
from oneshot_ros.policy.modeling import OneShotPolicy


def random_batch(rng, n_tasks: int, n_pairs: int, demo_len: int) -> dict:
    from oneshot_ros.data import batch as keys  # here: an A/B worker imports only the policy

    items = []
    for _ in range(n_tasks):
        b = int(rng.integers(2, 11))
        t = int(rng.integers(demo_len // 2, demo_len + 1))
        items.append({keys.DEMO_OBS: rng.normal(scale=0.2, size=(t, 3 * b + 2)),
                      keys.OBS: rng.normal(scale=0.2, size=(n_pairs, 3 * b + 2)),
                      keys.ACTION: rng.normal(scale=0.01, size=(n_pairs, 4))})
    return keys.collate(items)


def train_rate(device: str, n_tasks: int, n_pairs: int, demo_len: int, steps: int) -> float:
    from oneshot_ros.train.step import bc_step, make_optimizer

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
    model = OneShotPolicy(PolicyConfig())
    imitator = Imitator(model, ensemble=ensemble, seed=0)
    training = use_training_network(Imitator(model, ensemble=ensemble, seed=0))
    demo = rng.normal(scale=0.2, size=(demo_len, 3 * blocks + 2))
    obs = rng.normal(scale=0.2, size=(n_acts, 3 * blocks + 2))
    imitator.set_demo(demo)
    training.set_demo(demo)
    cached = _timed(lambda k: imitator.act(obs[k]), n_acts)
    through_training = _timed(lambda k: training.act(obs[k]), n_acts)
    recomputed = _timed(lambda k: (imitator.set_demo(demo), imitator.act(obs[k])),
                        max(n_acts // 5, 20))
    return {"ensemble": ensemble, "cached_median_ms": cached[0], "cached_p99_ms": cached[1],
            "recompute_median_ms": recomputed[0], "recompute_p99_ms": recomputed[1],
            "recompute_over_cached": recomputed[0] / cached[0],
            "training_path_median_ms": through_training[0],
            "training_path_p99_ms": through_training[1],
            "training_path_over_cached": through_training[0] / cached[0]}


class TrainingNetwork:
    """In place of `Imitator.fast`: act's logits through the training network (`prepare` once
    per demo, then `act_logits`: ContextNetwork.forward on the cached step 1 and the MLP), so
    that both paths share the rest of `act` (decoding, checks, attention)."""

    def __init__(self, model: OneShotPolicy):
        self.model = model

    def prepare(self, demo, block_mask):
        return self.model.prepare(demo, block_mask)

    def logits(self, cache, obs: torch.Tensor):
        logits, attention = self.model.act_logits(cache, obs[:, None])  # M = 1
        return logits[:, 0], {name: value[:, 0] for name, value in attention.items()}


def use_training_network(imitator: Imitator) -> Imitator:
    imitator.fast = TrainingNetwork(imitator.model)
    return imitator


# --- A/B of act (--baseline) ----------------------------------------------------------------
NETS = ("fused", "training")  # Imitator.act as shipped, or through TrainingNetwork
BURST_WARM_UP = 3  # untimed acts before each burst: the arm that waited has a cold cache


@dataclass
class Arm:
    name: str  # "baseline" or "candidate"
    code: str  # as given: a git revision, a directory holding oneshot_ros, or "."
    tree: str  # the directory put first on the worker's PYTHONPATH
    net: str  # one of NETS
    revision: str | None  # the commit, when code is a revision


def compare(specs: list[tuple[str, str]], args) -> dict:
    """A/B of act: specs [(code, net)] of the baseline and the candidate; see the docstring."""
    with tempfile.TemporaryDirectory() as tmp:
        arms = [_arm(name, code, net, Path(tmp) / name)
                for name, (code, net) in zip(("baseline", "candidate"), specs, strict=True)]
        result = {"arms": [{k: v for k, v in vars(arm).items() if k != "tree"} for arm in arms],
                  "ensembles": []}
        for ensemble in args.ensembles:
            result["ensembles"].append(_compare_ensemble(arms, ensemble, args))
    return result


def _arm(name: str, code: str, net: str, scratch: Path) -> Arm:
    root = Path(__file__).resolve().parents[1]
    if code == "." or (Path(code) / "oneshot_ros").is_dir():
        return Arm(name, code, str(root if code == "." else Path(code).resolve()), net, None)
    git = ["git", "-C", str(root)]
    revision = subprocess.run([*git, "rev-parse", "--verify", f"{code}^{{commit}}"], check=True,
                              capture_output=True, text=True).stdout.strip()
    archive = subprocess.run([*git, "archive", revision, "oneshot_ros"],
                             check=True, capture_output=True).stdout
    scratch.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(scratch)], input=archive, check=True)
    return Arm(name, code, str(scratch), net, revision)


def _compare_ensemble(arms: list[Arm], ensemble: int, args) -> dict:
    """--processes fresh pairs of workers, one after the other; each pair times --rounds bursts of
    --burst acts per arm, the arms taking turns in ABBA order."""
    load = [os.getloadavg()]
    bursts = {arm.name: [] for arm in arms}  # [pair][round]: (wall ms, cpu ms) of one burst
    modules = {}
    for pair in range(args.processes):
        workers = [_Worker(arm, ensemble, args) for arm in arms]  # both load at once
        for name in bursts:
            bursts[name].append([])
        try:
            modules.update({worker.arm.name: worker.ready() for worker in workers})
            for round_ in range(args.rounds):
                for worker in workers if (pair + round_) % 2 == 0 else workers[::-1]:
                    bursts[worker.arm.name][-1].append(worker.burst(args.burst))
        finally:
            for worker in workers:
                worker.close()
        load.append(os.getloadavg())
    row = {"ensemble": ensemble, "load_average_1_5_15": load, "modules": modules}
    wall = {name: np.array(pairs)[:, :, 0] for name, pairs in bursts.items()}  # (P, R, K)
    cpu = {name: np.array(pairs)[:, :, 1] for name, pairs in bursts.items()}
    for name in bursts:
        row[name] = {f"{clock}_{stat}_ms": float(np.percentile(times[name], q))
                     for clock, times in (("wall", wall), ("cpu", cpu))
                     for stat, q in (("median", 50), ("p99", 99))}
        row[name]["n_acts"] = int(wall[name].size)
        row[name]["wall_ms"] = np.round(wall[name], 3).tolist()  # [pair][round][act]
    rng = np.random.default_rng(0)
    for clock, times in (("wall", wall), ("cpu", cpu)):
        for stat, q in (("median", 50), ("p99", 99)):
            row[f"speedup_{clock}_{stat}"] = _speedup(times["baseline"], times["candidate"], q,
                                                      rng)
    a, b = (np.median(wall[name], axis=2) for name in ("baseline", "candidate"))  # (P, R)
    row["speedup_wall_median_per_pair"] = [float(x) for x in
                                           np.median(a, axis=1) / np.median(b, axis=1)]
    return row


def _speedup(a: np.ndarray, b: np.ndarray, q: float, rng, n_boot: int = 1000) -> dict:
    """baseline / candidate of the q-th percentile of act times a, b (P pairs, R rounds, K acts):
    > 1 when the candidate is faster; 95% interval of a two-level bootstrap (pairs, then rounds
    within them; both arms' bursts of a round drawn together), as each process has its own
    speed (its memory layout: +-2% between pairs seen in A/A runs)."""
    value = float(np.percentile(a, q) / np.percentile(b, q))
    n_pairs, n_rounds = a.shape[:2]
    boot = []
    for _ in range(n_boot):
        pairs = rng.integers(0, n_pairs, size=(n_pairs, 1))
        rounds = rng.integers(0, n_rounds, size=(n_pairs, n_rounds))
        boot.append(np.percentile(a[pairs, rounds], q) / np.percentile(b[pairs, rounds], q))
    low, high = np.percentile(boot, (2.5, 97.5))
    return {"ratio": value, "ci95": [float(low), float(high)]}


class _Worker:
    """One arm's act in its own process: loads, warms up, then times bursts on request."""

    def __init__(self, arm: Arm, ensemble: int, args):
        self.arm = arm
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONPATH": arm.tree + os.pathsep + os.environ.get("PYTHONPATH", "")}
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(ensemble),
                   "--net", arm.net, "--blocks", str(args.blocks), "--demo-len",
                   str(args.demo_len), "--warm-up", str(args.warm_up)]
        if args.model:
            command += ["--model", str(Path(args.model).resolve())]
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def _reply(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.arm.name} worker ({self.arm.code}) exited: "
                               f"status {self.process.wait()}, see its stderr above")
        return json.loads(line)

    def ready(self) -> str:
        module = self._reply()["module"]
        if not module.startswith(self.arm.tree):
            raise RuntimeError(f"the worker imported {module}, not the tree {self.arm.tree}")
        return module

    def burst(self, n: int) -> tuple[list[float], list[float]]:
        self.process.stdin.write(f"{n}\n")
        self.process.stdin.flush()
        reply = self._reply()
        return reply["wall_ms"], reply["cpu_ms"]

    def close(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def worker(args) -> None:
    """The --worker side of _Worker: one JSON line when ready, one per burst asked on stdin."""
    import oneshot_ros

    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    imitator = (Imitator(OneShotPolicy(PolicyConfig()), ensemble=args.worker, seed=0)
                if args.model is None else
                Imitator.from_checkpoint(args.model, ensemble=args.worker, seed=0))
    if args.net == "training":
        use_training_network(imitator)
    width = 3 * args.blocks + 2
    imitator.set_demo(rng.normal(scale=0.2, size=(args.demo_len, width)))
    obs = rng.normal(scale=0.2, size=(997, width))
    time_acts(imitator, obs, 0, warm_up=args.warm_up)
    step = args.warm_up  # the observations cycle on across bursts
    print(json.dumps({"module": oneshot_ros.__file__}), flush=True)
    for line in sys.stdin:
        wall, cpu = time_acts(imitator, obs, int(line), warm_up=BURST_WARM_UP, first=step)
        step += BURST_WARM_UP + int(line)
        print(json.dumps({"wall_ms": wall, "cpu_ms": cpu}), flush=True)


def time_acts(imitator: Imitator, obs: np.ndarray, n_acts: int, warm_up: int = 20,
              first: int = 0) -> tuple[list[float], list[float]]:
    """Wall and this thread's CPU milliseconds of n_acts acts after warm_up untimed ones, on
    obs cycled from index `first`."""
    wall, cpu = [], []
    for k in range(warm_up + n_acts):
        o = obs[(first + k) % len(obs)]
        start, start_cpu = time.perf_counter(), time.thread_time()
        imitator.act(o)
        if k >= warm_up:
            cpu.append(1e3 * (time.thread_time() - start_cpu))
            wall.append(1e3 * (time.perf_counter() - start))
    return wall, cpu


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
    ab = parser.add_argument_group("A/B of act (--baseline)")
    ab.add_argument("--baseline", metavar="CODE", help="time act of CODE (a git revision or a "
                    "directory holding oneshot_ros) against --candidate, interleaved")
    ab.add_argument("--candidate", metavar="CODE", default=".", help="default: this tree")
    ab.add_argument("--baseline-net", choices=NETS, default="fused")
    ab.add_argument("--candidate-net", choices=NETS, default="fused")
    ab.add_argument("--model", help="a trained checkpoint (e.g. models/bc_all_stages) instead "
                    "of untrained weights")
    ab.add_argument("--processes", type=int, default=4,
                    help="fresh worker processes per arm, started in pairs one pair at a time")
    ab.add_argument("--rounds", type=int, default=8, help="bursts per arm and pair (ABBA)")
    ab.add_argument("--burst", type=int, default=50, help="timed acts per burst")
    ab.add_argument("--warm-up", type=int, default=50, help="acts before the first burst")
    ab.add_argument("--ensembles", type=int, nargs="+", default=[1, 10])
    ab.add_argument("--out", help="also write the JSON result to this file")
    parser.add_argument("--worker", type=int, metavar="E", help=argparse.SUPPRESS)
    parser.add_argument("--net", choices=NETS, default="fused", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.worker:  # one arm of --baseline
        worker(args)
        return
    if args.baseline:
        result = {"blocks": args.blocks, "demo_len": args.demo_len, "processes": args.processes,
                  "rounds": args.rounds,
                  "burst": args.burst, "warm_up": args.warm_up, "threads": 1,
                  "cpus": os.cpu_count(), "model": args.model or "untrained default OneShotPolicy",
                  "date": time.strftime("%Y-%m-%d %H:%M"),
                  **compare([(args.baseline, args.baseline_net),
                             (args.candidate, args.candidate_net)], args)}
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        if args.json:
            print(json.dumps(result, indent=1))
        else:
            _print_comparison(result)
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


def _print_comparison(result: dict) -> None:
    for arm in result["arms"]:
        revision = f" ({arm['revision'][:10]})" if arm["revision"] else ""
        print(f"{arm['name']}: {arm['code']}{revision}, {arm['net']} net")
    print(f"{result['model']}; {result['blocks']} blocks, {result['demo_len']}-step demo, one "
          f"thread; {result['processes']} worker pairs x {result['rounds']} rounds x "
          f"{result['burst']} acts per arm, ABBA")
    print("ensemble | baseline ms: median, p99, CPU p99 | candidate ms: median, p99, CPU p99 | "
          "speedup [95% CI]: median, p99, CPU p99 | load 1-min start -> end")
    for row in result["ensembles"]:
        times = " | ".join(f"{row[name]['wall_median_ms']:5.2f} {row[name]['wall_p99_ms']:6.2f} "
                           f"{row[name]['cpu_p99_ms']:6.2f}" for name in ("baseline", "candidate"))
        speedups = "  ".join(f"{row[key]['ratio']:.3f} [{row[key]['ci95'][0]:.3f}, "
                             f"{row[key]['ci95'][1]:.3f}]" for key in
                             ("speedup_wall_median", "speedup_wall_p99", "speedup_cpu_p99"))
        load = row["load_average_1_5_15"]
        print(f"{row['ensemble']:8d} | {times} | {speedups} | {load[0][0]:.2f} -> "
              f"{load[-1][0]:.2f}")


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
