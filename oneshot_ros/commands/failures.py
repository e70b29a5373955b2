"""oneshot-ros failures: where a policy loses long tasks, from an evaluation directory.

    oneshot-ros failures runs/eval_val [--json] [--figure failures.png]

Reads --out of `oneshot-ros eval` (episodes.jsonl) and prints: success by the tallest tower's
height, failures by how many stages short they stopped (and at which stage), time per stage
against the conditioning demonstration (evaluations that recorded stage ends), and the tasks
with the lowest success. --json prints the same as one object; --figure writes the three plots.
"""

from __future__ import annotations

import json


def add_arguments(parser):
    parser.add_argument("eval_dir", help="an `oneshot-ros eval --out` directory")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--figure", metavar="PNG", help="also write the plots to this file")


def run(args) -> int:
    from oneshot_ros.evaluate import failures

    analysis = failures.analyze(failures.read_records(args.eval_dir))
    if args.figure:
        analysis["figure"] = str(failures.figure(analysis, args.figure))
    print(json.dumps(analysis) if args.json else failures.markdown(analysis), end="\n"
          if args.json else "")
    return 0
