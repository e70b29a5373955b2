"""oneshot-ros: the one command-line entry point.

Usage:
    oneshot-ros tasks split
    oneshot-ros demonstrate --task "ab cd" --episodes 5 --seed 0 [--noise 0.002]
        [--video out.mp4] [--json]
    oneshot-ros collect --tasks config/tasks/train.txt --demos-per-task 10 --workers 2 \
        --out demos.h5
    oneshot-ros info demos.h5 [--json]
    oneshot-ros replay demos.h5 --index 0 --out demo.mp4
    oneshot-ros train --config config/train/bc.yaml --data demos.h5 --out models/bc
    oneshot-ros eval --model models/bc --tasks config/tasks/test.txt --episodes 10 --out runs/eval
    oneshot-ros ros-demo / ros-record

Each subcommand lives in its own module (`oneshot_ros/commands/<name>.py`) exposing
`add_arguments(parser)` and `run(args) -> int`; heavy imports happen inside `run`. Errors that are
the user's (bad task string, bad file) print one line and exit non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module under oneshot_ros.commands, one-line help)
COMMANDS = {
    "tasks": ("tasks", "task lists: write the deterministic train/test split"),
    "demonstrate": ("demonstrate", "run the scripted demonstrator on one task"),
    "collect": ("collect", "collect demonstrations into HDF5 (workers, shards, resume)"),
    "info": ("info", "summarise a demonstration file or directory of shards"),
    "replay": ("replay", "render a stored demonstration to MP4/GIF"),
    "train": ("train", "train a one-shot policy by behavioral cloning"),
    "eval": ("eval", "evaluate a trained policy: success by number of stages"),
    "particle": ("particle", "the paper's particle-reaching sanity task"),
    "ros-demo": ("ros_demo", "sim driver + imitator over ROS 2 topics on an unseen task"),
    "ros-record": ("ros_record", "sim driver + scripted expert + recorder over ROS 2"),
}


class UserError(Exception):
    """An error caused by the user's input; printed as one line."""


def _user_errors() -> tuple[type[BaseException], ...]:
    # ValueError covers TaskError, ConfigError and layout/format errors raised by the core;
    # TimeoutError: a ROS node that did not come up or answer (its message names the logs).
    return (UserError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError,
            TimeoutError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oneshot-ros", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        try:
            mod = importlib.import_module(f"oneshot_ros.commands.{module}")
        except ModuleNotFoundError as err:
            if err.name != f"oneshot_ros.commands.{module}":
                raise
            continue  # subcommand not built yet
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except _user_errors() as err:
        print(f"oneshot-ros {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"oneshot-ros {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
