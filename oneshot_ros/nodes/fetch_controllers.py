"""The Fetch's two controller actions, served by the sim driver with ros2_controllers' semantics.

    arm, gripper = declare_controllers(node, clock, start, hold, command)  # from parameters
    # every control period, in the stamps' time (sim time when the driver publishes /clock):
    held = arm.tick(now_s, follower, q, qd)    # True: a violation made the follower hold q
    gripper.tick(now_s, gap_m, gap_velocity, effort)

ArmController is joint_trajectory_controller's control_msgs/FollowJointTrajectory (Kilted) on
the driver's TrajectoryFollower. A goal is refused (no result: ROS 2 rejects goals without one;
the log line names the error code) when it does not name each arm joint once (INVALID_JOINTS),
ends before now (OLD_HEADER_TIMESTAMP), or has no points, non-finite values, times not
increasing, a position outside the joint limits, a non-zero final velocity, effort values, a
multi-DOF part or an illegal tolerance (INVALID_GOAL). An accepted goal aborts the active one
(INVALID_GOAL, "Current goal preempted by new incoming action.") and replaces its trajectory at
the next period; each period publishes feedback (desired, actual, error, index) and checks
path_tolerance, then at the last point goal_tolerance within goal_time_tolerance:
PATH_TOLERANCE_VIOLATED or GOAL_TOLERANCE_VIOLATED abort it and hold the measured joints;
inside them it succeeds (SUCCESSFUL) and the last point is held. Cancel: CANCELED, hold.

GripperController is gripper_action_controller's control_msgs/GripperCommand (position = the
gap between the pads, m, as the Fetch's): a new goal cancels the active one; it succeeds with
reached_goal once |gap - position| < goal tolerance, or ends stalled (fingers slower than the
stall velocity for the stall timeout, e.g. closed on a block): aborted (succeeded with
allow_stalling), stalled=True, reached_goal=False, the fingers still squeezing.

Non-blocking: an execute callback awaits a Future the control tick resolves, so the driver's
single-threaded executor serves goals, topics and the tick alike.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
from action_msgs.msg import GoalStatus
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.task import Future
from trajectory_msgs.msg import JointTrajectoryPoint

from oneshot_ros.nodes import conversions as conv
from oneshot_ros.nodes import trajectory_follower as trajectory
from oneshot_ros.nodes.common import require
from oneshot_ros.nodes.params import declare
from oneshot_ros.world.robot import ARM_JOINTS, GRIPPER_MAX_GAP_M, JOINT_LIMITS

# Results are kept this long after a goal ends (rclpy: 10 s). Streamed goals end every period,
# and every status message lists each goal still kept: 10 s at 60 goals/s is 600 per message.
RESULT_TIMEOUT_S = 2
LOG_PERIOD_S = 2.0  # rejections with the same error code are logged at most this often
LIMIT_MARGIN_RAD = 1e-6  # goal positions this far beyond a URDF limit are still the limit


class GoalRefused(ValueError):
    """A goal the controller rejects; `code` names the FollowJointTrajectory error code."""

    def __init__(self, code: str, text: str):
        super().__init__(f"{code}: {text}")
        self.code = code


class _Goal:
    """An accepted goal: its handle, what it asks for, and the verdict its execute awaits."""

    def __init__(self, handle, **data):
        self.handle, self.data = handle, data
        self.verdict: Future = Future()  # (succeed | abort | canceled, Result)

    def finish(self, terminal: str, result) -> None:
        if not self.verdict.done():
            self.verdict.set_result((terminal, result))


class _GoalServer:
    """One action server whose goals are decided at the control tick: at most one active."""

    kind = "goal"

    def __init__(self, node, action_type, action_name: str):
        self.node, self.action_type, self.action_name = node, action_type, action_name
        self.active: _Goal | None = None
        self.counts: Counter = Counter()  # accepted, rejected, succeeded, aborted, canceled
        self._accepted: dict[bytes, _Goal] = {}  # handles waiting for their execute callback
        self._parsed = (None, None)  # (request, parse(request)) of the last goal callback
        self._logged: dict[str, float] = {}  # error code -> when a rejection was last logged
        self.server = ActionServer(node, action_type, action_name, self._execute,
                                   goal_callback=self._on_goal,
                                   handle_accepted_callback=self._on_accepted,
                                   cancel_callback=self._on_cancel,
                                   result_timeout=RESULT_TIMEOUT_S)

    def _on_goal(self, request) -> GoalResponse:
        try:
            self._parsed = (request, self.parse(request))
        except GoalRefused as err:
            self.counts["rejected"] += 1
            now = time.monotonic()  # one line per error code and 2 s: a stream may be all bad
            if now - self._logged.get(err.code, -math.inf) >= LOG_PERIOD_S:
                self._logged[err.code] = now
                self.node.get_logger().warning(f"{self.kind} goal rejected ({err})")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_accepted(self, handle) -> None:
        request, data = self._parsed  # the goal callback parsed this request just before
        if request is not handle.request:
            data = self.parse(handle.request)
        goal = _Goal(handle, **data)
        self.counts["accepted"] += 1
        if self.active is not None:
            self.preempt(self.active)
        self.active = goal
        self._accepted[bytes(handle.goal_id.uuid)] = goal
        handle.execute()
        self.started(goal)

    def _on_cancel(self, handle) -> CancelResponse:
        if self.active is not None and self.active.handle == handle:
            self.cancel_active()
        return CancelResponse.ACCEPT  # as JTC: an inactive goal is ending anyway

    async def _execute(self, handle):
        goal = self._accepted.pop(bytes(handle.goal_id.uuid))
        terminal, result = await goal.verdict
        if terminal == "canceled" and handle.status == GoalStatus.STATUS_EXECUTING:
            # a server-side cancel (a preempted gripper goal): rclpy has no public call for it
            handle._update_state(_rclpy.GoalEvent.CANCEL_GOAL)
        getattr(handle, terminal)()
        return result

    def end(self, terminal: str, result) -> None:
        """End the active goal: succeed, abort or canceled."""
        goal, self.active = self.active, None
        if goal is not None:
            self.counts[{"succeed": "succeeded", "abort": "aborted"}.get(terminal, terminal)] += 1
            goal.finish(terminal, result)

    def as_dict(self) -> dict:
        return {key: self.counts[key] for key in
                ("accepted", "rejected", "succeeded", "aborted", "canceled")}

    # what each controller defines
    def parse(self, request) -> dict:
        raise NotImplementedError

    def started(self, goal: _Goal) -> None:
        raise NotImplementedError

    def preempt(self, goal: _Goal) -> None:
        raise NotImplementedError

    def cancel_active(self) -> None:
        raise NotImplementedError


class ArmController(_GoalServer):
    """FollowJointTrajectory on the driver's TrajectoryFollower (see the module docstring).

    clock() -> now (s); start(Trajectory) makes the driver follow it from the next period
    (TrajectoryError when it refuses); hold() makes it hold the measured joints from then."""

    kind = "arm"

    def __init__(self, node, action_name: str, tolerances: trajectory.Tolerances, lower, upper,
                 clock, start, hold):
        self.action = require("control_msgs.action", "control_msgs").FollowJointTrajectory
        self.tolerances = tolerances
        self.lower, self.upper = np.asarray(lower), np.asarray(upper)
        self.clock, self.start, self.hold = clock, start, hold
        super().__init__(node, self.action, action_name)

    def parse(self, request) -> dict:
        """The goal's Trajectory and Tolerances; GoalRefused says why not."""
        msg = request.trajectory
        multi_dof = request.multi_dof_trajectory
        if multi_dof.joint_names or multi_dof.points:
            raise GoalRefused("INVALID_GOAL", "multi_dof_trajectory is not supported")
        try:
            positions, times = conv.trajectory_points(msg)  # (P, 7), (P,)
        except conv.JointNamesError as err:
            raise GoalRefused("INVALID_JOINTS", str(err)) from None
        except conv.MessageError as err:
            raise GoalRefused("INVALID_GOAL", str(err)) from None
        _check_point_fields(msg)
        outside = (positions < self.lower - LIMIT_MARGIN_RAD) | \
            (positions > self.upper + LIMIT_MARGIN_RAD)
        if outside.any():
            k, j = np.argwhere(outside)[0]
            raise GoalRefused("INVALID_GOAL", f"point {k}: {ARM_JOINTS[j]} = "
                              f"{positions[k, j]:g} is outside its limits [{self.lower[j]:g}, "
                              f"{self.upper[j]:g}]")
        start = conv.stamp_s(msg.header.stamp) or None
        try:
            path = trajectory.Trajectory(times, positions, start)
        except trajectory.TrajectoryError as err:
            raise GoalRefused("INVALID_GOAL", str(err)) from None
        now_s = self.clock()
        if start is not None and path.end_s(start) < now_s:
            raise GoalRefused("OLD_HEADER_TIMESTAMP", f"the trajectory ends at "
                              f"{path.end_s(start):.3f} s, before now ({now_s:.3f} s): "
                              "header.stamp is in the past")
        return {"trajectory": path, "tolerances": self._tolerances(request)}

    def _tolerances(self, request) -> trajectory.Tolerances:
        requests = {}
        for field in ("path_tolerance", "goal_tolerance"):
            by_joint = {}
            for tol in getattr(request, field):
                if tol.name not in ARM_JOINTS:
                    raise GoalRefused("INVALID_JOINTS", f"{field} names {tol.name!r}, not one "
                                      f"of {list(ARM_JOINTS)}")
                by_joint[ARM_JOINTS.index(tol.name)] = (tol.position, tol.velocity)
            requests[field] = by_joint
        try:
            return self.tolerances.for_goal(requests["path_tolerance"],
                                            requests["goal_tolerance"],
                                            conv.duration_s(request.goal_time_tolerance))
        except trajectory.TrajectoryError as err:
            raise GoalRefused("INVALID_GOAL", str(err)) from None

    def started(self, goal: _Goal) -> None:
        goal.data["monitor"] = trajectory.GoalMonitor(goal.data["trajectory"],
                                                      goal.data["tolerances"], ARM_JOINTS)
        try:
            self.start(goal.data["trajectory"])
        except trajectory.TrajectoryError as err:  # checked in parse: only a race gets here
            self.end("abort", self.result("INVALID_GOAL", str(err)))

    def preempt(self, goal: _Goal) -> None:
        self.end("abort", self.result("INVALID_GOAL",
                                      "Current goal preempted by new incoming action."))

    def cancel_active(self) -> None:
        self.end("canceled", self.action.Result())
        self.hold()

    def superseded(self, why: str) -> None:
        """Another command source replaced the goal's trajectory (the topic, a reset)."""
        if self.active is not None:
            self.end("abort", self.result("INVALID_GOAL", f"Current goal aborted: {why}"))

    def result(self, code: str, text: str):
        return self.action.Result(error_code=getattr(self.action.Result, code),
                                  error_string=text)

    def tick(self, now_s: float, follower: trajectory.TrajectoryFollower, q, qd) -> bool:
        """Judge the active goal at the start of a period (after follower.update); True when
        it was aborted for a tolerance and the follower now holds q."""
        goal = self.active
        if goal is None:
            return False
        if follower.active is not goal.data["trajectory"]:  # replaced before it started
            self.superseded("another trajectory replaced it")
            return False
        sample, verdict, text = goal.data["monitor"].check(follower, now_s, q, qd)
        goal.handle.publish_feedback(self._feedback(now_s, sample, now_s - follower.start_s))
        if verdict == trajectory.SUCCEEDED:
            self.end("succeed", self.result("SUCCESSFUL", text))
        elif verdict is not None:
            code = "PATH_TOLERANCE_VIOLATED" if verdict == trajectory.PATH_VIOLATED else \
                "GOAL_TOLERANCE_VIOLATED"
            self.end("abort", self.result(code, text))
            self.node.get_logger().warning(f"arm goal aborted ({code}): {text}",
                                           throttle_duration_sec=2)
            follower.hold(q)  # as JTC: hold the measured joints
            return True
        return False

    def _feedback(self, now_s: float, sample: trajectory.GoalSample, elapsed_s: float):
        feedback = self.action.Feedback(joint_names=list(ARM_JOINTS), index=sample.index)
        feedback.header.stamp = conv.time_msg(now_s)
        since = conv.duration(max(elapsed_s, 0.0))  # time_from_start, as JTC's
        for field, q, qd in (("desired", sample.desired_q, sample.desired_qd),
                             ("actual", sample.actual_q, sample.actual_qd),
                             ("error", sample.error_q, sample.error_qd)):
            setattr(feedback, field, JointTrajectoryPoint(
                positions=q.tolist(), velocities=qd.tolist(), time_from_start=since))
        return feedback


