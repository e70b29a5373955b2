"""oneshot-ros dagger: DAgger rounds on top of a trained policy (see oneshot_ros/train/dagger.py).

    oneshot-ros dagger --model models/bc_all_stages --data demos.h5 \
        --tasks config/tasks/train.txt --rounds 4 --out models/dagger_all_stages [--workers 2]
    # re-run the same command (or with more --rounds) to resume
"""

from __future__ import annotations

import json
from pathlib import Path

from oneshot_ros.commands._args import locked_output_dir
from oneshot_ros.errors import InputError


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="checkpoint directory to start from")
    parser.add_argument("--data", required=True, nargs="+",
                        help="demonstration .h5 files or shard directories (the BC data)")
    parser.add_argument("--tasks", required=True, help="task list file (config/tasks/train.txt)")
    parser.add_argument("--rounds", type=int, help="rounds in total (overrides the config)")
    parser.add_argument("--out", required=True, help="run directory: checkpoint, rollouts, log")
    parser.add_argument("--config", help="DaggerConfig YAML (config/train/dagger.yaml)")
    parser.add_argument("--workers", type=int, default=2, help="rollout worker processes")
    parser.add_argument("--json", action="store_true", help="print the round log as JSON")


def run(args) -> int:
    import dataclasses

    from oneshot_ros.config import load_yaml
    from oneshot_ros.evaluate.training_check import rollout_success
    from oneshot_ros.train.dagger import DaggerConfig, dagger
    from oneshot_ros.world.tasks import load_task_list

    cfg = load_yaml(DaggerConfig, args.config)
    if args.rounds is not None:
        if args.rounds < 1:
            raise InputError(f"--rounds {args.rounds}: use at least 1")
        cfg = dataclasses.replace(cfg, rounds=args.rounds)
    if args.workers < 1:
        raise InputError(f"--workers {args.workers}: use at least 1")
    if not Path(args.tasks).is_file():
        raise InputError(f"--tasks {args.tasks}: no such file; use config/tasks/train.txt")
    tasks = [t.string for t in load_task_list(args.tasks)]
    if not tasks:
        raise InputError(f"--tasks {args.tasks} lists no tasks; write one task per line")
    with locked_output_dir("--out", args.out):  # one run at a time resumes it
        log = dagger(cfg, args.model, args.data, tasks, args.out, workers=args.workers,
                     progress=not args.json, rollout_check=rollout_success)
    if args.json:
        print(json.dumps(log))
    else:
        for row in log["rounds"]:
            print(f"round {row['round']}: beta {row['beta']:.2f}, {row['rollouts']} rollouts, "
                  f"success {row['rollout_success']:.0%}, trained to iteration "
                  f"{row['iterations']}")
    return 0
