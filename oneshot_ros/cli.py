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
the user's (oneshot_ros.errors.UserError: bad task string, bad file; OSError: a path that cannot
be read or written) print one line and exit non-zero; any other exception is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import sys

from oneshot_ros.errors import UserError

# subcommand -> (module under oneshot_ros.commands, one-line help)
COMMANDS = {
    "tasks": ("tasks", "task lists: write the deterministic train/test split"),
    "demonstrate": ("demonstrate", "run the scripted demonstrator on one task"),
    "collect": ("collect", "collect demonstrations into HDF5 (workers, shards, resume)"),
    "info": ("info", "summarise a demonstration file or directory of shards"),
    "replay": ("replay", "render a stored demonstration to MP4/GIF"),
    "train": ("train", "train a one-shot policy by behavioral cloning"),
    "dagger": ("dagger", "DAgger: label the policy's own rollouts with the demonstrator, retrain"),
    "eval": ("eval", "evaluate a trained policy: success by number of stages"),
    "failures": ("failures", "failure analysis of an evaluation: tower height, stage, time"),
    "particle": ("particle", "the paper's particle-reaching sanity task"),
    "ros-demo": ("ros_demo", "sim driver + imitator over ROS 2 topics on an unseen task"),
    "ros-record": ("ros_record", "sim driver + scripted expert + recorder over ROS 2"),
}


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
    return call(args.command, lambda: args._run(args))


def call(command: str, run) -> int:
    """Run one subcommand: the user's errors become one line and an exit code, bugs propagate."""
    try:
        code = int(run() or 0)
        sys.stdout.flush()  # a reader that closed the pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        return _broken_pipe(command)
    except (UserError, OSError) as err:
        print(f"oneshot-ros {command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"oneshot-ros {command}: interrupted", file=sys.stderr)
        return 130


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror and err.filename:  # e.g. mkdir under a file
        return f"{err.filename}: {err.strerror}"
    return str(err).replace("\n", " ")


def _broken_pipe(command: str) -> int:
    """A closed pipe: our stdout (`oneshot-ros info F | head`) exits quietly; any other pipe
    (e.g. ffmpeg's stdin when it cannot write the video) is the user's error."""
    if _stdout_closed():  # point stdout at /dev/null so the interpreter's final flush is silent
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a process the pipe stopped
    print(f"oneshot-ros {command}: error: a helper process stopped reading (broken pipe); "
          "check that the output path can be written", file=sys.stderr)
    return 2


def _stdout_closed() -> bool:
    """True when stdout is a pipe whose reader has gone (poll reports POLLERR for it)."""
    poller = select.poll()
    poller.register(sys.stdout.fileno(), select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


if __name__ == "__main__":
    sys.exit(main())
