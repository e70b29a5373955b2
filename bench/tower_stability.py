"""Tall-tower stability and physics cost under solver settings (speed never at the
cost of tower stability).

    python bench/tower_stability.py [--trials 10] [--seconds 8]

For each setting and tower height (5, 8, 10 cubes), stacks the cubes with the placement errors
a demonstrator leaves (each cube off its support by N(0, --jitter) m in x and y, yaw N(0, 3°)),
holds the arm still away from the tower, and simulates --seconds. A tower counts as collapsed
when any cube moved more than 1 cm. The settings are WorldConfig as shipped, Bullet's own
residual threshold (1e-7: every island iterates to the cap), table and cubes as one-link
multibodies (PyBullet's default, slower), and 20 solver iterations, a setting that collapses
10-cube towers (this bench's negative control: if it does
not collapse, the test is too easy to tell anything). Prints collapses, the median
largest cube displacement and physics microseconds per stepSimulation, and writes JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from oneshot_ros.sim.env import StackingEnv
from oneshot_ros.world.world_config import WorldConfig

COLLAPSE_M = 0.01
TOWER_XY = (0.6, 0.35)  # base_link: on the table, clear of the arm's home pose
SETTINGS = {
    "shipped": {},
    "bullet default residual 1e-7": {"solver_residual_threshold": 1e-7},
    "table and cubes as multibodies": {"multibody": True},
    "20 iterations (negative control)": {"solver_iterations": 20},
}


def stand_tower(env: StackingEnv, height: int, rng: np.random.Generator, jitter_m: float):
    """Reset to a `height`-cube task and stack its cubes by hand (top block first in the task
    string, so cube 0 ends on top), each off its support by the sampled placement error."""
    env.reset("abcdefghij"[:height], seed=0)
    c, cfg = env.scene.client, env.config
    x, y = TOWER_XY[0] + 0.1 * rng.random(), TOWER_XY[1]
    for k, body in enumerate(env.scene.blocks):
        level = height - 1 - k
        pos = [x + rng.normal(0, jitter_m), y + rng.normal(0, jitter_m),
               cfg.table_height_m + cfg.block_size_m * (level + 0.5) + 0.0005]
        yaw = rng.normal(0, np.radians(3))
        c.resetBasePositionAndOrientation(body, pos, c.getQuaternionFromEuler([0, 0, yaw]))
        c.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0])
    env.refresh()


def run_setting(overrides: dict, heights, trials: int, seconds: float, jitter_m: float) -> dict:
    overrides = dict(overrides)
    multibody = overrides.pop("multibody", False)
    env = StackingEnv(dataclasses.replace(WorldConfig(), **overrides))
    if multibody:  # every later reset creates the table and cubes through this client
        create = env.scene.client.createMultiBody

        def create_multibody(*args, useMaximalCoordinates=False, **kwargs):  # noqa: N803
            return create(*args, **kwargs)

        env.scene.client.createMultiBody = create_multibody
    n_steps = int(seconds * env.config.physics_hz)
    out = {}
    for height in heights:
        rng = np.random.default_rng(height)  # the same towers for every setting
        moved, physics_s = [], 0.0
        for _ in range(trials):
            stand_tower(env, height, rng, jitter_m)
            start = env.block_positions()
            t0 = time.perf_counter()
            for _ in range(n_steps):
                env.scene.client.stepSimulation()
            physics_s += time.perf_counter() - t0
            env.refresh()
            moved.append(float(np.linalg.norm(env.block_positions() - start, axis=1).max()))
        out[height] = {"trials": trials, "collapsed": sum(m > COLLAPSE_M for m in moved),
                       "median_max_move_mm": 1000 * float(np.median(moved)),
                       "us_per_physics_step": 1e6 * physics_s / (trials * n_steps)}
    env.close()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--jitter", type=float, default=0.002, help="placement error std (m)")
    ap.add_argument("--out", default="bench/results/tower_stability.json")
    args = ap.parse_args()
    heights = (5, 8, 10)
    results = {name: run_setting(o, heights, args.trials, args.seconds, args.jitter)
               for name, o in SETTINGS.items()}
    print(f"{args.trials} towers per height, {args.seconds:.0f} s each, placement error "
          f"{1000 * args.jitter:.0f} mm std; collapsed = a cube moved > {100 * COLLAPSE_M:.0f} cm")
    print(f"{'setting':34s} {'height':>6} {'collapsed':>9} {'median move mm':>14} {'us/step':>8}")
    for name, rows in results.items():
        for height, r in rows.items():
            print(f"{name:34s} {height:6d} {r['collapsed']:5d}/{r['trials']:<3d} "
                  f"{r['median_max_move_mm']:14.2f} {r['us_per_physics_step']:8.0f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "results": results}, indent=1))


if __name__ == "__main__":
    main()
