"""What a controller reads of the scene, and which block the fingers hold.

    scene = Scene(gripper, fingers, blocks)   # (3,), (2,), (B, 3), base_link
    held = held_block(scene, config)          # index of the block in the hand, or None

The scripted demonstrator picks its phase with held_block; latency compensation
(world/command_prediction.py) moves the held block with the predicted gripper. One test for
both, so a block the demonstrator carries is the block the prediction carries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oneshot_ros.world.world_config import WorldConfig

GRASP_OFFSET_M = 0.01  # gripper_link above the cube centre when grasping (fingertips clear table)
HELD_XY_M = 0.025  # a held cube's centre is this close (xy) to the grasp point ...
HELD_Z_M = 0.03  # ... and this close in height


@dataclass
class Scene:
    gripper: np.ndarray  # (3,) gripper_link position, base_link
    fingers: np.ndarray  # (2,) finger joint positions, m
    blocks: np.ndarray  # (B, 3) block centres, base_link


def held_block(scene: Scene, config: WorldConfig) -> int | None:
    """A block between closed-on-it fingers, close to the grasp point (the first such one)."""
    half = config.block_size_m / 2
    if not (0.6 * half < np.mean(scene.fingers) < 1.2 * half):
        return None
    offsets = scene.blocks - (scene.gripper - [0, 0, GRASP_OFFSET_M])  # (B, 3)
    near = ((np.linalg.norm(offsets[:, :2], axis=1) < HELD_XY_M)
            & (np.abs(offsets[:, 2]) < HELD_Z_M))  # (B,)
    return int(np.flatnonzero(near)[0]) if near.any() else None
