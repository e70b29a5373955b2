"""Where a policy loses long tasks: failure analysis of an evaluation's episodes.jsonl.

    analysis = analyze(records)          # records: the JSON lines `oneshot-ros eval` wrote
    print(markdown(analysis)); figure(analysis, "failures.png")

Four views, each of which points at a different lever:
- success by the tallest tower's height, and the failure rate of a stage by the level it
  places its block at (tall towers: placement precision, tower stability);
- failures by how many stages short they stopped, and at which stage index (the last stage:
  finding the end of the demonstration; an early stage: the task itself);
- time per stage, policy vs its conditioning demonstration (median ratio per stage index):
  a policy that succeeds slowly times out on long tasks (horizon = 100 + 200 x stages);
- the tasks with the lowest success;
- how the failures end (`end_state`, demos/end_state.py: rising at the reach limit, closed on
  nothing, hovering, moving): what the arm does while it times out.
Time per stage needs `stage_ends` and `demo_stage_ends` in the records, the endings
`end_state` (evaluations written since they were added); the other views work on any
evaluation.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from statistics import median

from oneshot_ros.demos.end_state import WINDOW
from oneshot_ros.errors import FileFormatError, InputError
from oneshot_ros.evaluate import report
from oneshot_ros.world.tasks import parse_task

WORST_TASKS = 5
RECORD_KEYS = ("task", "stages", "n_placed", "steps", "success", "outcome")


def analyze(records: list[dict]) -> dict:
    """Records with a success verdict (episodes that had a demonstration) -> the four views."""
    judged = [r for r in records if r.get("success") is not None]
    failed = [r for r in judged if not r["success"]]
    return {"episodes": len(judged), "failures": len(failed),
            "by_tower_height": _rates(judged, _tallest_tower),
            "by_placement_level": _by_placement_level(judged),
            "stages_short": _counts(failed, lambda r: r["stages"] - r["n_placed"]),
            "stuck_at_stage": _counts(failed, lambda r: f"{r['n_placed'] + 1}/{r['stages']}"),
            "outcomes": _counts(failed, lambda r: r["outcome"]),
            "time_per_stage": _time_per_stage(judged),
            "stuck_steps_vs_demo": _stuck_steps(failed),
            "worst_tasks": _worst_tasks(judged),
            "endings": _counts([r for r in failed if "end_state" in r],
                               lambda r: r["end_state"]["kind"])}


def _tallest_tower(record: dict) -> int:
    return max(parse_task(record["task"]).tower_heights)


def _stage_levels(task: str) -> list[int]:
    """Build order -> the level each stage places its block at (2: on a block on the table)."""
    return [level for tower in parse_task(task).towers for level in range(2, len(tower) + 1)]


def _by_placement_level(records: list[dict]) -> dict[str, dict]:
    """Per level, of the stages an episode attempted (completed, or the one it was on when it
    stopped) the fraction that failed: tower height apart from the number of stages."""
    attempts, failures = defaultdict(int), defaultdict(int)
    for r in records:
        levels = _stage_levels(r["task"])
        for k, level in enumerate(levels[: r["n_placed"] + 1]):
            attempts[level] += 1
            failures[level] += int(k == r["n_placed"] and not r["success"])
    return {str(level): {"attempts": attempts[level], "failed": failures[level],
                         "failure_rate": failures[level] / attempts[level]}
            for level in sorted(attempts)}


def _rates(records: list[dict], key) -> dict[str, dict]:
    groups = defaultdict(list)
    for r in records:
        groups[key(r)].append(r["success"])
    return {str(k): {"n": len(v), "success": sum(v), "rate": sum(v) / len(v)}
            for k, v in sorted(groups.items())}


def _counts(records: list[dict], key) -> dict[str, int]:
    counts = defaultdict(int)
    for r in records:
        counts[str(key(r))] += 1
    return dict(sorted(counts.items()))


def _durations(ends: list[int]) -> list[int]:
    """Stage end steps -> steps spent on each stage (the first from step 0); [] -> []."""
    starts = [0, *ends][: len(ends)]
    return [b - a for a, b in zip(starts, ends, strict=True)]


def _time_per_stage(records: list[dict]) -> dict[str, dict]:
    """Stage index (1-based, build order) -> median policy/demo step ratio over the episodes
    that completed that stage (the demonstration completes every stage)."""
    ratios = defaultdict(list)
    for r in records:
        if "stage_ends" not in r or "demo_stage_ends" not in r:
            continue
        demo = _durations(r["demo_stage_ends"])
        for k, steps in enumerate(_durations(r["stage_ends"])):
            if k < len(demo) and demo[k] > 0:
                ratios[k + 1].append(steps / demo[k])
    return {str(k): {"n": len(v), "median_ratio": median(v)} for k, v in sorted(ratios.items())}


def _stuck_steps(failed: list[dict]) -> dict | None:
    """Failures: steps spent on the stage never completed, against the demo's time for it."""
    ratios = []
    for r in failed:
        if "stage_ends" not in r or "demo_stage_ends" not in r:
            continue
        demo = _durations(r["demo_stage_ends"])
        k = len(r["stage_ends"])
        if k < len(demo) and demo[k] > 0:
            ratios.append((r["steps"] - (r["stage_ends"][-1] if k else 0)) / demo[k])
    return {"n": len(ratios), "median_ratio": median(ratios)} if ratios else None


