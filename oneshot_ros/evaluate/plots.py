"""Fig. 3 of Duan et al.: success rate by number of stages, policy vs demonstrator vs paper BC.

    plot_success_by_stages(summary, "fig3.png")   # summary from evaluate.metrics.summarize

One panel per task split present (training tasks, test tasks, other tasks), grouped bars per
number of stages: our policy, our scripted demonstrator, the paper's BC (Tables 3/4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SERIES = (("success_rate", "policy (ours)", "tab:blue"),
          ("demo_success_rate", "demonstrator (ours)", "tab:gray"),
          ("paper_bc", "BC (Duan et al.)", "tab:orange"))
TITLES = {"train": "training tasks", "test": "test tasks (unseen)",
          "val": "validation tasks (unseen)", "other": "other tasks"}


def plot_success_by_stages(summary: dict, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = summary["splits"]
    if not splits:
        raise ValueError("the summary holds no evaluated episode; nothing to plot")
    fig, axes = plt.subplots(1, len(splits), figsize=(5.5 * len(splits), 3.8), squeeze=False)
    for ax, (split, group) in zip(axes[0], splits.items(), strict=True):
        _panel(ax, group["table"], f"{TITLES[split]}, {group['episodes']} episodes")
    axes[0][0].legend(loc="upper center", ncol=3, fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _panel(ax, table: list[dict], title: str) -> None:
    stages = [row["stages"] for row in table]
    x = np.arange(len(stages))
    width = 0.8 / len(SERIES)
    for k, (key, label, color) in enumerate(SERIES):
        values = [np.nan if row[key] is None else 100 * row[key] for row in table]
        ax.bar(x + (k - 1) * width, values, width, label=label, color=color)
    ax.set_xticks(x, [str(s) for s in stages])
    ax.set_xlabel("number of stages")
    ax.set_ylabel("success rate (%)")
    ax.set_ylim(0, 115)  # room for the legend above 100%
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
