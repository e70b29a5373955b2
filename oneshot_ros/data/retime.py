"""Re-time a conditioning demonstration as a person would have paced it (training augmentation).

    obs, ends = retime(demo_obs, rng, stage_ends)   # (T, D) -> (T', D), T' ~ 1.5-2.2 T

A person teleoperating the arm builds the same towers as the scripted demonstrator on another
clock (`demos.human_style`): slower, at a speed re-chosen every few seconds, with pauses
and a stop before each gripper key press. A policy trained only on scripted demos reads such a
demo worse (over ROS, 4-6 stages: 25/42 human-style vs 38/42 scripted). This turns a recorded
demo into one on that clock: the output follows the same path, sampled at fractional source
times that advance `speed` steps per output step (obs interpolated linearly between the
recorded frames), with still frames for pauses and before the fingers start to move. Only the
conditioning demo is re-timed; the (observation, action) pairs stay the expert's.
"""

from __future__ import annotations

import numpy as np

from oneshot_ros.world.robot import ObsLayout

SPEED_RANGE = (0.4, 1.0)  # default source steps per output step, re-drawn per segment
SEGMENT_STEPS = (40, 120)  # output steps one speed holds (human_style.SEGMENT_STEPS)
PAUSE_PROBABILITY = 0.01  # per output step
PAUSE_STEPS = (5, 25)
GRIP_DELAY_STEPS = (2, 6)  # still frames before the fingers start to move (a key press)
FINGER_MOTION_M = 1e-4  # a finger moving more than this per step is a grip change


def retime(obs: np.ndarray, rng: np.random.Generator, stage_ends: np.ndarray | None = None,
           speed_range: tuple[float, float] = SPEED_RANGE) -> tuple[np.ndarray, np.ndarray | None]:
    """(T, D) demo observations -> (T', D) re-timed, and stage_ends mapped onto the new steps."""
    obs = np.asarray(obs, dtype=np.float32)
    source_times = _source_times(len(obs), _grip_starts(obs), rng, speed_range)  # (T',)
    low = np.floor(source_times).astype(np.int64)
    high = np.minimum(low + 1, len(obs) - 1)
    frac = (source_times - low)[:, None].astype(np.float32)
    warped = (1.0 - frac) * obs[low] + frac * obs[high]  # (T', D)
    if stage_ends is None:
        return warped, None
    # a stage ends at the first output step that reaches its source step
    ends = np.searchsorted(source_times, np.asarray(stage_ends, dtype=np.float64))
    return warped, np.minimum(ends, len(warped) - 1)


def _grip_starts(obs: np.ndarray) -> list[int]:
    """Source steps at which the fingers start to move after being still."""
    fingers = obs[:, -ObsLayout.GRIPPER_DIM:]  # (T, 2)
    moving = np.abs(np.diff(fingers, axis=0)).max(axis=1) > FINGER_MOTION_M  # (T-1,)
    starts = np.flatnonzero(moving[1:] & ~moving[:-1]) + 1
    return starts.tolist()


def _source_times(length: int, grip_starts: list[int], rng: np.random.Generator,
                  speed_range: tuple[float, float]) -> np.ndarray:
    """Fractional source step of each output step: slower segments, pauses, key-press delays."""
    times, t, last = [], 0.0, float(length - 1)
    speed, segment_left = 1.0, 0
    while t < last:
        if rng.random() < PAUSE_PROBABILITY:
            times += [t] * _draw(rng, PAUSE_STEPS)
        if segment_left <= 0:
            speed, segment_left = float(rng.uniform(*speed_range)), _draw(rng, SEGMENT_STEPS)
        segment_left -= 1
        times.append(t)
        after = min(t + speed, last)
        grips = [s for s in grip_starts if t < s <= after]
        if grips:  # arrive where the fingers start to move, stop, then press the key
            after = float(grips[0])
            times += [after] * _draw(rng, GRIP_DELAY_STEPS)
        t = after
    times.append(last)
    return np.asarray(times, dtype=np.float64)


def _draw(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    return int(rng.integers(bounds[0], bounds[1] + 1))
