"""How a policy episode ends: the hand over its last WINDOW steps, read from the world.

Long tasks fail by time-out, and a time-out says nothing of what the arm was doing. Every policy
episode's record gets `end_state`: what the hand holds at the end, the mean commanded dz, how far
the gripper moved, the fraction of steps whose target lay beyond the reachable workspace
(`layout.clamp_target` moved it), and one `kind`:

    rising at the reach limit  commanded up while the target is out of reach (the arm cannot
                               follow, so the scene and the policy's next action stay the same)
    closed on nothing          fingers shut without a block (a missed grasp)
    hovering                   the gripper moved less than HOVER_MM
    moving                     none of these
"""

from __future__ import annotations

from collections import deque

import numpy as np

from oneshot_ros.world import layout
from oneshot_ros.world.grasp import Scene, held_block

WINDOW = 200  # steps (10 s at 20 Hz)
HOVER_MM = 20.0
LIMIT_M = 0.001  # a target moved this far by the workspace clamp was out of reach
CLOSED_FRACTION = 0.25  # finger gap below this fraction of half a block: closed on nothing


class EndState:
    def __init__(self, window: int = WINDOW):
        self.gripper: deque = deque(maxlen=window)  # (3,) positions
        self.dz: deque = deque(maxlen=window)  # m, commanded
        self.limited: deque = deque(maxlen=window)  # bool, target out of reach

    def observe(self, env, action: np.ndarray, compensate: bool = False) -> None:
        """Before env.step(action): where the gripper is and where the action sends it (from
        the last command when compensating latency, as the step will)."""
        position = np.asarray(env.gripper_position(), dtype=np.float64)
        start = env.commanded_gripper_position() if compensate else position
        target = np.asarray(start, dtype=np.float64) + np.asarray(action[:3], dtype=np.float64)
        clamped = layout.clamp_target(env.config, target)
        self.gripper.append(position)
        self.dz.append(float(action[2]))
        self.limited.append(bool(np.linalg.norm(clamped - target) > LIMIT_M))

    def summary(self, env) -> dict:
        scene = Scene(env.gripper_position(), env.gripper_state(), env.block_positions())
        hand = _hand(scene, env.config)
        if not self.gripper:
            return {"hand": hand, "kind": "moving", "steps": 0}
        dz_mm = 1000.0 * float(np.mean(self.dz))
        moved_mm = 1000.0 * float(np.linalg.norm(self.gripper[-1] - self.gripper[0]))
        at_limit = float(np.mean(self.limited))
        if at_limit > 0.5 and dz_mm > 0:
            kind = "rising at the reach limit"
        elif hand == "closed":
            kind = "closed on nothing"
        elif moved_mm < HOVER_MM:
            kind = "hovering"
        else:
            kind = "moving"
        return {"hand": hand, "kind": kind, "steps": len(self.gripper),
                "commanded_dz_mm": round(dz_mm, 2), "moved_mm": round(moved_mm, 1),
                "at_reach_limit": round(at_limit, 3)}


def _hand(scene: Scene, config) -> str:
    """"holding" a block, "open", or "closed" (on nothing)."""
    if held_block(scene, config) is not None:
        return "holding"
    closed = np.mean(scene.fingers) < CLOSED_FRACTION * config.block_size_m / 2
    return "closed" if closed else "open"
