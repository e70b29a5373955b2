"""Scripted demonstrator success by number of stages (the acceptance table).

    python bench/demo_success.py --episodes 50 --out bench/results/demo_success.json
    python bench/demo_success.py --from-data data/train.h5     # rates from a collection's retries

For each stage count 1-8, runs `--episodes` seeded episodes with noise on, cycling through the
split's tasks with that many stages (training tasks for 1-7, test tasks for 8). Resumable: the
JSON is rewritten after every stage count, and finished stage counts are skipped on re-run.

--from-data reads the same rate off a `collect` output instead: every stored demonstration
records how many seeds its slot tried (`attempts`, the last one successful), so per stage count
success = demonstrations / attempts over all seeded episodes the collection ran.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from oneshot_ros.demos.demonstrator import DEFAULT_NOISE_STD_M, run_episode
from oneshot_ros.sim.env import StackingEnv
from oneshot_ros.world.tasks import load_task_list

TARGETS = {1: 98, 2: 98, 3: 98, 4: 90, 5: 90, 6: 90, 7: 75, 8: 75}  # %, the acceptance targets
PAPER_DEMO = {1: 99.1, 2: 95.6, 3: 88.5, 4: 78.6, 5: 67.3, 6: 55.7, 7: 42.8, 8: 29.0}


def tasks_by_stage(root: Path) -> dict[int, list]:
    tasks = load_task_list(root / "config/tasks/train.txt")
    tasks += load_task_list(root / "config/tasks/test.txt")
    by_stage: dict[int, list] = {}
    for t in tasks:
        by_stage.setdefault(t.n_stages, []).append(t)
    return by_stage


def rates_from_data(path: str) -> dict:
    from oneshot_ros.data.storage import DemoReader
    from oneshot_ros.world.tasks import parse_task

    reader = DemoReader(path)
    demos, attempts = Counter(), Counter()
    for i in range(len(reader)):
        meta = reader.meta(i)
        n = parse_task(meta["task"]).n_stages
        demos[n] += 1
        attempts[n] += max(1, int(meta["attempts"]))
    return {str(n): {"episodes": attempts[n], "success": demos[n],
                     "rate": 100 * demos[n] / attempts[n], "outcomes": {},
                     "target": TARGETS[n], "paper_demo": PAPER_DEMO[n]} for n in sorted(demos)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--stages", default="1-8")
    ap.add_argument("--noise", type=float, default=DEFAULT_NOISE_STD_M)
    ap.add_argument("--out", default="bench/results/demo_success.json")
    ap.add_argument("--from-data", help="a collect output: rates from its recorded attempts")
    args = ap.parse_args()
    if args.from_data:
        results = rates_from_data(args.from_data)
        Path(args.out).write_text(json.dumps(results, indent=1))
        return _print(results)
    lo, hi = map(int, args.stages.split("-"))
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    by_stage = tasks_by_stage(Path(__file__).resolve().parents[1])
    env = StackingEnv()
    for n in range(lo, hi + 1):
        if str(n) in results and results[str(n)]["episodes"] >= args.episodes:
            continue
        outcomes, start = Counter(), time.perf_counter()
        for k in tqdm(range(args.episodes), desc=f"{n} stages", unit="ep"):
            task = by_stage[n][k % len(by_stage[n])]
            outcomes[run_episode(env, task, 10_000 + k, args.noise).outcome] += 1
        results[str(n)] = {"episodes": args.episodes, "success": outcomes["success"],
                           "rate": 100 * outcomes["success"] / args.episodes,
                           "outcomes": dict(outcomes), "target": TARGETS[n],
                           "paper_demo": PAPER_DEMO[n],
                           "wall_s_per_episode": (time.perf_counter() - start) / args.episodes}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1))
    _print(results)


def _print(results: dict) -> None:
    print("stages  episodes  success%  target%  paper-demo%  outcomes")
    for n in sorted(results, key=int):
        r = results[n]
        print(f"{n:>6}  {r['episodes']:8}  {r['rate']:8.1f}  {r['target']:7}  "
              f"{r['paper_demo']:11}  {r['outcomes']}")


if __name__ == "__main__":
    main()