def _check_point_fields(msg) -> None:
    """JTC's checks of velocities, accelerations and effort in the points (positions done)."""
    n = len(msg.joint_names)
    for k, point in enumerate(msg.points):
        for field in ("velocities", "accelerations"):
            values = list(getattr(point, field))
            if len(values) not in (0, n):
                raise GoalRefused("INVALID_GOAL", f"point {k} has {len(values)} {field} for "
                                  f"{n} joints; send none or one per joint")
            if not all(math.isfinite(v) for v in values):
                raise GoalRefused("INVALID_GOAL", f"point {k} {field} contain NaN or inf")
        if len(point.effort):
            raise GoalRefused("INVALID_GOAL", f"point {k} has effort values: only positions "
                              "are commanded")
    if any(abs(v) > 1e-6 for v in msg.points[-1].velocities):
        raise GoalRefused("INVALID_GOAL", "the last point's velocities are not zero")


@dataclass(frozen=True)
class GripperSettings:
    """gripper_action_controller's parameters (its defaults)."""
    goal_tolerance_m: float = 0.01
    stall_velocity_m_s: float = 0.001
    stall_timeout_s: float = 1.0
    allow_stalling: bool = False


class GripperController(_GoalServer):
    """GripperCommand on the finger gap (see the module docstring).

    clock() -> now (s); command(gap_m) sets the gap the fingers servo to."""

    kind = "gripper"

    def __init__(self, node, action_name: str, settings: GripperSettings, clock, command):
        self.action = require("control_msgs.action", "control_msgs").GripperCommand
        self.settings, self.clock, self.command = settings, clock, command
        self.gap_m, self.effort = 0.0, 0.0  # measured at the last tick
        self.last_moved_s = 0.0
        super().__init__(node, self.action, action_name)

    def parse(self, request) -> dict:
        position, effort = request.command.position, request.command.max_effort
        if not (math.isfinite(position) and math.isfinite(effort)):
            raise GoalRefused("INVALID_GOAL", f"position {position}, max_effort {effort}: "
                              "use finite values")
        if not -LIMIT_MARGIN_RAD <= position <= GRIPPER_MAX_GAP_M + LIMIT_MARGIN_RAD:
            raise GoalRefused("INVALID_GOAL", f"position {position:g} m is outside the gap "
                              f"range [0, {GRIPPER_MAX_GAP_M}] m")
        if effort < 0:
            raise GoalRefused("INVALID_GOAL", f"max_effort {effort:g} N: use >= 0")
        return {"position": conv.clamp_gap(position)}

    def started(self, goal: _Goal) -> None:
        self.command(goal.data["position"])
        self.last_moved_s = self.clock()

    def preempt(self, goal: _Goal) -> None:
        self.end("canceled", self.action.Result())  # as gripper_action_controller

    def cancel_active(self) -> None:
        self.command(self.gap_m)  # hold the measured gap
        self.end("canceled", self.action.Result())

    def superseded(self, why: str) -> None:
        if self.active is not None:
            self.end("abort", self.result(False, False))

    def result(self, stalled: bool, reached: bool):
        return self.action.Result(position=self.gap_m, effort=self.effort, stalled=stalled,
                                  reached_goal=reached)

    def tick(self, now_s: float, gap_m: float, gap_velocity: float, effort: float) -> None:
        self.gap_m, self.effort = gap_m, effort
        goal, s = self.active, self.settings
        if goal is None:
            return
        feedback = self.action.Feedback(position=gap_m, effort=effort)
        if abs(goal.data["position"] - gap_m) < s.goal_tolerance_m:
            goal.handle.publish_feedback(feedback)
            self.end("succeed", self.result(False, True))
            return
        if abs(gap_velocity) > s.stall_velocity_m_s:
            self.last_moved_s = now_s
        elif now_s - self.last_moved_s > s.stall_timeout_s:
            feedback.stalled = True
            goal.handle.publish_feedback(feedback)
            self.end("succeed" if s.allow_stalling else "abort", self.result(True, False))
            return
        goal.handle.publish_feedback(feedback)


