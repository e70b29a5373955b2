"""oneshot-ros info: summarise demonstration files (one file, several, or directories of shards).

    oneshot-ros info demos.h5 [--json]
    oneshot-ros info demos/ other.h5

--json prints one object: format_version, demos, bad_demos (index, problem), tasks (task ->
count), mean_length, demos_by_stages, length (min/max), mean_length_by_stages, success_rate,
demonstrator_success_rate, noise, sources, files, bytes, world_config.

Every demonstration is read and checked (attributes, NaN/inf, implausible magnitudes); the
figures cover the usable ones, the others are listed, and the exit status is then 2.
"""

from __future__ import annotations

import json


def add_arguments(parser):
    parser.add_argument("paths", nargs="+", help=".h5 files or directories of .h5 shards")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from oneshot_ros.data.storage import DemoReader
    from oneshot_ros.data.summary import summarize

    with DemoReader(args.paths, keep_bad=True) as reader:
        reader.check_all()
        summary = summarize(reader)
    if args.json:
        print(json.dumps(summary, allow_nan=False))  # strict JSON: readers choke on NaN
    else:
        _print(summary)
    _refuse_bad(summary)
    return 0


def _refuse_bad(summary: dict) -> None:
    """Listed above; the exit status says it too (`info F && train ...`)."""
    from oneshot_ros.data.storage import DemoFormatError

    bad = summary["bad_demos"]
    if bad:
        raise DemoFormatError(f"{len(bad)} of {summary['demos']} demonstrations cannot be used, "
                              f"e.g. {bad[0]['problem']}")


def _print(summary: dict) -> None:
    rate = summary["demonstrator_success_rate"]
    print(f"{summary['demos']} demonstrations of {len(summary['tasks'])} tasks in "
          f"{len(summary['files'])} file(s), {summary['bytes'] / 1e6:.1f} MB, format "
          f"{summary['format_version']}")
    if summary["bad_demos"]:
        print(f"{len(summary['bad_demos'])} cannot be used (left out of the figures below):")
        for bad in summary["bad_demos"]:
            print(f"  {bad['problem']}")
    print(f"length: mean {summary['mean_length']:.0f}, min {summary['length']['min']}, "
          f"max {summary['length']['max']} steps; success {summary['success_rate']:.0%}"
          + (f"; demonstrator success {rate:.0%}" if rate is not None else ""))
    print("stages  demos  mean length")
    for stages, count in summary["demos_by_stages"].items():
        print(f"{stages:>6}  {count:>5}  {summary['mean_length_by_stages'][stages]:>11.0f}")
    print("task: demos")
    for task, count in summary["tasks"].items():
        print(f"  {task!r}: {count}")
