"""TrajectoryFollower without ROS: joint_trajectory_controller semantics + the velocity limit."""

import numpy as np
import pytest

from oneshot_ros.nodes.trajectory_follower import (
    GOAL_VIOLATED,
    PATH_VIOLATED,
    SUCCEEDED,
    GoalMonitor,
    Tolerances,
    Trajectory,
    TrajectoryError,
    TrajectoryFollower,
    resolve_tolerance,
)

P = 0.05  # control period, s
V = 2.0  # rad/s limit


def follower(q0=(0.0, 0.0), open_loop=False):
    return TrajectoryFollower(np.array(q0), P, V, [-3.0, -3.0], [3.0, 3.0], open_loop)


def run(f, t0, seconds, measured=None):
    """Setpoints of successive updates from t0; the 'arm' tracks each setpoint exactly."""
    out, q = [], f.setpoint if measured is None else measured
    for k in range(int(round(seconds / P))):
        q = f.update(t0 + k * P, q)
        out.append(q)
    return np.array(out)


def test_one_point_at_1s_is_reached_at_1s_along_a_line():
    f = follower()
    f.receive(Trajectory([1.0], [[0.3, -0.1]]), now_s=10.0)  # zero stamp: starts at pickup
    q = run(f, 10.0, 1.5)
    np.testing.assert_allclose(q[0], [0.3 * P, -0.1 * P])  # sampled at the period's end
    np.testing.assert_allclose(q[9], [0.3 * 10 * P, -0.1 * 10 * P])  # half way at 0.5 s
    np.testing.assert_allclose(q[19], [0.3, -0.1])  # there at 1 s
    np.testing.assert_allclose(q[-1], [0.3, -0.1])  # then held


def test_a_burst_of_messages_never_moves_faster_than_the_limit():
    f = follower()
    setpoints = []
    for k in range(20):
        for _ in range(40):  # 40 one-point messages per period, each 1.5 periods ahead
            f.receive(Trajectory([1.5 * P], [[1.0, -1.0]]), now_s=k * P)
        setpoints.append(f.update(k * P, f.setpoint))
    steps = np.abs(np.diff(np.array([[0.0, 0.0], *setpoints]), axis=0))
    assert steps.max() <= V * P + 1e-12
    np.testing.assert_allclose(setpoints[-1], [1.0, -1.0], atol=1e-3)  # 2/3 of the rest each


def test_two_points_pass_through_the_middle_one():
    f = follower()
    f.receive(Trajectory([0.5, 1.0], [[0.4, 0.0], [0.0, 0.4]]), now_s=0.0)
    q = run(f, 0.0, 1.2)
    np.testing.assert_allclose(q[9], [0.4, 0.0])  # t = 0.5 s
    np.testing.assert_allclose(q[19], [0.0, 0.4])  # t = 1.0 s


def test_a_new_trajectory_replaces_the_current_one_from_the_measured_state():
    f = follower()
    f.receive(Trajectory([1.0], [[1.0, 0.0]]), now_s=0.0)
    run(f, 0.0, 0.5)
    f.receive(Trajectory([0.5], [[0.0, 0.0]]), now_s=0.5)
    q = f.update(0.5, [0.45, 0.0])  # the arm lags: the new one starts where it is measured
    np.testing.assert_allclose(q, [0.45 - 0.45 * P / 0.5, 0.0])
    assert f.end_s == pytest.approx(1.0)
    g = follower(open_loop=True)  # JTC's open_loop_control: from the last setpoint
    g.receive(Trajectory([1.0], [[1.0, 0.0]]), now_s=0.0)
    run(g, 0.0, 0.5)
    g.receive(Trajectory([0.5], [[0.0, 0.0]]), now_s=0.5)
    np.testing.assert_allclose(g.update(0.5, [0.4, 0.0]), [0.5 - 0.5 * P / 0.5, 0.0])


def test_header_stamp_shifts_the_points_and_past_trajectories_are_refused():
    f = follower()
    f.receive(Trajectory([0.5], [[0.2, 0.0]], start_s=1.5), now_s=1.0)  # due at 2.0
    q = run(f, 1.0, 1.2)
    np.testing.assert_allclose(q[19], [0.2, 0.0])  # t = 2.0
    assert q[9][0] == pytest.approx(0.1)  # linear from pickup at 1.0 to the point at 2.0
    with pytest.raises(TrajectoryError, match="in the past"):
        f.receive(Trajectory([0.5], [[0.0, 0.0]], start_s=1.0), now_s=3.0)
    g = follower()  # stamped in the past, ending in the future: between the points
    g.receive(Trajectory([0.0, 1.0], [[0.0, 0.0], [1.0, 0.0]], start_s=0.0), now_s=0.5)
    assert g.update(0.5, [0.0, 0.0])[0] == pytest.approx(0.0 + V * P)  # limited jump to 0.55


@pytest.mark.parametrize("times, positions", [([0.2, 0.1], [[0, 0], [1, 1]]),
                                              ([-0.1], [[0, 0]]),
                                              ([0.1], [[np.nan, 0]]),
                                              ([0.1, 0.1], [[0, 0], [1, 1]])])
def test_bad_trajectories_are_refused(times, positions):
    with pytest.raises(TrajectoryError):
        Trajectory(times, positions)


def test_setpoints_stay_within_the_position_limits_and_reset_holds():
    f = follower()
    f.receive(Trajectory([0.1], [[5.0, -5.0]]), now_s=0.0)
    q = run(f, 0.0, 3.0)
    np.testing.assert_allclose(q[-1], [3.0, -3.0])
    f.hold([0.1, 0.2])
    np.testing.assert_allclose(f.update(4.0, [0.0, 0.0]), [0.1, 0.2])


