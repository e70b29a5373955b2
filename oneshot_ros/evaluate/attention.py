"""Attention maps of one episode, as in Duan et al. Fig. 4.

    trace = AttentionTrace(task, seed, demo.stage_ends, demo_len=demo.length)
    policy_episode(env, imitator, task, seed, demo, on_step=trace)   # records every step
    plot_attention(trace, "fig4_attention.png"); trace.save("attention.npz")

Per policy step we keep (from Imitator.act's attention dict, already averaged over the ensemble)
    temporal: (T,)    weight of each demonstration step, mean over the context network's
                      attention steps and heads (0 where temporal dropout removed the step)
    block:    (2, B)  final-attention weight of each of the 2 queries over the current blocks,
                      mean over heads (the paper's source / target block reading)
The paper reports sparse maps: about one temporal peak per stage, mostly one block at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oneshot_ros.world.robot import BLOCK_LETTERS


@dataclass
class AttentionTrace:
    task: str
    seed: int
    demo_stage_ends: list[int]  # demo step at which each stage ended (vertical lines)
    demo_len: int
    temporal: list[np.ndarray] = field(default_factory=list)  # per step (T,)
    block: list[np.ndarray] = field(default_factory=list)  # per step (2, B)

    def __call__(self, env, attention: dict[str, np.ndarray]) -> None:
        """policy_episode's on_step hook."""
        self.temporal.append(attention["temporal"].mean(axis=(0, 1)))  # (t_lstm, H, T) -> (T,)
        self.block.append(attention["block"].mean(axis=1))  # (2, H, B) -> (2, B)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, T) temporal and (steps, 2, B) block attention."""
        if not self.temporal:
            raise ValueError("the attention trace is empty; record at least one policy step")
        return np.stack(self.temporal), np.stack(self.block)

    def save(self, path: str | Path) -> Path:
        temporal, block = self.arrays()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, temporal=temporal, block=block, task=self.task,
                            seed=self.seed, demo_stage_ends=np.asarray(self.demo_stage_ends))
        return path


def plot_attention(trace: AttentionTrace, path: str | Path) -> Path:
    """Fig. 4: temporal attention (policy step x demo step) and block attention per query."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    temporal, block = trace.arrays()  # (S, T), (S, 2, B)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), width_ratios=(3, 1, 1))
    _heatmap(axes[0], temporal, "temporal attention", "demonstration step")
    for end in trace.demo_stage_ends:
        axes[0].axvline(end, color="white", linewidth=0.6, linestyle="--")
    letters = list(BLOCK_LETTERS[: block.shape[2]])
    for query, ax in enumerate(axes[1:]):
        _heatmap(ax, block[:, query], f"block attention, query {query + 1}", "block",
                 limits=(0.0, 1.0))
        ax.set_xticks(range(len(letters)), letters)
    fig.suptitle(f"task {trace.task!r}, seed {trace.seed} (dashed: demo stage ends)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _heatmap(ax, values: np.ndarray, title: str, xlabel: str,
             limits: tuple[float, float] | None = None) -> None:
    vmin, vmax = limits or (None, None)
    image = ax.imshow(values, aspect="auto", interpolation="nearest", cmap="viridis",
                      vmin=vmin, vmax=vmax)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("policy step")
    ax.figure.colorbar(image, ax=ax, fraction=0.046)
