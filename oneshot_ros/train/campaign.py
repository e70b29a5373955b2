"""The learning curves of a training campaign that spans sessions: one figure and one table.

    python -m oneshot_ros.train.campaign models/bc_all_stages
    python -m oneshot_ros.train.campaign models/all_stages_scratch --against models/bc_all_stages

Reads <model>/metrics.jsonl (every iteration: loss, wall_s; validation every val_every) and the
evaluation points <model>/eval_it<N>_<name>/summary.json (an `oneshot-ros eval --out` of the
checkpoint at iteration N), and writes <model>/campaign.png: validation error against iterations
and against wall-clock hours, and success by number of stages against iterations. Prints the
evaluation points as a Markdown table (for the model's README). `--against DIR...` adds other runs'
validation curves to the first two panels (ablations on one validation set). A run fine-tuned
from another checkpoint (train_config.init_from) is drawn from that checkpoint's iterations and
wall time on, so every curve counts the whole campaign.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

EVAL_DIR = re.compile(r"eval_it(\d+)_(\w+)$")


class MetricsError(ValueError):
    """A metrics.jsonl line that is not a JSON object (e.g. cut short when a run was killed)."""


def read_metrics(model_dir: Path) -> list[dict]:
    path = model_dir / "metrics.jsonl"
    lines = enumerate(path.read_text().splitlines(), start=1)
    return [_metrics_row(path, number, line) for number, line in lines if line]


def _metrics_row(path: Path, number: int, line: str) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise MetricsError(f"{path}:{number}: not valid JSON at column {err.colno}; repair or "
                           "delete that line") from None
    if not isinstance(row, dict):
        raise MetricsError(f"{path}:{number}: expected a JSON object, got {line[:40]!r}; repair "
                           "or delete that line")
    return row


def evaluation_points(model_dir: Path) -> list[dict]:
    """[{iteration, name, by_stages, episodes, success_rate}] sorted by iteration."""
    points = []
    for path in sorted(model_dir.glob("eval_it*/summary.json")):
        match = EVAL_DIR.match(path.parent.name)
        if match is None:
            continue
        summary = json.loads(path.read_text())
        points.append({"iteration": int(match.group(1)), "name": match.group(2),
                       "by_stages": summary["by_stages"], "episodes": summary["episodes"],
                       "success_rate": summary["success_rate"]})
    return sorted(points, key=lambda p: (p["name"], p["iteration"]))


def start_offset(model_dir: Path, _seen: frozenset = frozenset()) -> tuple[int, float]:
    """(iterations, wall seconds) a run had behind it when it started: those of the checkpoint it
    was fine-tuned from (train_config.init_from, followed back), else (0, 0)."""
    state = model_dir / "train_state.json"
    init_from = json.loads(state.read_text())["train_config"].get("init_from", "") \
        if state.is_file() else ""
    if not init_from:
        return 0, 0.0
    parent = next((p for p in (Path(init_from), model_dir.parent / Path(init_from).name)
                   if (p / "metrics.jsonl").is_file()), None)
    seen = _seen | {model_dir.resolve()}
    if parent is None or parent.resolve() in seen:
        return 0, 0.0  # its start is not on this machine, or an init_from cycle: from 0
    last = read_metrics(parent)[-1]
    iterations, wall_s = start_offset(parent, seen)
    return iterations + last["iteration"], wall_s + last["wall_s"]


def validation_curve(model_dir: Path) -> tuple[list[int], list[float], list[float]]:
    """(iterations, wall hours, validation move error mm) of a run's validation rows, counted
    from the start of its campaign (see start_offset)."""
    rows = [r for r in read_metrics(model_dir) if "val_move_err_mm" in r]
    iterations, wall_s = start_offset(model_dir)
    return ([r["iteration"] + iterations for r in rows],
            [(r["wall_s"] + wall_s) / 3600 for r in rows], [r["val_move_err_mm"] for r in rows])


def figure(model_dir: Path, out_png: Path,
           against: list[Path] | None = None) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = evaluation_points(model_dir)
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for k, run in enumerate([model_dir, *(against or [])]):
        its, hours, err = validation_curve(run)
        style = dict(ms=2, color=f"C{k}", label=_label(run))
        axes[0].plot(its, err, "o-" if k == 0 else "s--", **style)
        axes[1].plot(hours, err, "o-" if k == 0 else "s--", **style)
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("validation |action - expert|, mm per axis")
    axes[1].set_xlabel("wall-clock hours of training (2-core CPU)")
    if against:
        axes[0].legend(fontsize=7)
        axes[1].legend(fontsize=7)
    start, _ = start_offset(model_dir)  # evaluation dirs name the run's own iteration
    stage_counts = sorted({int(s) for p in points for s in p["by_stages"]})
    colours = {s: f"C{k}" for k, s in enumerate(stage_counts)}  # one colour per stage count
    for marker, name in zip("so^vD", sorted({p["name"] for p in points}), strict=False):
        mine = [p for p in points if p["name"] == name]
        for s in stage_counts:
            xs = [start + p["iteration"] for p in mine if str(s) in p["by_stages"]]
            ys = [100 * p["by_stages"][str(s)] for p in mine if str(s) in p["by_stages"]]
            if xs:
                axes[2].plot(xs, ys, marker + "-", color=colours[s], label=f"{name}: {s} st.")
    axes[2].set_xlabel("iteration" + (f" (evaluated at {start} + eval_it<N>)" if start else ""))
    axes[2].set_ylabel("success, %")
    axes[2].set_ylim(-3, 103)
    if points:
        axes[2].legend(fontsize=6, ncol=3, loc="lower right")
    fig.suptitle(model_dir.name)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def _label(run: Path) -> str:
    start, _ = start_offset(run)
    return run.name + (f" (fine-tuned from iteration {start})" if start else "")


def table(model_dir: Path) -> str:
    points = evaluation_points(model_dir)
    if not points:
        return f"no evaluation points in {model_dir} (eval_it<N>_<name>/summary.json)"
    stages = sorted({int(s) for p in points for s in p["by_stages"]})
    lines = ["| iteration | tasks | episodes | " + " | ".join(f"{s} st." for s in stages)
             + " | all |", "|---" * (len(stages) + 4) + "|"]
    for p in points:
        cells = [f"{100 * p['by_stages'][str(s)]:.0f}" if str(s) in p["by_stages"] else ""
                 for s in stages]
        lines.append(f"| {p['iteration']} | {p['name']} | {p['episodes']} | "
                     + " | ".join(cells) + f" | {100 * p['success_rate']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oneshot_ros.train.campaign",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", help="a training run's directory (with metrics.jsonl)")
    parser.add_argument("--against", nargs="+", default=[], metavar="DIR",
                        help="other runs' validation curves to draw beside it")
    args = parser.parse_args(argv)
    model_dir = Path(args.model_dir)
    try:
        if not (model_dir / "metrics.jsonl").is_file():
            raise ValueError(f"{model_dir} has no metrics.jsonl; name a training run's directory")
        against = [Path(d) for d in args.against]
        for run in against:
            if not (run / "metrics.jsonl").is_file():
                raise ValueError(f"--against {run}: no metrics.jsonl there; name a training "
                                 "run's directory")
        for run in (model_dir, *against):
            read_metrics(run)  # a broken line is refused before anything is drawn
        figure_path = figure(model_dir, model_dir / "campaign.png", against)
    except ValueError as err:  # MetricsError too, e.g. from a parent run (init_from)
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {figure_path}")
    print(table(model_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
