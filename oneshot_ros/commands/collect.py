"""oneshot-ros collect: N successful scripted demonstrations per task into HDF5.

    oneshot-ros collect --tasks config/tasks/train.txt --demos-per-task 10 --workers 2 \
        --out demos.h5
    oneshot-ros collect --task "ab cd" --task abc --demos-per-task 5 --out ab_cd.h5
    oneshot-ros collect --tasks config/tasks/train.txt --demos-per-task 1000 \
        --shard $SLURM_ARRAY_TASK_ID/64 --out demos/          # -> demos/shard-<i>-of-64.h5

Seeds come from (task, slot, attempt); a failed attempt is retried with the slot's next seed,
at most --max-attempts times. Re-running with the same --out resumes: stored (task, seed) pairs
are skipped. Shards write separate files that every reader accepts together (a directory works).
"""

from __future__ import annotations

import os
from pathlib import Path

from oneshot_ros.commands._args import (
    check_noise,
    check_not_empty,
    check_output_dir,
    check_output_file,
    positive_int,
)
from oneshot_ros.demos.collect import MAX_ATTEMPTS
from oneshot_ros.errors import InputError


def add_arguments(parser):
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--tasks", help="task list file, one task per line (config/tasks/)")
    source.add_argument("--task", action="append",
                        help='a task string, e.g. "ab cd"; repeat for several tasks')
    parser.add_argument("--demos-per-task", type=positive_int, default=10,
                        help="successful demonstrations per task (default %(default)s)")
    parser.add_argument("--workers", type=positive_int, default=min(4, os.cpu_count() or 1),
                        help="worker processes (default %(default)s)")
    parser.add_argument("--out", required=True,
                        help="output .h5 file (created or resumed), or a directory for shards")
    parser.add_argument("--noise", type=float, default=None,
                        help="demonstrator action-noise std, m per step (default: the "
                             "demonstrator's)")
    parser.add_argument("--shard", default="0/1", help="i/n: this job's share of the work")
    parser.add_argument("--max-attempts", type=positive_int, default=MAX_ATTEMPTS,
                        help="seeds tried per demonstration before giving up (default "
                             "%(default)s)")
    parser.add_argument("--config", help="WorldConfig overrides (YAML)")
    parser.add_argument("--demo-style", choices=("scripted", "human"), default="scripted",
                        help="human: the demonstrator with a teleoperator's timing (slower, "
                        "held velocities, pauses, key-press grips; 2-3x longer demos)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    import dataclasses

    from oneshot_ros.config import load_yaml
    from oneshot_ros.demos.collect import collect, parse_shard
    from oneshot_ros.demos.demonstrator import DEFAULT_NOISE_STD_M
    from oneshot_ros.world.layout import check_room
    from oneshot_ros.world.tasks import load_task_list, parse_task
    from oneshot_ros.world.world_config import WorldConfig

    tasks = [str(t) for t in load_task_list(args.tasks)] if args.tasks else args.task
    if not tasks:
        raise InputError(f"--tasks {args.tasks} lists no tasks; write one task per line")
    shard = parse_shard(args.shard)
    world_config = load_yaml(WorldConfig, args.config)
    world = dataclasses.asdict(world_config)
    noise = DEFAULT_NOISE_STD_M if args.noise is None else args.noise
    check_noise("--noise", noise, world_config.max_step_m)
    check_room(world_config, max(parse_task(t).n_blocks for t in tasks))  # before --out exists
    out = _output_path(args.out, shard)
    from oneshot_ros.demos.collect import EnvProducer

    report = collect(tasks, args.demos_per_task, out, world_config=world, workers=args.workers,
                     producer=EnvProducer(world, args.demo_style),
                     noise=noise, shard=shard, max_attempts=args.max_attempts,
                     progress=not args.quiet)
    _print_report(report, out)
    return 0


def _output_path(out: str, shard: tuple[int, int]) -> Path:
    check_not_empty("--out", out)
    path = Path(out)
    if out.endswith(os.sep) or path.is_dir():
        check_output_dir("--out", path).mkdir(parents=True, exist_ok=True)
        return path / f"shard-{shard[0]}-of-{shard[1]}.h5"
    if path.suffix != ".h5":
        raise InputError(f"--out {out}: use a .h5 file name or a directory (ending in /)")
    return check_output_file("--out", path)


def _print_report(report, out: Path) -> None:
    skipped = sum(r.skipped for r in report.tasks.values())
    print(f"{out}: {report.written} new demonstrations ({skipped} already there) in "
          f"{report.wall_s:.1f} s; demonstrator success {report.success_rate:.0%}")
    for task, r in report.tasks.items():
        if r.failures or r.given_up:
            failures = ", ".join(f"{k} {v}" for k, v in sorted(r.failures.items()))
            print(f"  {task!r}: {r.written} written, {r.attempts} attempts, failures: "
                  f"{failures}" + (f"; GAVE UP on {r.given_up}" if r.given_up else ""))
