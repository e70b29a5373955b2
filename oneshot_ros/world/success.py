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

from oneshot_ros.world.tasks import Task
from oneshot_ros.world.world_config import WorldConfig

# Failure categories (paper B.4), checked in this order after "success".
SUCCESS = "success"
MANIPULATION = "manipulation_failure"  # irrecoverable, e.g. a block off the table
WRONG_MOVE = "wrong_move"  # a block rests on something other than its goal support
TIMEOUT = "recoverable_failure"  # time ran out with the goal still reachable
OUTCOMES = (SUCCESS, MANIPULATION, WRONG_MOVE, TIMEOUT)


@dataclass
class GoalView:
    task: Task
    config: WorldConfig
    positions: np.ndarray  # (B, 3) block centres, base_link
    quats: np.ndarray  # (B, 4) xyzw
    touched: set[int]  # blocks in contact with a finger

    @cached_property
    def holds(self) -> np.ndarray:
        """(B,) bool: block k rests on its goal support and no finger touches it."""
        n = len(self.positions)
        touched = np.zeros(n, dtype=bool)
        touched[list(self.touched)] = True
        return rests_on(self, np.arange(n), support_index(self.task)) & ~touched


@lru_cache(maxsize=64)
def support_index(task: Task) -> np.ndarray:
    """(B,) goal support of every block: a block index, or -1 for the table."""
    index = np.array([-1 if task.supports[k] is None else task.supports[k]
                      for k in range(task.n_blocks)])
    index.setflags(write=False)  # shared by every call for this task
    return index


def rests_on(view: GoalView, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """(K,) bool: does block upper[k] rest on lower[k] (a block index, or -1 = the table)?

    All pairs at once: the success check runs every control step."""
    cfg, p = view.config, view.positions
    size = cfg.block_size_m
    on_table = lower < 0
    below = p[np.where(on_table, 0, lower)]  # (K, 3) support centre (dummy for the table)
    above = p[upper]  # (K, 3)
    base_z = np.where(on_table, cfg.table_height_m + size / 2, below[:, 2] + size)
    xy_ok = on_table | (np.linalg.norm(above[:, :2] - below[:, :2], axis=1)
                        < cfg.place_tolerance_xy_m)
    return xy_ok & (np.abs(above[:, 2] - base_z) < cfg.place_tolerance_z_m)


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
    others = np.array([k for k in range(len(view.positions)) if k != block and k != goal],
                      dtype=int)
    return bool(rests_on(view, np.full(len(others), block), others).any())


def classify(view: GoalView) -> str:
    if is_success(view):
        return SUCCESS
    blocks = range(len(view.positions))
    if any(off_table(view, k) for k in blocks):
        return MANIPULATION
    if any(wrong_support(view, k) for k in blocks):
        return WRONG_MOVE
    return TIMEOUT
