"""oneshot-ros train: behavioral cloning of the one-shot policy.

    oneshot-ros train --config config/train/bc.yaml --data data/train.h5 --out models/bc_stack
    oneshot-ros train ... --resume                      # continue from the last checkpoint
    torchrun --nproc_per_node 2 -m oneshot_ros.cli train ...   # DistributedDataParallel
"""

from __future__ import annotations

import json

from oneshot_ros.commands._args import positive_int


def add_arguments(parser):
    parser.add_argument("--config", help="TrainConfig YAML (config/train/*.yaml)")
    parser.add_argument("--data", required=True, nargs="+",
                        help="demonstration .h5 files or shard directories, read as one set")
    parser.add_argument("--out", required=True, help="checkpoint directory (models/<name>)")
    parser.add_argument("--iterations", type=positive_int, help="override the config's iterations")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
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
    ctx = init_distributed()
    try:
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
