"""oneshot-ros train: behavioral cloning of the one-shot policy.

    oneshot-ros train --config config/train/bc.yaml --data data/train.h5 --out models/bc_stack
    oneshot-ros train ... --resume                      # continue from the last checkpoint
    oneshot-ros train ... --overwrite                   # replace the run in --out
    torchrun --nproc_per_node 2 -m oneshot_ros.cli train ...   # DistributedDataParallel

An --out that holds a run is refused unless --resume or --overwrite; while a run writes into
--out, another train (or eval, dagger) into it is refused.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from oneshot_ros.commands._args import check_output_dir, locked_output_dir, positive_int
from oneshot_ros.errors import InputError


def add_arguments(parser):
    parser.add_argument("--config", help="TrainConfig YAML (config/train/*.yaml)")
    parser.add_argument("--data", required=True, nargs="+",
                        help="demonstration .h5 files or shard directories, read as one set")
    parser.add_argument("--out", required=True, help="checkpoint directory (models/<name>)")
    parser.add_argument("--iterations", type=positive_int, help="override the config's iterations")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the run in --out (its checkpoint, state, metrics, plot)")
    parser.add_argument("--json", action="store_true", help="print the final metrics as JSON")


def run(args) -> int:
    import dataclasses

    from oneshot_ros.config import load_yaml
    from oneshot_ros.evaluate.training_check import rollout_success
    from oneshot_ros.train.bc import TrainConfig, train
    from oneshot_ros.train.distributed import init_distributed, shutdown

    cfg = load_yaml(TrainConfig, args.config)
    if args.iterations is not None:
        cfg = dataclasses.replace(cfg, iterations=args.iterations)
    check_output_dir("--out", args.out)
    if args.resume and args.overwrite:
        raise InputError("--resume and --overwrite: pass one (continue the run in --out, or "
                         "replace it)")
    ctx = init_distributed()
    try:
        with _held(args.out, ctx.is_main):  # only rank 0 writes
            if ctx.is_main:
                _prepare_out(Path(args.out), args.resume, args.overwrite)
            final = train(cfg, args.data, args.out, resume=args.resume, ctx=ctx,
                          progress=not args.json, rollout_check=rollout_success)
    finally:
        shutdown(ctx)
    if ctx.is_main:
        if args.json:
            print(json.dumps(final))
        else:
            print(f"trained {final.get('iteration')} iterations, loss {final.get('loss', 0):.3f}"
                  f", checkpoint in {args.out}")
    return 0


def _held(out: str, main: bool):
    return locked_output_dir("--out", out) if main else contextlib.nullcontext()


def _prepare_out(out: Path, resume: bool, overwrite: bool) -> None:
    """A finished run is not silently trained over (metrics.jsonl ended up 1,2,3,4,1)."""
    from oneshot_ros.train.bc import run_files, saved_iteration

    existing = run_files(out)
    if not existing or resume:
        return
    if overwrite:
        for path in existing:
            path.unlink()
        return
    iteration = saved_iteration(out)
    if iteration is not None:
        raise InputError(f"--out {out} already holds a training run (checkpoint of iteration "
                         f"{iteration}); pass --resume to continue it, --overwrite to replace "
                         "it, or another --out")
    raise InputError(f"--out {out} already holds a training run's files "
                     f"({', '.join(p.name for p in existing)}); pass --overwrite to replace "
                     "them, or another --out")
