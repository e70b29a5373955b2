"""Success and failure classification from the physics state (paper B.4 categories).

Success: every block rests on its goal support (centred within place_tolerance_xy_m, height
= support + block size ± place_tolerance_z_m; tower bottoms on the table) and no finger touches
a block. Failures, checked in order: manipulation (a block off the table or fallen below its
top surface), wrong move (a block rests on a block that is not its goal support), otherwise
recoverable (time ran out while the goal was still reachable).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from oneshot_ros.data.episode import MANIPULATION, SUCCESS, TIMEOUT, WRONG_MOVE
from oneshot_ros.sim.config import WorldConfig
from oneshot_ros.tasks import Task


@dataclass
class GoalView:
    task: Task
    config: WorldConfig
    positions: np.ndarray  # (B, 3) block centres, base_link
    quats: np.ndarray  # (B, 4) xyzw
    touched: set[int]  # blocks in contact with a finger

    @cached_property
    def holds(self) -> np.ndarray:
        """(B,) bool: block k rests on its goal support and no finger touches it.

        All blocks at once (this runs every control step); same tests as `on_top`."""
        cfg, p = self.config, self.positions
        size = cfg.block_size_m
        support = support_index(self.task)  # (B,) goal support index, -1 = table
        on_table = support < 0
        below = p[np.where(on_table, 0, support)]  # (B, 3) goal support (dummy for the table)
        base_z = np.where(on_table, cfg.table_height_m + size / 2, below[:, 2] + size)
        xy_ok = on_table | (np.linalg.norm(p[:, :2] - below[:, :2], axis=1)
                            < cfg.place_tolerance_xy_m)
        touched = np.zeros(len(p), dtype=bool)
        touched[list(self.touched)] = True
        return xy_ok & (np.abs(p[:, 2] - base_z) < cfg.place_tolerance_z_m) & ~touched


@lru_cache(maxsize=64)
def support_index(task: Task) -> np.ndarray:
    """(B,) goal support of every block: a block index, or -1 for the table."""
    index = np.array([-1 if task.supports[k] is None else task.supports[k]
                      for k in range(task.n_blocks)])
    index.setflags(write=False)  # shared by every call for this task
    return index


def on_top(view: GoalView, upper: int, lower: int | None) -> bool:
    """Is block `upper` resting on `lower` (a block index, or None = the table)?"""
    cfg, p = view.config, view.positions
    size = cfg.block_size_m
    if lower is None:
        base_z, xy_ok = cfg.table_height_m + size / 2, True
    else:
        base_z = p[lower, 2] + size
        xy_ok = np.linalg.norm(p[upper, :2] - p[lower, :2]) < cfg.place_tolerance_xy_m
    return bool(xy_ok and abs(p[upper, 2] - base_z) < cfg.place_tolerance_z_m)


def is_success(view: GoalView) -> bool:
    return bool(view.holds.all())


def n_placed_prefix(view: GoalView) -> int:
    """Number of leading stages (build order) whose relation holds right now."""
    n = 0
    for block, _ in view.task.placements:
        if not view.holds[block]:
            break
        n += 1
    return n


def off_table(view: GoalView, block: int) -> bool:
    cfg, p = view.config, view.positions[block]
    (x0, x1), (y0, y1) = cfg.table_x_m, cfg.table_y_m
    inside = x0 <= p[0] <= x1 and y0 <= p[1] <= y1
    return not inside or p[2] < cfg.table_height_m


def wrong_support(view: GoalView, block: int) -> bool:
    """The block rests on another block that is not its goal support."""
    goal = view.task.supports[block]
    others = [k for k in range(len(view.positions)) if k != block and k != goal]
    return any(on_top(view, block, k) for k in others)


def classify(view: GoalView) -> str:
    if is_success(view):
        return SUCCESS
    blocks = range(len(view.positions))
    if any(off_table(view, k) for k in blocks):
        return MANIPULATION
    if any(wrong_support(view, k) for k in blocks):
        return WRONG_MOVE
    return TIMEOUT
