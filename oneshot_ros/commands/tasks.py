"""oneshot-ros tasks split [--out-dir config/tasks] [--seed 0]

Writes the deterministic task split (oneshot_ros.world.tasks.split_tasks) as <out-dir>/train.txt,
test.txt and val.txt: one task per line, '#' header with the rule and seed. Defaults, ablations
and early stopping are chosen on val.txt; test.txt is evaluated once per shipped model.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from oneshot_ros.world.tasks import SPLIT_SEED, format_task_list, split_tasks

RULE = (
    "Task = towers, top block first, in build order; stages = blocks - towers.\n"
    "One task per relabelling class (sequence of tower heights); test and val classes never in\n"
    "train, val classes never in test (val: where defaults are chosen).\n"
    "Classes per stage count: seeded shuffle, interleaved by block count; letters permuted.\n"
    "Regenerate: oneshot-ros tasks split --seed {seed}"
)


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    split = sub.add_parser("split", help="write train.txt, test.txt and val.txt (140 + 43 + 27 "
                           "tasks)")
    split.add_argument("--out-dir", default="config/tasks", help="output directory")
    split.add_argument("--seed", type=int, default=SPLIT_SEED, help="split seed")


def _header(name: str, tasks, seed: int) -> str:
    stages = Counter(t.n_stages for t in tasks)
    per_stage = ", ".join(f"{s}: {stages[s]}" for s in sorted(stages))
    return f"{name}: {len(tasks)} tasks (stages: count) {{{per_stage}}}, seed {seed}\n" + \
        RULE.format(seed=seed)


def run(args) -> int:
    split = split_tasks(seed=args.seed)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, tasks in (("train", split.train), ("test", split.test), ("val", split.val)):
        path = out_dir / f"{name}.txt"
        path.write_text(format_task_list(tasks, _header(name, tasks, split.seed)))
        print(f"wrote {path}: {len(tasks)} tasks")
    return 0