def _worst_tasks(records: list[dict]) -> list[dict]:
    rates = _rates(records, lambda r: r["task"])
    worst = sorted(rates.items(), key=lambda item: (item[1]["rate"], item[0]))[:WORST_TASKS]
    return [{"task": task, **row} for task, row in worst if row["rate"] < 1.0]


def markdown(analysis: dict) -> str:
    lines = [f"{analysis['failures']} failures in {analysis['episodes']} episodes.", "",
             "| tallest tower | episodes | success |", "|---|---|---|"]
    lines += [f"| {h} | {row['n']} | {row['rate']:.0%} |"
              for h, row in analysis["by_tower_height"].items()]
    lines += ["", "| placement level | stages attempted | failed there |", "|---|---|---|"]
    lines += [f"| {level} | {row['attempts']} | {row['failure_rate']:.1%} |"
              for level, row in analysis["by_placement_level"].items()]
    lines += ["", "| stages short | failures |", "|---|---|"]
    lines += [f"| {k} | {n} |" for k, n in analysis["stages_short"].items()]
    if analysis["time_per_stage"]:
        lines += ["", "| stage | episodes | policy / demo steps (median) |", "|---|---|---|"]
        lines += [f"| {k} | {row['n']} | {row['median_ratio']:.2f} |"
                  for k, row in analysis["time_per_stage"].items()]
    stuck = analysis["stuck_steps_vs_demo"]
    if stuck:
        lines += ["", f"Failures spent a median {stuck['median_ratio']:.1f}x the demonstration's "
                  f"time on the stage they never completed ({stuck['n']} failures)."]
    if analysis["endings"]:
        lines += ["", f"| how failures end (last {WINDOW} steps) | failures |", "|---|---|"]
        lines += [f"| {kind} | {n} |" for kind, n in analysis["endings"].items()]
    if analysis["worst_tasks"]:
        lines += ["", "Lowest success: " + ", ".join(
            f"`{row['task']}` {row['success']}/{row['n']}" for row in analysis["worst_tasks"])]
    return "\n".join(lines) + "\n"


def figure(analysis: dict, path: str | Path) -> Path:
    """Success by tower height | failure rate by placement level | stages short | time/stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    heights = analysis["by_tower_height"]
    axes[0].bar(list(heights), [row["rate"] for row in heights.values()], color="tab:blue")
    axes[0].set(xlabel="tallest tower (blocks)", ylabel="success", ylim=(0, 1.05),
                title="success by tower height")
    levels = analysis["by_placement_level"]
    axes[1].bar(list(levels), [row["failure_rate"] for row in levels.values()],
                color="tab:orange")
    axes[1].set(xlabel="level the stage places at", ylabel="failed at that stage",
                title="failure rate per placement level")
    short = analysis["stages_short"]
    axes[2].bar(list(short), list(short.values()), color="tab:red")
    axes[2].set(xlabel="stages short at the end", ylabel="failures", title="how far failures got")
    per_stage = analysis["time_per_stage"]
    if per_stage:
        axes[3].plot([int(k) for k in per_stage], [r["median_ratio"] for r in per_stage.values()],
                     "o-", color="tab:green")
        axes[3].axhline(1.0, color="grey", lw=0.8, ls="--")
    else:
        axes[3].text(0.5, 0.5, "no stage ends recorded\n(evaluation predates them)",
                     ha="center", va="center", transform=axes[3].transAxes)
    axes[3].set(xlabel="stage (build order)", ylabel="policy / demo steps (median)",
                title="time per stage vs the demonstration")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def read_records(directory: str | Path) -> list[dict]:
    """An `oneshot-ros eval --out` directory -> its episode records (read-only: a torn last
    line is skipped, not cut)."""
    path = Path(directory) / report.EPISODES_FILE
    if not path.is_file():
        raise InputError(f"{directory} has no {report.EPISODES_FILE}; pass an `oneshot-ros "
                         "eval --out` directory")
    try:
        records = report.read_records(path)
        missing = {k for r in records for k in RECORD_KEYS if k not in r}
    except (ValueError, TypeError) as err:
        missing = {str(err)}
    if missing:
        raise FileFormatError(f"{path} is not an evaluation's episode file (missing or bad: "
                              f"{', '.join(sorted(missing))}); re-run `oneshot-ros eval` into a "
                              "new directory")
    if not records:
        raise InputError(f"{path} holds no episode yet")
    return records
