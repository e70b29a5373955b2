"""Human teleoperation timing over the scripted demonstrator's actions (`--demo-style human`).

    style = HumanStyle(config, np.random.default_rng(seed))
    executed = style(expert_action)        # (4,) -> (4,), once per control step

A person driving the arm with keys or a joystick (the demo recorder's Twist input) builds the
same towers as the scripted demonstrator, on a different clock: slower (40-80 % of the top
speed, re-chosen every few seconds), a velocity held for several ticks before it is corrected
(key repeat), pauses to look, and the gripper as a key press made after stopping. Only the
timing changes: the expert still decides where to go from the current scene, so the demo
succeeds as the scripted one does, 2-3x longer. What the policy is conditioned on then differs
as a person's demo through the demo recorder does (1,638 steps against a scripted 647, measured).
"""

from __future__ import annotations

import numpy as np

from oneshot_ros.world.world_config import WorldConfig

SPEED_RANGE = (0.4, 0.8)  # fraction of the expert's move kept, per speed segment
SEGMENT_STEPS = (40, 120)  # a speed holds this long (2-6 s at 20 Hz)
HOLD_STEPS = (2, 5)  # a fast move is repeated this many ticks before it is corrected
HOLD_MIN_FRACTION = 0.5  # only moves above this fraction of max_step are held (not near goals)
PAUSE_PROBABILITY = 0.01  # per step: a pause (~one every 5 s)
PAUSE_STEPS = (5, 25)
KEY_DELAY_STEPS = (2, 6)  # still steps between deciding to open/close and the key press
HORIZON_FACTOR = 3  # a human-style demo may take this many times the task's horizon


class HumanStyle:
    def __init__(self, config: WorldConfig, rng: np.random.Generator):
        self.layout, self.max_step = config.action_layout, config.max_step_m
        self.rng = rng
        self.grip: float | None = None  # the grip the operator has pressed
        self.pending: float | None = None  # a grip decided on, pressed after a delay
        self.speed, self.segment_left = 1.0, 0
        self.held, self.hold_left = None, 0  # a move being repeated
        self.still_left = 0  # a pause or the delay before a key press: no motion

    def __call__(self, expert) -> np.ndarray:
        """The expert's action (4,) now -> the operator's (4,)."""
        expert = self.layout.validate(expert)
        grip = float(expert[self.layout.GRIP])
        if self.grip is None:
            self.grip = grip
        if grip != self.grip:
            return self._key_press(grip)
        self.pending = None  # the expert changed its mind before the key was pressed
        if self.still_left > 0:
            self.still_left -= 1
            return self._action(np.zeros(3))
        if self.rng.random() < PAUSE_PROBABILITY:
            self.still_left, self.held = self._draw(PAUSE_STEPS) - 1, None
            return self._action(np.zeros(3))
        return self._move(expert[self.layout.MOVE])

    def _key_press(self, grip: float) -> np.ndarray:
        """Stop, wait KEY_DELAY_STEPS, then switch the grip (the arm still)."""
        if self.pending != grip:
            self.pending, self.still_left, self.held = grip, self._draw(KEY_DELAY_STEPS), None
        if self.still_left > 0:
            self.still_left -= 1
        else:
            self.grip, self.pending = grip, None
        return self._action(np.zeros(3))

    def _move(self, move: np.ndarray) -> np.ndarray:
        if self.segment_left <= 0:
            self.speed = float(self.rng.uniform(*SPEED_RANGE))
            self.segment_left = self._draw(SEGMENT_STEPS)
        self.segment_left -= 1
        if self.held is not None and self.hold_left > 0:
            self.hold_left -= 1
            return self._action(self.held)
        move = self.speed * move
        if np.abs(move).max() >= HOLD_MIN_FRACTION * self.speed * self.max_step:
            self.held, self.hold_left = move, self._draw(HOLD_STEPS) - 1
        else:
            self.held = None  # near a goal: corrected every tick
        return self._action(move)

    def _action(self, move: np.ndarray) -> np.ndarray:
        return np.array([*move, self.grip], dtype=np.float64)

    def _draw(self, bounds: tuple[int, int]) -> int:
        return int(self.rng.integers(bounds[0], bounds[1] + 1))