def declare_controllers(node, clock, start, hold, command):
    """Both action servers, named and tuned by the node's parameters (read once).

    clock() -> now (s); start(Trajectory) / hold() as ArmController's; command(gap_m) as
    GripperController's."""
    arm_name = declare(node, "arm_action_name", "/arm_controller/follow_joint_trajectory",
                       "FollowJointTrajectory action (command_interface actions/both)")
    gripper_name = declare(node, "gripper_action_name", "/gripper_controller/gripper_action",
                           "GripperCommand action (command_interface actions/both)")
    tolerances = trajectory.Tolerances.uniform(
        len(ARM_JOINTS),
        path=declare(node, "arm_path_tolerance_rad", 0.0, "rad, default path_tolerance of every "
                     "arm joint (0: not checked, as JTC's)", low=0.0, high=10.0),
        goal=declare(node, "arm_goal_tolerance_rad", 0.0, "rad, default goal_tolerance (0: not "
                     "checked)", low=0.0, high=10.0),
        stopped_velocity=declare(node, "arm_stopped_velocity_tolerance", 0.01, "rad/s, default "
                                 "goal velocity tolerance (JTC's stopped_velocity_tolerance)",
                                 low=0.0, high=10.0),
        goal_time_s=declare(node, "arm_goal_time_tolerance_s", 0.0, "s, default "
                            "goal_time_tolerance (0: wait for the goal tolerance for ever)",
                            low=0.0, high=600.0))
    limits = [JOINT_LIMITS[name] for name in ARM_JOINTS]
    arm = ArmController(node, arm_name, tolerances, [lim.lower for lim in limits],
                        [lim.upper for lim in limits], clock, start, hold)
    settings = GripperSettings(
        goal_tolerance_m=declare(node, "gripper_goal_tolerance_m", 0.01, "m, a gripper goal is "
                                 "reached within this", low=0.0, high=0.1),
        stall_velocity_m_s=declare(node, "gripper_stall_velocity_m_s", 0.01, "m/s, slower "
                                   "fingers are not moving (gripper_action_controller: 0.001; "
                                   "the sim's fingers jitter faster on a squeezed block)",
                                   low=0.0, high=1.0),
        stall_timeout_s=declare(node, "gripper_stall_timeout_s", 1.0, "s without moving before "
                                "a goal ends stalled", low=0.0, high=60.0),
        allow_stalling=declare(node, "gripper_allow_stalling", False, "a stalled goal succeeds "
                               "instead of aborting"))
    gripper = GripperController(node, gripper_name, settings, clock, command)
    node.get_logger().info(f"serving {arm_name} and {gripper_name}")
    return arm, gripper
