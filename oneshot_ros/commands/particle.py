"""oneshot-ros particle: the paper's particle-reaching sanity task (appendix A), on CPU.

    oneshot-ros particle --variant lstm_attention --landmarks 2-5 --iterations 8000 \
        [--episodes 100] [--seed 0] [--threads 1] [--json]

Trains one policy by behavioral cloning on a mix of landmark counts, then reports the success
on unseen layouts (fresh demo + fresh layout per episode) for each count, beside chance (1/L)
and Duan et al.'s Table 2. With --json, prints one JSON object: variant, iterations, wall_s,
final_loss, by_landmarks {L: success rate}, chance, paper.
"""

from __future__ import annotations

import json

from oneshot_ros.commands._args import positive_int, seed_int
from oneshot_ros.errors import InputError
from oneshot_ros.particle import VARIANTS


def add_arguments(parser):
    parser.add_argument("--variant", choices=VARIANTS, default="lstm_attention")
    parser.add_argument("--landmarks", default="2-5",
                        help="landmark counts to train and test on, e.g. 2-5 or 4")
    parser.add_argument("--iterations", type=positive_int, default=8000,
                        help="training iterations (8,000 suffice for 2-5 landmarks; 2-10 need "
                        "~80,000 to reach the paper, 6-8 min on one core)")
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--episodes", type=positive_int, default=100,
                        help="test episodes per count")
    parser.add_argument("--seed", type=seed_int, default=0)
    parser.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def parse_range(text: str) -> tuple[int, int]:
    try:
        lo, _, hi = text.partition("-")
        return int(lo), int(hi or lo)
    except ValueError:
        raise InputError(f"--landmarks {text!r}: write a count or a range, e.g. 2-5") from None


def run(args) -> int:
    import numpy as np
    import torch

    from oneshot_ros.particle.train import PAPER_TABLE_2, ParticleTrainConfig, evaluate, train

    torch.set_num_threads(args.threads)
    config = ParticleTrainConfig(variant=args.variant, landmarks=parse_range(args.landmarks),
                                 iterations=args.iterations, batch_size=args.batch_size,
                                 seed=args.seed)
    model, losses, wall_s = train(config, progress=not args.json)
    counts = range(config.landmarks[0], config.landmarks[1] + 1)
    success = {n: evaluate(model, config.world, n, args.episodes, args.seed) for n in counts}
    summary = {
        "variant": args.variant, "iterations": args.iterations, "wall_s": round(wall_s, 1),
        "final_loss": float(np.mean(losses[-50:])), "episodes": args.episodes,
        "by_landmarks": {str(n): s for n, s in success.items()},
        "chance": {str(n): 1.0 / n for n in counts},
        "paper": {str(n): PAPER_TABLE_2[args.variant][n - 2] / 100 for n in counts},
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"particle reaching, {args.variant}: {args.iterations} iterations in {wall_s:.0f} s, "
          f"final loss {summary['final_loss']:.4f}; unseen layouts, {args.episodes} episodes")
    print("landmarks | ours   | chance | paper (Table 2)")
    for n in counts:
        print(f"{n:9d} | {100 * success[n]:5.1f}% | {100 / n:5.1f}% | "
              f"{PAPER_TABLE_2[args.variant][n - 2]:5.1f}%")
    return 0
