"""Latency compensation: act on the scene the arm's commands in flight will leave.

    scene = predict_scene(measured, commanded_gripper, commanded_gap_m, config)  # grasp.Scene
    obs = observation(scene)  # (3B+2,), ObsLayout

A real arm's commands land 5-50 ms late (DDS, the controller's queue). An action is a gripper
displacement; added to the MEASURED gripper, a command computed while the previous one is still
in flight re-issues part of it, so the arm moves at ~1/(L+1) of its speed (L periods of
latency). A controller that knows its last joint command predicts instead (a Smith predictor
whose model is "the arm gets to its target"): the gripper at FK of that command; the free
blocks stay where they are (relative to the gripper they shift by -(commanded - measured));
the block in the fingers moves with the gripper, unless the gripper command in force is "open"
(it is being let go: it stays). The next action is then applied from the commanded gripper too
(StackingEnv.step(from_command=True), the imitator's latency_compensation), so no command in
flight is issued twice. Fingers: an "open" in force reads open (nothing stops fingers opening);
a "close" stays measured (where they stop depends on the block between them, and a grasp holds
only once they have closed on it: the demonstrator and the policy lift only then).

The gripper command matters: with an "open" in flight the fingers still read closed; a
controller that sees that (and, worse, the released block carried along with a rising gripper)
closes again, and open and close alternate every period for ever (the demonstrator and the
policy both did, at 50 ms latency, before these two rules).

Why this is stable: the loop now closes on the prediction, c[t] = c[t-1] + k (goal - c[t-1]),
with no delay in it (the arm follows c, L periods later, outside the loop); adding a
displacement computed from the measured state to the last command instead,
c[t] = c[t-1] + k (goal - x[t]) with x[t] = c[t-1-L], oscillates under delay
(test/test_latency_compensation.py checks both in PyBullet). The blocks' feedback still
corrects the commanded pose: goals are block positions, measured every step.

Without latency it is not a no-op: PyBullet's position servo covers only ~73 % of a step's
target within the period (4 mm behind at full speed), so stepping from the command moves every
controller ~1.4x faster; the policy succeeds as often (docs/results.md), but the shipped numbers
were measured without it, hence a switch: off in the simulated set-ups, on in the real-arm
bring-ups (nodes/bringup.py). Plain numpy, no rclpy, no PyBullet.
"""

from __future__ import annotations

import numpy as np

from oneshot_ros.world import control
from oneshot_ros.world.grasp import Scene, held_block
from oneshot_ros.world.robot import ObsLayout
from oneshot_ros.world.world_config import WorldConfig


def predict_scene(measured: Scene, commanded_gripper, commanded_gap_m: float,
                  config: WorldConfig) -> Scene:
    """The measured scene as it will be once the last command has landed.

    commanded_gripper (3,): FK of the last commanded joint targets (base_link);
    commanded_gap_m: the last commanded finger gap (m; "open" above half the open gap, as
    control.gap_to_grip). The held block is judged in the measured scene (where the fingers
    really are).
    """
    commanded = _finite_vector(commanded_gripper, "commanded_gripper", 3)
    blocks = np.array(measured.blocks, dtype=np.float64).reshape(-1, 3)  # (B, 3), a copy
    fingers = np.asarray(measured.fingers, dtype=np.float64)  # (2,)
    closing = _closing(commanded_gap_m, config)
    held = held_block(measured, config) if closing else None
    if held is not None:  # it rides in the hand to wherever the hand is going
        blocks[held] += commanded - np.asarray(measured.gripper, dtype=np.float64)
    if not closing:  # an open lands for sure: each finger at half the open gap
        fingers = np.maximum(fingers, config.open_gap_m / 2)
    return Scene(commanded, fingers, blocks)


def observation(scene: Scene) -> np.ndarray:
    """(3B+2,) float32 observation of a scene, exactly as control.observe builds it."""
    blocks = np.asarray(scene.blocks, dtype=np.float64).reshape(-1, 3)
    return ObsLayout(len(blocks)).build(blocks - scene.gripper, scene.fingers)


def _closing(gap_m: float, config: WorldConfig) -> bool:
    if not np.isfinite(gap_m):
        raise ValueError(f"commanded_gap_m={gap_m}: pass the last commanded finger gap in m "
                         f"(0 closed .. {config.open_gap_m} open)")
    return control.gap_to_grip(gap_m, config) == config.action_layout.CLOSE


def _finite_vector(value, name: str, size: int) -> np.ndarray:
    vector = np.asarray(value, dtype=np.float64)
    if vector.shape != (size,) or not np.all(np.isfinite(vector)):
        raise ValueError(f"{name} must be {size} finite numbers (m, base_link), got {value!r}; "
                         "pass FK of the last commanded joint targets")
    return vector
