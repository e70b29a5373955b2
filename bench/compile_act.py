"""Is torch.compile of the inference path a latency lever? Eager vs compiled `Imitator.act`.

    python bench/compile_act.py [--blocks 10] [--demo-len 700] [--acts 300] [--dynamic]

One thread, ensemble 10, random weights. `FastPolicy.logits` is compiled with inductor
(`cpp_wrapper`); oneDNN's pre-packed matmuls are switched off for it (dynamo cannot trace
them). Prints eager, compiled and eager again (median / p99 ms, wall and thread CPU), the
actions' largest difference, the compile time, and with --dynamic the first act after a new
demo shape (what a new episode costs). Result, 2026-12-03: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch._inductor.config as inductor_config
from bench_policy import time_acts  # bench/ is on sys.path when this script runs

from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.policy.imitator import Imitator
from oneshot_ros.policy.modeling import OneShotPolicy


def timed(imitator: Imitator, obs: np.ndarray, n_acts: int) -> dict:
    wall, cpu = time_acts(imitator, obs, n_acts, warm_up=30)
    return {"wall_median_ms": float(np.median(wall)),
            "wall_p99_ms": float(np.percentile(wall, 99)),
            "cpu_median_ms": float(np.median(cpu)), "cpu_p99_ms": float(np.percentile(cpu, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--demo-len", type=int, default=700)
    parser.add_argument("--acts", type=int, default=300)
    parser.add_argument("--dynamic", action="store_true", help="one graph for every shape")
    args = parser.parse_args()
    torch.set_num_threads(1)
    inductor_config.cpp_wrapper = True
    rng = np.random.default_rng(1)
    width = 3 * args.blocks + 2
    imitator = Imitator(OneShotPolicy(PolicyConfig()), ensemble=10, seed=0)
    imitator.set_demo(rng.normal(scale=0.2, size=(args.demo_len, width)))
    obs = rng.normal(scale=0.2, size=(400, width))
    reference = [imitator.act(o)[0] for o in obs[:5]]
    result = {"eager": timed(imitator, obs, args.acts)}
    eager_logits = imitator.fast.logits
    fast = imitator.fast
    for linear in (*fast.cell_linear, *fast.spatial_linear):
        linear.packed = None  # addmm: traceable
    start = time.perf_counter()
    fast.logits = torch.compile(eager_logits, dynamic=args.dynamic)
    imitator.act(obs[0])
    result["compile_s"] = time.perf_counter() - start
    result["max_action_diff"] = max(float(np.abs(imitator.act(o)[0] - r).max())
                                    for o, r in zip(obs[:5], reference, strict=True))
    result["compiled"] = timed(imitator, obs, args.acts)
    if args.dynamic:  # a new episode: another demo length, then another block count
        result["first_act_after_new_shape_s"] = {}
        for length, blocks in ((args.demo_len * 2 // 3, args.blocks), (300, 6)):
            imitator.set_demo(rng.normal(scale=0.2, size=(length, 3 * blocks + 2)))
            start = time.perf_counter()
            imitator.act(rng.normal(scale=0.2, size=3 * blocks + 2))
            result["first_act_after_new_shape_s"][f"T={length},B={blocks}"] = \
                time.perf_counter() - start
        imitator.set_demo(rng.normal(scale=0.2, size=(args.demo_len, width)))
    fast.logits = eager_logits
    result["eager_again"] = timed(imitator, obs, args.acts)
    result["compiled_over_eager_median"] = (result["compiled"]["wall_median_ms"]
                                            / result["eager"]["wall_median_ms"])
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
