"""The paper's Figure 3 for several evaluations: success by number of stages, side by side.

    python -m oneshot_ros.evaluate.compare models/bc_all_stages/eval_it6000_test10 \
        snapshot=models/baseline_snapshot/eval_it10400_test10 --split test \
        --paper bc dagger snapshot final_state --out docs/fig3_test.png

Each argument is an `oneshot-ros eval --out` directory (its summary.json), labelled by the model
directory above it or by LABEL=DIR. Writes the figure (our bars with 95% Wilson intervals, then
our demonstrator on the first evaluation's layouts when it ran, then the paper's columns from
Tables 3/4) and prints the same numbers as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oneshot_ros.errors import FileFormatError, InputError, UserError
from oneshot_ros.evaluate.metrics import PAPER_COLUMNS
from oneshot_ros.evaluate.report import SUMMARY_FILE

PAPER_LABELS = {"demo": "Demo (paper)", "dagger": "DAgger (paper)", "bc": "BC (paper)",
                "snapshot": "Snapshot (paper)", "final_state": "Final state (paper)"}
Z_95 = 1.959964  # two-sided 95% normal quantile
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


@dataclass
class Evaluation:
    label: str
    rows: dict[int, dict]  # stages -> summary table row (success_rate, episodes, ...)


def load(spec: str, split: str) -> Evaluation:
    """'DIR' or 'LABEL=DIR' -> the rows of DIR/summary.json for `split`."""
    label, _, path = spec.rpartition("=")
    directory = Path(path)
    label = label or directory.resolve().parent.name
    summary_path = directory / SUMMARY_FILE
    if not summary_path.is_file():
        raise InputError(f"{directory} has no {SUMMARY_FILE}; pass an `oneshot-ros eval --out` "
                         "directory whose run finished")
    try:
        summary = json.loads(summary_path.read_text())
        group = summary["splits"].get(split)
        rows = {} if group is None else {int(r["stages"]): r for r in group["table"]}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise FileFormatError(f"{summary_path} is not an evaluation summary ({err}); "
                              "re-run `oneshot-ros eval` into that directory") from err
    if not rows:
        raise InputError(f"{directory} evaluated no {split} task; pass --split "
                         f"{' or '.join(sorted(summary['splits'])) or '(none: empty run)'}")
    return Evaluation(label, rows)


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a binomial rate (lower, upper), in [0, 1]."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + Z_95 ** 2 / n
    centre = (p + Z_95 ** 2 / (2 * n)) / denominator
    half = Z_95 * math.sqrt(p * (1 - p) / n + Z_95 ** 2 / (4 * n ** 2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def successes(row: dict) -> int:
    return round(row["success_rate"] * row["episodes"])


def columns(evaluations: list[Evaluation], split: str, paper: list[str]):
    """[(label, {stages: rate or None}, {stages: (k, n)} or None)]: ours, demonstrator, paper."""
    stages = sorted({s for e in evaluations for s in e.rows})
    out = []
    for e in evaluations:
        out.append((e.label, {s: e.rows[s]["success_rate"] if s in e.rows else None
                              for s in stages},
                    {s: (successes(e.rows[s]), e.rows[s]["episodes"]) for s in e.rows}))
    first = evaluations[0].rows
    if any(row.get("demo_success_rate") is not None for row in first.values()):
        out.append((f"our demonstrator ({evaluations[0].label}'s layouts)",
                    {s: first[s]["demo_success_rate"] if s in first else None for s in stages},
                    None))
    for name in paper:
        table = PAPER_COLUMNS[name].get(split, {})
        out.append((PAPER_LABELS[name], {s: None if s not in table else table[s] / 100
                                         for s in stages}, None))
    return stages, out


def markdown(stages: list[int], cols) -> str:
    lines = ["| stages | " + " | ".join(label for label, _, _ in cols) + " |",
             "|---" * (len(cols) + 1) + "|"]
    for s in stages:
        cells = []
        for _, rates, counts in cols:
            rate = rates[s]
            text = "-" if rate is None else f"{100 * rate:.1f}"
            if counts is not None and s in counts:
                text = f"**{100 * rate:.0f}** ({counts[s][0]}/{counts[s][1]})"
            cells.append(text)
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(stages: list[int], cols, title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(stages) * len(cols) / 3), 4.2))
    x = np.arange(len(stages))
    width = 0.85 / len(cols)
    ours = plt.get_cmap("tab10")
    for k, (label, rates, counts) in enumerate(cols):
        values = np.array([np.nan if rates[s] is None else 100 * rates[s] for s in stages])
        offset = (k - (len(cols) - 1) / 2) * width
        if counts is not None:
            bounds = np.array([wilson(*counts[s]) if s in counts else (np.nan, np.nan)
                               for s in stages]) * 100  # (S, 2)
            error = np.clip(np.stack([values - bounds[:, 0], bounds[:, 1] - values]), 0, None)
            ax.bar(x + offset, values, width, label=label, color=ours(k), yerr=error,
                   capsize=2, error_kw={"elinewidth": 0.8})
        else:
            ax.bar(x + offset, values, width, label=label, color=str(0.35 + 0.1 * (k % 5)),
                   hatch="//" if "paper" in label else None, edgecolor="white")
    ax.set_xticks(x, [str(s) for s in stages])
    ax.set_xlabel("number of stages")
    ax.set_ylabel("success rate (%)")
    ax.set_ylim(0, 125)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper center", ncol=3, fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figure_path(out: Path) -> Path:
    """The file --out names: with .png added when it has no suffix (matplotlib adds it, so
    that is the file written and reported); checked before the evaluations are read."""
    path = out if out.suffix else out.with_name(out.name + ".png")
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise InputError(f"--out {out}: use a .png, .pdf or .svg file name")
    if path.is_dir():
        raise InputError(f"--out {out}: {path} is a directory; pass a file name")
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"--out {out}: {ancestor} is a file, not a directory")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oneshot_ros.evaluate.compare",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("evals", nargs="+", metavar="[LABEL=]DIR", help="eval --out dirs")
    parser.add_argument("--split", choices=("train", "test", "val", "other"), default="test")
    parser.add_argument("--paper", nargs="*", choices=sorted(PAPER_COLUMNS),
                        default=["bc", "dagger"], help="the paper's columns to show")
    parser.add_argument("--out", type=Path, required=True, help="figure path (.png)")
    args = parser.parse_args(argv)
    try:
        out = figure_path(args.out)
        evaluations = [load(spec, args.split) for spec in args.evals]
        stages, cols = columns(evaluations, args.split, args.paper)
        title = (f"{'unseen test' if args.split == 'test' else args.split} tasks: success by "
                 "number of stages (bars: 95% Wilson intervals)")
        path = figure(stages, cols, title, out)
    except (UserError, OSError) as err:  # OSError: e.g. no permission to write --out
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(markdown(stages, cols))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
