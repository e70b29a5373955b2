"""The learning curves of a training campaign that spans sessions: one figure and one table.

    python -m oneshot_ros.train.campaign models/bc_all_stages

Reads <model>/metrics.jsonl (every iteration: loss, wall_s; validation every val_every) and the
evaluation points <model>/eval_it<N>_<name>/summary.json (an `oneshot-ros eval --out` of the
checkpoint at iteration N), and writes <model>/campaign.png: validation error against iterations
and against wall-clock hours, and success by number of stages against iterations. Prints the
evaluation points as a Markdown table (for the model's README).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

EVAL_DIR = re.compile(r"eval_it(\d+)_(\w+)$")


def read_metrics(model_dir: Path) -> list[dict]:
    path = model_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line]


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


def figure(model_dir: Path, out_png: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_metrics(model_dir) if "val_move_err_mm" in r]
    points = evaluation_points(model_dir)
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    its = [r["iteration"] for r in rows]
    err = [r["val_move_err_mm"] for r in rows]
    axes[0].plot(its, err, "o-", ms=2)
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("validation |action - expert|, mm per axis")
    axes[1].plot([r["wall_s"] / 3600 for r in rows], err, "o-", ms=2, color="tab:red")
    axes[1].set_xlabel("wall-clock hours of training (2-core CPU)")
    stage_counts = sorted({int(s) for p in points for s in p["by_stages"]})
    colours = {s: f"C{k}" for k, s in enumerate(stage_counts)}  # one colour per stage count
    for marker, name in zip("so^vD", sorted({p["name"] for p in points}), strict=False):
        mine = [p for p in points if p["name"] == name]
        for s in stage_counts:
            xs = [p["iteration"] for p in mine if str(s) in p["by_stages"]]
            ys = [100 * p["by_stages"][str(s)] for p in mine if str(s) in p["by_stages"]]
            axes[2].plot(xs, ys, marker + "-", color=colours[s], label=f"{name}: {s} stages")
    axes[2].set_xlabel("iteration")
    axes[2].set_ylabel("success, %")
    axes[2].set_ylim(-3, 103)
    if points:
        axes[2].legend(fontsize=7, ncol=2)
    fig.suptitle(model_dir.name)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def table(model_dir: Path) -> str:
    points = evaluation_points(model_dir)
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
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not (Path(args[0]) / "metrics.jsonl").is_file():
        print("usage: python -m oneshot_ros.train.campaign MODEL_DIR (with metrics.jsonl)",
              file=sys.stderr)
        return 2
    model_dir = Path(args[0])
    print(f"wrote {figure(model_dir, model_dir / 'campaign.png')}")
    print(table(model_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
