"""Start layouts and the reachable workspace of the table top."""

from __future__ import annotations

import numpy as np

from oneshot_ros.errors import InputError
from oneshot_ros.world.world_config import WorldConfig

PAN_AXIS_X = 0.03265  # shoulder-pan axis in base_link x (docs/robot.md)
MAX_TARGET_Z_M = 1.30  # highest top-down TCP we command
MAX_TARGET_RADIUS_M = 0.75  # keep away from the straight-arm singularity
MIN_TARGET_RADIUS_M = 0.38
RESTARTS = 20  # fresh starts of the sequential draw before giving up
DRAWS_PER_START = 20_000  # candidate positions per start
# Highest top-down TCP reachable on the home IK branch, by distance r from the pan axis
# (continuous tracking from HOME_ARM, torso up; measured in 1 cm steps), minus a 2 cm margin.
_REACH_R_M = (0.40, 0.50, 0.55, 0.60, 0.65, 0.70, 0.75)
_REACH_Z_M = (1.35, 1.33, 1.31, 1.28, 1.23, 1.18, 1.08)


class LayoutError(InputError, RuntimeError):
    """The world's spawn settings leave no room for the task's blocks (the user's config).
    Still a RuntimeError, which this was before it was the user's error."""


def sample_start(config: WorldConfig, n_blocks: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) block centres on the table: inside the reachable annulus, pairwise apart.

    Rejection sampling; besides the centre distance, a neighbour may not sit in the band the open
    fingers sweep along y (|dx| < 0.05 and |dy| < 0.095), so every cube can be grasped top-down.
    Blocks are placed one after another, so the first ones can leave no room for the last (about
    1 in 3,000 layouts of 10 blocks, e.g. seed 2,986): then the draw starts over with the same
    generator. A layout found in the first round is the same as before restarts existed.
    """
    for _ in range(RESTARTS):
        placed = _place_in_turn(config, n_blocks, rng)
        if placed is not None:
            return placed
    raise LayoutError(_no_room_message(config, n_blocks))


def _no_room_message(config: WorldConfig, n_blocks: int) -> str:
    r0, r1 = config.spawn_radius_m
    return (f"could not place {n_blocks} blocks in {RESTARTS} tries: the world config's "
            f"spawn_min_distance_m={config.spawn_min_distance_m} leaves no room in "
            f"spawn_radius_m=[{r0}, {r1}], spawn_bearing_rad={config.spawn_bearing_rad}; widen "
            "spawn_radius_m or spawn_bearing_rad, or lower spawn_min_distance_m")


def check_room(config: WorldConfig, n_blocks: int) -> None:
    """Raise LayoutError now if `config` cannot place `n_blocks` (one trial layout), before a
    command creates files that would then hold no demonstrations under the wrong config."""
    sample_start(config, n_blocks, np.random.default_rng(0))


def _place_in_turn(config: WorldConfig, n_blocks: int, rng: np.random.Generator
                   ) -> np.ndarray | None:
    """(n, 3) block centres, or None when DRAWS_PER_START draws did not fit them all."""
    r0, r1 = config.spawn_radius_m
    z = config.table_height_m + config.block_size_m / 2 + 1e-3
    placed: list[np.ndarray] = []
    for _ in range(DRAWS_PER_START):
        r = np.sqrt(rng.uniform(r0**2, r1**2))  # uniform over the annulus area
        bearing = rng.uniform(-config.spawn_bearing_rad, config.spawn_bearing_rad)
        p = np.array([PAN_AXIS_X + r * np.cos(bearing), r * np.sin(bearing), z])
        if all(_clear(p, q, config) for q in placed):
            placed.append(p)
            if len(placed) == n_blocks:
                return np.array(placed)
    return None


def _clear(p: np.ndarray, q: np.ndarray, config: WorldConfig) -> bool:
    d = np.abs(p - q)
    if np.hypot(d[0], d[1]) < config.spawn_min_distance_m:
        return False
    return not (d[0] < 0.05 and d[1] < 0.095)


def clamp_target(config: WorldConfig, target: np.ndarray) -> np.ndarray:
    """Documented clamp of a gripper target into the reachable top-down workspace.

    Distance from the pan axis r in [0.38, 0.75] m, z from 3 cm above the table (the fingertips
    are 0.031 m below gripper_link) up to min(1.30 m, reachable height at r).
    """
    t = np.array(target, dtype=np.float64)
    offset = t[:2] - [PAN_AXIS_X, 0.0]
    r = np.linalg.norm(offset)
    if r > MAX_TARGET_RADIUS_M or r < MIN_TARGET_RADIUS_M:
        r_new = np.clip(r, MIN_TARGET_RADIUS_M, MAX_TARGET_RADIUS_M)
        direction = offset / r if r > 1e-9 else np.array([1.0, 0.0])
        t[:2] = np.array([PAN_AXIS_X, 0.0]) + direction * r_new
        r = r_new
    z_max = min(MAX_TARGET_Z_M, float(np.interp(r, _REACH_R_M, _REACH_Z_M)))
    t[2] = np.clip(t[2], config.table_height_m + 0.03, z_max)
    return t
