"""Success and failure classification from the physics state (paper B.4 categories).

Success: every block rests on its goal support (centred within place_tolerance_xy_m, height
= support + block size ± place_tolerance_z_m; tower bottoms on the table) and no finger touches
a block. Failures, checked in order: manipulation (a block off the table or fallen below its
top surface), wrong move (a block rests on a block that is not its goal support), otherwise
recoverable (time ran out while the goal was still reachable).
"""

from __future__ import annotations

from dataclasses import dataclass

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


def relation_holds(view: GoalView, block: int, support: int | None) -> bool:
    return on_top(view, block, support) and block not in view.touched


def is_success(view: GoalView) -> bool:
    return all(relation_holds(view, b, s) for b, s in view.task.supports.items())


def n_placed_prefix(view: GoalView) -> int:
    """Number of leading stages (build order) whose relation holds right now."""
    n = 0
    for block, support in view.task.placements:
        if not relation_holds(view, block, support):
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