def test_the_setpoint_leads_a_lagging_arm_by_at_most_lead_periods():
    f = TrajectoryFollower(np.zeros(2), P, V, [-3.0, -3.0], [3.0, 3.0], lead_periods=1.5)
    f.receive(Trajectory([0.1], [[1.0, -1.0]]), now_s=0.0)
    q = np.zeros(2)
    for k in range(5):  # the arm does not move at all
        np.testing.assert_allclose(f.update(k * P, q), [V * P, -V * P] if k == 0 else
                                   [1.5 * V * P, -1.5 * V * P])
    with pytest.raises(ValueError):
        TrajectoryFollower(np.zeros(2), P, V, [-3.0, -3.0], [3.0, 3.0], lead_periods=0.0)


# --- FollowJointTrajectory goals (JTC's tolerances) ----------------------------------------------
def judge(f, monitor, t0, seconds, arm):
    """Verdicts per period while `arm(setpoint) -> (q, qd)` stands in for the hardware."""
    q, qd = arm(f.setpoint)
    out = []
    for k in range(int(round(seconds / P))):
        f.update(t0 + k * P, q)
        out.append(monitor.check(f, t0 + k * P, q, qd))
        q, qd = arm(f.setpoint)
    return out


def exact(setpoint):
    return setpoint.copy(), np.zeros_like(setpoint)


def test_tolerances_resolve_as_jtc_and_refuse_illegal_values():
    assert resolve_tolerance(0.1, 0.0) == 0.1  # 0: the controller's default
    assert resolve_tolerance(0.1, 0.3) == 0.3
    assert resolve_tolerance(0.1, -1.0) == 0.0  # -1: not checked at all
    for bad in (-0.5, np.nan):
        with pytest.raises(TrajectoryError):
            resolve_tolerance(0.1, bad)
    default = Tolerances.uniform(2, path=0.1, goal=0.02, goal_time_s=1.0)
    goal = default.for_goal({1: (0.5, 0.0)}, {0: (-1.0, 0.0)}, 0.0)
    np.testing.assert_allclose(goal.path_position, [0.1, 0.5])
    np.testing.assert_allclose(goal.goal_position, [0.0, 0.02])
    assert goal.goal_time_s == 1.0


def test_desired_state_is_the_trajectory_before_the_velocity_limit():
    f = follower()
    path = Trajectory([0.5], [[1.0, 0.0]])  # 2 rad/s asked, 2 rad/s allowed
    f.receive(path, now_s=0.0)
    f.update(0.0, [0.0, 0.0])
    assert f.active is path and f.next_point(0.2) == 0 and f.next_point(0.5) == 1
    q, qd = f.desired(0.25)
    np.testing.assert_allclose(q, [0.5, 0.0])
    np.testing.assert_allclose(qd, [2.0, 0.0])
    np.testing.assert_allclose(f.desired(0.6)[1], [0.0, 0.0])  # after the last point
    f.hold([0.3, 0.3])
    assert f.active is None
    np.testing.assert_allclose(f.desired(1.0)[0], [0.3, 0.3])


def test_a_goal_succeeds_at_its_last_point_when_within_the_goal_tolerances():
    f = follower()
    path = Trajectory([0.5], [[0.5, 0.0]])
    f.receive(path, now_s=0.0)
    monitor = GoalMonitor(path, Tolerances.uniform(2, path=0.05, goal=0.01), ["a", "b"])
    verdicts = [v for _, v, _ in judge(f, monitor, 0.0, 1.0, exact)]
    assert verdicts[:10] == [None] * 10 and verdicts[10] == SUCCEEDED  # at t = 0.5 s


def test_an_arm_that_cannot_follow_violates_the_path_tolerance():
    f = follower()
    path = Trajectory([0.5], [[0.5, 0.0]])
    f.receive(path, now_s=0.0)
    monitor = GoalMonitor(path, Tolerances.uniform(2, path=0.05), ["a", "b"])

    def stuck(setpoint):  # the arm does not move
        return np.zeros(2), np.zeros(2)

    results = judge(f, monitor, 0.0, 1.0, stuck)
    k, (sample, verdict, text) = next((k, r) for k, r in enumerate(results) if r[1])
    assert verdict == PATH_VIOLATED and "a position error" in text
    assert sample.error_q[0] == pytest.approx(0.1) and k == 2  # 2 periods at 1 rad/s


def test_a_goal_waits_goal_time_for_its_tolerance_then_aborts():
    f = follower()
    path = Trajectory([0.5], [[0.5, 0.0]])
    f.receive(path, now_s=0.0)

    def short(setpoint):  # the arm stops 0.05 rad short of everything
        return np.maximum(setpoint - 0.05, 0.0), np.zeros(2)

    tolerances = Tolerances.uniform(2, goal=0.01, goal_time_s=0.17)
    results = judge(f, GoalMonitor(path, tolerances, ["a", "b"]), 0.0, 1.0, short)
    k = next(k for k, (_, verdict, _) in enumerate(results) if verdict)
    assert results[k][1] == GOAL_VIOLATED and k == 14  # the first period after 0.5 + 0.17 s
    assert "goal_time_tolerance" in results[k][2]
    forever = GoalMonitor(path, Tolerances.uniform(2, goal=0.01), ["a", "b"])  # goal_time 0
    g = follower()
    g.receive(path, now_s=0.0)
    assert all(verdict is None for _, verdict, _ in judge(g, forever, 0.0, 3.0, short))
