"""Joint trajectory following as ros2_control's joint_trajectory_controller (JTC) does it.

    follower = TrajectoryFollower(q_home, period_s, max_velocity, lower, upper)
    follower.receive(Trajectory(times_s, positions, start_s=None), now_s)  # a message arrived
    q_cmd = follower.update(now_s, q_measured)   # each control period: the setpoint (J,)

Semantics (JTC in Kilted, position-only points):
- a received trajectory replaces the current one at the next update (no merging);
- its points are reached at start + time_from_start, start = header.stamp, or the update that
  picks it up when the stamp is zero ("now");
- it is interpolated linearly from the state at that update (the measured joints, as JTC with
  open_loop_control false; the last setpoint with open_loop=True) through its points; a
  trajectory that ends before `now` is refused; after its last point the last point is held;
- each update samples at the end of its control period (now + period_s, ros2_controllers #1306).

On top of JTC (whose hardware enforces limits), the setpoint moves at most
max_velocity * period_s per update, stays inside [lower, upper] and, with lead_periods, at most
lead_periods * max_velocity * period_s ahead of the measured joints (a position servo without
velocity feed-forward, PyBullet's, catches up a longer lag faster than the limit), so the
velocity limit holds per second whatever the message rate. Velocities/accelerations in the
points are not used (linear interpolation through the positions). Plain numpy, no rclpy.

A FollowJointTrajectory goal is judged each period by GoalMonitor as JTC's update() does: the
state desired at `now` (before the limits above) against the measured one, path tolerances
until the last point's time (and on the first sample), then the goal tolerances, waiting up to
goal_time_s after that time (0: for ever).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class TrajectoryError(ValueError):
    """A trajectory the controller refuses (times not increasing, ends in the past, NaN)."""


@dataclass(frozen=True)
class Trajectory:
    times_s: np.ndarray  # (P,) time_from_start of each point, s, strictly increasing, >= 0
    positions: np.ndarray  # (P, J) joint positions of each point
    start_s: float | None = None  # header.stamp, s; None (zero stamp) = the update picking it up

    def __post_init__(self):
        times = np.asarray(self.times_s, dtype=np.float64).reshape(-1)
        positions = np.asarray(self.positions, dtype=np.float64)
        if positions.ndim != 2 or len(positions) != len(times) or len(times) == 0:
            raise TrajectoryError(f"{len(times)} times for positions of shape {positions.shape}")
        if not (np.all(np.isfinite(times)) and np.all(np.isfinite(positions))):
            raise TrajectoryError("trajectory contains NaN or inf")
        if times[0] < 0 or np.any(np.diff(times) <= 0):
            raise TrajectoryError(f"time_from_start {times.tolist()} must be >= 0 and strictly "
                                  "increasing")
        object.__setattr__(self, "times_s", times)
        object.__setattr__(self, "positions", positions)

    def end_s(self, start_s: float) -> float:
        return start_s + float(self.times_s[-1])


class TrajectoryFollower:
    """The setpoint of one joint group under streamed or planned trajectories (see module)."""

    def __init__(self, q_hold, period_s: float, max_velocity, lower, upper,
                 open_loop: bool = False, lead_periods: float | None = None):
        if not period_s > 0:
            raise ValueError(f"period_s={period_s}: use a positive control period")
        if lead_periods is not None and not lead_periods > 0:
            raise ValueError(f"lead_periods={lead_periods}: use a positive number of periods "
                             "(None: no bound)")
        self.period_s, self.open_loop = period_s, open_loop
        self.max_step = np.asarray(max_velocity, dtype=np.float64) * period_s  # (J,) or ()
        if not np.all(self.max_step > 0):  # a negative limit would move every joint backwards
            raise ValueError(f"max_velocity={max_velocity}: use positive joint velocities")
        self.max_lead = None if lead_periods is None else lead_periods * self.max_step
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)
        self.hold(q_hold)

    def hold(self, q) -> None:
        """Drop every trajectory and hold q (after a reset)."""
        self.setpoint = np.array(q, dtype=np.float64)
        self._pending: Trajectory | None = None
        self._knots: tuple[np.ndarray, np.ndarray] | None = None  # (K,) times, (K, J) values
        self.end_s = -np.inf  # when the active trajectory's last point is due
        self.active: Trajectory | None = None  # the trajectory followed now (None: holding)
        self.start_s = -np.inf  # its start: header.stamp, or the update that picked it up
        self._point_times = np.zeros(0)  # (P,) absolute times of the active trajectory's points

    def receive(self, trajectory: Trajectory, now_s: float) -> None:
        """Queue a trajectory for the next update (it replaces any queued one). Raises
        TrajectoryError when it has the wrong width or ends before now_s (JTC refuses it)."""
        if trajectory.positions.shape[1:] != self.setpoint.shape:
            raise TrajectoryError(f"points have {trajectory.positions.shape[1]} positions; "
                                  f"expected {self.setpoint.size}")
        if trajectory.start_s is not None and trajectory.end_s(trajectory.start_s) < now_s:
            raise TrajectoryError(f"trajectory ends at {trajectory.end_s(trajectory.start_s):.3f}"
                                  f" s, before now ({now_s:.3f} s): header.stamp is in the past")
        self._pending = trajectory

    def update(self, now_s: float, q_measured) -> np.ndarray:
        """The setpoint for the control period starting at now_s  # (J,)"""
        if self._pending is not None:
            self._start(self._pending, now_s, q_measured)
            self._pending = None
        if self._knots is not None:
            target = self._sample(now_s + self.period_s)
            step = np.clip(target - self.setpoint, -self.max_step, self.max_step)
            setpoint = self.setpoint + step
            if self.max_lead is not None:
                q = np.asarray(q_measured, dtype=np.float64)
                setpoint = np.clip(setpoint, q - self.max_lead, q + self.max_lead)
            self.setpoint = np.clip(setpoint, self.lower, self.upper)
        return self.setpoint.copy()

    def _start(self, trajectory: Trajectory, now_s: float, q_measured) -> None:
        start = now_s if trajectory.start_s is None else trajectory.start_s
        times = start + trajectory.times_s  # (P,) absolute
        before = self.setpoint if self.open_loop else np.asarray(q_measured, dtype=np.float64)
        keep = times > now_s  # points still ahead; the state at now_s leads to the first one
        if keep.all():
            knots = (np.concatenate([[now_s], times]),
                     np.concatenate([before[None], trajectory.positions]))
        else:  # stamped in the past: sample between the points already due (JTC does too)
            knots = (times, trajectory.positions)
        self._knots, self.end_s = knots, float(times[-1])
        self.active, self._point_times, self.start_s = trajectory, times, start

    def desired(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The active trajectory's state at t_s before the limits: positions (J,) and
        velocities (J,) (the linear segment's slope; 0 before it, after it and while holding)."""
        if self._knots is None:
            return self.setpoint.copy(), np.zeros_like(self.setpoint)
        times, values = self._knots
        q = self._sample(t_s)
        if t_s < times[0] or t_s >= times[-1]:
            return q, np.zeros_like(q)
        k = int(np.searchsorted(times, t_s, side="right")) - 1
        return q, (values[k + 1] - values[k]) / (times[k + 1] - times[k])

    def next_point(self, t_s: float) -> int:
        """Index of the active trajectory's next point at t_s (its length once all are due)."""
        return int(np.searchsorted(self._point_times, t_s, side="right"))

    def _sample(self, t_s: float) -> np.ndarray:
        times, values = self._knots
        if t_s >= times[-1]:
            return values[-1].copy()
        if t_s <= times[0]:
            return values[0].copy()
        k = int(np.searchsorted(times, t_s, side="right")) - 1  # times[k] <= t < times[k+1]
        w = (t_s - times[k]) / (times[k + 1] - times[k])
        return values[k] + w * (values[k + 1] - values[k])


# --- FollowJointTrajectory goals -----------------------------------------------------------------
ERASE = -1.0  # a goal's tolerance of -1 removes the default (JTC's resolve_tolerance_source)


def resolve_tolerance(default: float, requested: float) -> float:
    """A goal's tolerance over the controller's default, as JTC: > 0 replaces it, 0 keeps it,
    -1 removes it (0 = not checked); anything else is refused."""
    if not np.isfinite(requested) or (requested < 0 and abs(requested - ERASE) > 1e-6):
        raise TrajectoryError(f"tolerance {requested}: use > 0, 0 (the default) or -1 (none)")
    if requested > 0:
        return float(requested)
    return 0.0 if requested < 0 else float(default)


@dataclass(frozen=True)
class Tolerances:
    """JTC's SegmentTolerances of one goal, per joint; 0 = not checked."""
    path_position: np.ndarray  # (J,) rad, |desired - actual| while moving
    path_velocity: np.ndarray  # (J,) rad/s
    goal_position: np.ndarray  # (J,) rad, at and after the last point
    goal_velocity: np.ndarray  # (J,) rad/s there (JTC: stopped_velocity_tolerance)
    goal_time_s: float = 0.0  # s after the last point to be within the goal ones; 0: for ever

    @classmethod
    def uniform(cls, n_joints: int, path: float = 0.0, goal: float = 0.0,
                stopped_velocity: float = 0.01, goal_time_s: float = 0.0) -> Tolerances:
        path_q, path_qd, goal_q, goal_qd = (np.full(n_joints, float(value)) for value in
                                            (path, 0.0, goal, stopped_velocity))
        return cls(path_q, path_qd, goal_q, goal_qd, float(goal_time_s))

    def for_goal(self, path: dict[int, tuple[float, float]], goal: dict[int, tuple[float, float]],
                 goal_time_s: float) -> Tolerances:
        """This default with a goal's requests: {joint index: (position, velocity)} each, and
        goal_time_tolerance. Raises TrajectoryError for a value JTC refuses."""
        arrays = {name: getattr(self, name).copy() for name in
                  ("path_position", "path_velocity", "goal_position", "goal_velocity")}
        for prefix, requests in (("path", path), ("goal", goal)):
            for j, (position, velocity) in requests.items():
                for kind, value in (("position", position), ("velocity", velocity)):
                    array = arrays[f"{prefix}_{kind}"]
                    array[j] = resolve_tolerance(array[j], value)
        return Tolerances(**arrays, goal_time_s=resolve_tolerance(self.goal_time_s, goal_time_s))


@dataclass(frozen=True)
class GoalSample:
    """One period of a goal, what its feedback reports: each (J,) in the follower's order."""
    desired_q: np.ndarray
    desired_qd: np.ndarray
    actual_q: np.ndarray
    actual_qd: np.ndarray
    index: int  # the next point of the trajectory

    @property
    def error_q(self) -> np.ndarray:
        return self.desired_q - self.actual_q  # JTC: desired - current

    @property
    def error_qd(self) -> np.ndarray:
        return self.desired_qd - self.actual_qd


SUCCEEDED, PATH_VIOLATED, GOAL_VIOLATED = "succeeded", "path_tolerance", "goal_tolerance"


class GoalMonitor:
    """Judges one goal's trajectory each control period as JTC's update() does.

        monitor = GoalMonitor(trajectory, tolerances, joint_names)
        sample, verdict, text = monitor.check(follower, now_s, q, qd)  # verdict None: running
    """

    def __init__(self, trajectory: Trajectory, tolerances: Tolerances, joint_names):
        self.trajectory, self.tolerances = trajectory, tolerances
        self.names = list(joint_names)
        self.first = True  # JTC checks the path tolerance on the first sample, always

    def check(self, follower: TrajectoryFollower, now_s: float, q, qd):
        desired_q, desired_qd = follower.desired(now_s)
        sample = GoalSample(desired_q, desired_qd, np.asarray(q, dtype=np.float64),
                            np.asarray(qd, dtype=np.float64), follower.next_point(now_s))
        tol, first = self.tolerances, self.first
        self.first = False
        before_last = now_s < follower.end_s
        if before_last or first:
            bad = self._outside(sample, tol.path_position, tol.path_velocity)
            if bad:
                return sample, PATH_VIOLATED, f"Aborted due to path tolerance violation: {bad}"
        if before_last:
            return sample, None, ""
        bad = self._outside(sample, tol.goal_position, tol.goal_velocity)
        if not bad:
            return sample, SUCCEEDED, "Goal successfully reached!"
        late_s = now_s - follower.end_s
        if tol.goal_time_s > 0 and late_s > tol.goal_time_s:
            return sample, GOAL_VIOLATED, (f"Aborted due to goal_time_tolerance exceeding by "
                                           f"{late_s - tol.goal_time_s:.3f} seconds: {bad}")
        return sample, None, ""

    def _outside(self, sample: GoalSample, position, velocity) -> str:
        """The joints outside the tolerances, as text ('' = none)."""
        texts = []
        for j, name in enumerate(self.names):
            for what, error, tol in (("position", sample.error_q[j], position[j]),
                                     ("velocity", sample.error_qd[j], velocity[j])):
                if tol > 0 and abs(error) > tol:
                    texts.append(f"{name} {what} error {error:+.4f} (tolerance {tol:g})")
        return "; ".join(texts)
