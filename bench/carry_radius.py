"""Success of an evaluation's episodes by how far from the arm's base the last carry runs.

    python bench/carry_radius.py models/stage_attention/eval_val8_48 --task "d jebihgfca"

For each episode of the task (an `oneshot-ros eval --out` directory), the start layout is
re-drawn from the episode's seed and the last placement's two blocks (the block carried and the
bottom of the tower it goes onto) are measured from the shoulder-pan axis. Where either lies
beyond --radius (default 0.65 m) the arm's reach there (docs/robot.md) is below the height that
clears a tower of 8 by 5 cm, so the demonstrator's carry height is capped by the reach, which the
observation does not show. Prints successes on either side of the radius (--json: one object).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from oneshot_ros.sim.env import make_env
from oneshot_ros.world import layout
from oneshot_ros.world.robot import BLOCK_LETTERS
from oneshot_ros.world.tasks import parse_task


def last_carry_radii(env, task: str, seed: int) -> tuple[float, float]:
    """(carried block, tower bottom) distances from the pan axis in the layout of `seed`, m."""
    parsed = parse_task(task)
    block, support = parsed.placements[-1]
    tower = next(t for t in parsed.towers if BLOCK_LETTERS[support] in t)  # letters, top first
    bottom = BLOCK_LETTERS.index(tower[-1])
    env.reset(task, seed)
    positions = env.block_positions()  # (B, 3), letter order
    radius = [float(np.hypot(positions[k, 0] - layout.PAN_AXIS_X, positions[k, 1]))
              for k in (block, bottom)]
    return radius[0], radius[1]


def split_by_radius(eval_dir: Path, task: str, radius_m: float) -> dict:
    settings = json.loads((eval_dir / "settings.json").read_text())
    env = make_env(settings.get("world_config") or {})
    groups = {"beyond": [0, 0], "within": [0, 0]}  # [successes, episodes]
    try:
        for line in (eval_dir / "episodes.jsonl").read_text().splitlines():
            record = json.loads(line)
            if record["task"] != task or record.get("success") is None:
                continue
            far = max(last_carry_radii(env, task, record["seed"])) > radius_m
            group = groups["beyond" if far else "within"]
            group[0] += bool(record["success"])
            group[1] += 1
    finally:
        env.close()
    return {"eval_dir": str(eval_dir), "task": task, "radius_m": radius_m,
            **{k: {"success": s, "episodes": n} for k, (s, n) in groups.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("eval_dirs", nargs="+", type=Path)
    ap.add_argument("--task", required=True, help='a task of the evaluation, e.g. "d jebihgfca"')
    ap.add_argument("--radius", type=float, default=0.65, help="m from the pan axis")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    for eval_dir in args.eval_dirs:
        result = split_by_radius(eval_dir, parse_task(args.task).string, args.radius)
        if args.json:
            print(json.dumps(result))
            continue
        far, near = result["beyond"], result["within"]
        print(f"{eval_dir}: last carry beyond r {args.radius} m "
              f"{far['success']}/{far['episodes']}, within {near['success']}/{near['episodes']}")


if __name__ == "__main__":
    main()
