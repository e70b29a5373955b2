"""The Fetch's controller actions end to end, real processes: the sim driver serves
FollowJointTrajectory and GripperCommand (command_interface:=actions: no command topic reaches
it), the real-arm bring-ups of launch/fetch_*.launch.py (oneshot_ros.nodes.bringup) drive it
through the two bridges, and a client in the test process checks the controller semantics.
"""

import subprocess

import numpy as np
import pytest

pytest.importorskip("rclpy")
from action_msgs.msg import GoalStatus, GoalStatusArray  # noqa: E402
from rclpy.qos import qos_profile_action_status_default  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from oneshot_ros.nodes import bringup  # noqa: E402
from oneshot_ros.nodes import conversions as conv  # noqa: E402
from oneshot_ros.nodes.launcher import (  # noqa: E402
    node_command,
    ros_environment,
    unique_domain_id,
)
from oneshot_ros.world.robot import ARM_JOINTS, HOME_ARM, READY_ARM  # noqa: E402
from oneshot_ros.world.success import MANIPULATION  # noqa: E402

BRIDGES = ["gripper_action_bridge", "trajectory_action_bridge"]
ARM_ACTION = "/arm_controller/follow_joint_trajectory"
GRIPPER_ACTION = "/gripper_controller/gripper_action"
SIM = {"real_time": False, "time_scale": 3.0, "command_interface": "actions"}
PAN = ARM_JOINTS.index("shoulder_pan_joint")
BLOCK_M = 0.05  # the cube's width: the gap of fingers closed on one


# Runs a node module with control_msgs unimportable, as on a machine without it.
WITHOUT_CONTROL_MSGS = ("import runpy, sys; sys.modules['control_msgs'] = None; "
                        "runpy.run_module(sys.argv[1], run_name='__main__', alter_sys=True)")


@pytest.mark.parametrize("name", BRIDGES)
def test_without_control_msgs_the_bridge_exits_with_one_line_naming_the_fix(name):
    env = {**ros_environment(unique_domain_id()), "ROS_DISTRO": "kilted"}
    command = node_command(name, {})
    command[1:2] = ["-c", WITHOUT_CONTROL_MSGS]  # python -c ... oneshot_ros.nodes.<name> ...
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 1, output
    assert "Traceback" not in output and len(output.splitlines()) == 1, output
    assert "apt install ros-kilted-control-msgs" in output and name in output
    assert "interfaces/install_control_msgs.py" in output  # the pip install's way


def serve(ros, action_type, action_name: str, abort_first: bool = False) -> list:
    """An action server in the test process that accepts, records and succeeds every goal
    (aborts the first one with abort_first)."""
    from rclpy.action import ActionServer

    goals = []

    def execute(goal_handle):
        goals.append(goal_handle.request)
        if abort_first and len(goals) == 1:
            goal_handle.abort()
        else:
            goal_handle.succeed()
        return action_type.Result()

    ros.server = ActionServer(ros.node, action_type, action_name, execute)  # keep a reference
    return goals


def publish_until(ros, publisher, msg, goals, count: int, timeout_s: float = 30.0) -> None:
    """Publish msg every 50 ms (the bridge drops it until it sees the server) until `count`."""
    def published_and_done():
        publisher.publish(msg)
        ros.spin_for(0.05)
        return len(goals) >= count

    ros.wait_for(published_and_done, timeout_s, f"{count} goal(s)")


@pytest.mark.parametrize("kind, scale", [("gripper_command", 1.0),
                                         ("parallel_gripper_command", 0.5)])
def test_gap_commands_become_one_gripper_goal_per_change(ros_session, kind, scale):
    pytest.importorskip("control_msgs")
    from control_msgs.action import GripperCommand, ParallelGripperCommand

    action = GripperCommand if kind == "gripper_command" else ParallelGripperCommand
    ros = ros_session.ros
    goals = serve(ros, action, "/test_gripper/action")
    ros_session.start("gripper_action_bridge", {"action_type": kind, "position_scale": scale,
                                                "action_name": "/test_gripper/action"})
    gripper = ros.node.create_publisher(Float64MultiArray, conv.GRIPPER_COMMAND_TOPIC, 10)
    publish_until(ros, gripper, conv.gripper_command(0.1), goals, 1)
    publish_until(ros, gripper, conv.gripper_command(0.0), goals, 2)
    ros.spin_for(0.5)  # repeats of the same gap send no further goals
    positions = [g.command.position if kind == "gripper_command" else g.command.position[0]
                 for g in goals]
    np.testing.assert_allclose(positions, [0.1 * scale, 0.0])
    ros_session.nodes.check_alive()


def test_a_gripper_goal_the_controller_drops_is_sent_again(ros_session):
    """Aborted without a stall (a controller restart, a reset): the same gap goes out again
    with the next command instead of never."""
    pytest.importorskip("control_msgs")
    from control_msgs.action import GripperCommand

    ros = ros_session.ros
    goals = serve(ros, GripperCommand, "/test_gripper/action", abort_first=True)
    ros_session.start("gripper_action_bridge", {"action_name": "/test_gripper/action"})
    gripper = ros.node.create_publisher(Float64MultiArray, conv.GRIPPER_COMMAND_TOPIC, 10)
    publish_until(ros, gripper, conv.gripper_command(0.0), goals, 2)
    ros.spin_for(0.5)  # the second one succeeded: no third
    assert [g.command.position for g in goals] == [0.0, 0.0]


def test_streamed_trajectories_become_follow_joint_trajectory_goals(ros_session):
    pytest.importorskip("control_msgs")
    from control_msgs.action import FollowJointTrajectory

    ros = ros_session.ros
    goals = serve(ros, FollowJointTrajectory, "/test_arm/follow_joint_trajectory")
    ros_session.start("trajectory_action_bridge",
                      {"action_name": "/test_arm/follow_joint_trajectory"})
    arm = ros.node.create_publisher(JointTrajectory, conv.ARM_COMMAND_TOPIC, 10)
    publish_until(ros, arm, conv.arm_trajectory(np.array(READY_ARM), 0.05), goals, 1)
    positions, _ = conv.trajectory_points(goals[0].trajectory)
    np.testing.assert_allclose(positions[-1], READY_ARM)
    ros_session.nodes.check_alive()


# --- the sim driver's Fetch actions, driven by the fetch_* bring-ups -----------------------------
def start_sim(session, task: str, seed: int = 0, **params) -> None:
    session.start("sim_driver", {"task": task, "seed": seed, **SIM, **params})
    session.wait_for_service("/sim_driver/status")


def start_bringup(session, name: str, values: dict) -> list:
    """The nodes launch/<name>.launch.py starts with these launch arguments."""
    nodes = bringup.resolve(name, values)
    for node in nodes:
        session.nodes.start(node.executable, node.parameters, node.remappings)
    return nodes


def assert_parameters_declared(ros, nodes) -> None:
    """Every parameter the bring-up passes is one its node declares (rclpy would otherwise
    drop it without a word)."""
    from rcl_interfaces.srv import ListParameters

    for node in nodes:
        names = ros.call(f"/{node.executable}/list_parameters", ListParameters,
                         ListParameters.Request()).result.names
        assert set(node.parameters) <= set(names), (node.executable, set(node.parameters))


def assert_only_the_actions_command_the_sim(ros, status: dict) -> None:
    assert status["command_interface"] == "actions"
    for topic in (conv.ARM_COMMAND_TOPIC, conv.GRIPPER_COMMAND_TOPIC):
        readers = {info.node_name for info in ros.node.get_subscriptions_info_by_topic(topic)}
        assert "sim_driver" not in readers and readers, (topic, readers)
    assert status["arm_goals"]["accepted"] >= 100  # streamed: one per period it kept up with
    assert status["gripper_goals"]["accepted"] >= 2  # at least one close and one open


class GoalResults:
    """Results of the goals an action server ends, whoever sent them: the status topic names
    each ended goal, its result is fetched at once (the server keeps it 2 s)."""

    def __init__(self, ros, action_type, action_name: str):
        self.client = ros.node.create_client(action_type.Impl.GetResultService,
                                             f"{action_name}/_action/get_result")
        self.request_type = action_type.Impl.GetResultService.Request
        self.futures: dict[bytes, object] = {}
        ros.node.create_subscription(GoalStatusArray, f"{action_name}/_action/status",
                                     self._status, qos_profile_action_status_default)

    def _status(self, msg: GoalStatusArray) -> None:
        for status in msg.status_list:
            key = bytes(status.goal_info.goal_id.uuid)
            if status.status >= GoalStatus.STATUS_SUCCEEDED and key not in self.futures:
                self.futures[key] = self.client.call_async(
                    self.request_type(goal_id=status.goal_info.goal_id))

    def results(self) -> list:
        """(status, result) of each fetched one."""
        return [(f.result().status, f.result().result) for f in self.futures.values()
                if f.done()]


def test_fetch_record_with_the_expert_stacks_abc_only_through_the_two_actions(ros_session,
                                                                            tmp_path):
    """A 2-stage episode: the scripted expert's commands reach the simulated Fetch only as
    FollowJointTrajectory and GripperCommand goals; the fingers closing on each block end
    their goal stalled; the recorder writes the successful episode."""
    pytest.importorskip("control_msgs")
    from control_msgs.action import GripperCommand

    ros = ros_session.ros
    gripper_goals = GoalResults(ros, GripperCommand, GRIPPER_ACTION)
    out = tmp_path / "fetch.h5"
    start_sim(ros_session, "abc", seed=1)
    nodes = start_bringup(ros_session, "fetch_record",
                          {"task": "abc", "out": str(out), "expert": "true"})
    assert {n.executable for n in nodes} == {"scripted_expert", "demo_recorder", *BRIDGES}
    ros_session.wait_for_service("/demo_recorder/discard_episode")
    ros_session.wait_steps(ros_session.status()["step"] + 2)
    assert ros.trigger("/demo_recorder/start_episode")[0]
    status = ros_session.run_until_done(max_wall_s=240)
    ok, message = ros.trigger("/demo_recorder/stop_episode")
    assert status["success"] and ok and "success" in message, (status, message)
    assert_only_the_actions_command_the_sim(ros, status)
    ros_session.wait_until(lambda: len(gripper_goals.results()) >= 3, 10, "gripper results")
    results = gripper_goals.results()
    stalled = [r for s, r in results if s == GoalStatus.STATUS_ABORTED and r.stalled]
    assert len(stalled) >= 1 and not any(r.reached_goal for r in stalled), results
    for result in stalled:  # closed on a block, not on nothing
        assert abs(result.position - BLOCK_M) < 0.01 and result.effort > 0, result
    assert any(s == GoalStatus.STATUS_SUCCEEDED and r.reached_goal for s, r in results)
    assert_parameters_declared(ros, nodes)


def test_fetch_imitate_stacks_an_unseen_task_only_through_the_two_actions(ros_session,
                                                                        tmp_path):
    """The shipped model, conditioned on one scripted demo of the unseen 2-stage "bae d c",
    builds it through the bridges (the sim's joint velocity limit, as the model was trained
    with, instead of the real arm's 0.5 rad/s)."""
    pytest.importorskip("control_msgs")
    from std_srvs.srv import SetBool

    from oneshot_ros.commands.ros_demo import record_demo

    task = "bae d c"
    demo, _ = record_demo(task, 100_000, tmp_path / "demo.h5")
    start_sim(ros_session, task, seed=2, time_scale=2.0)
    nodes = start_bringup(ros_session, "fetch_imitate",
                          {"demo_file": str(demo), "max_joint_velocity_rad_s": "1.5"})
    ros = ros_session.ros
    ros_session.wait_for_service("/imitator/activate", SetBool)
    ok, message = ros.set_bool("/imitator/activate", True, timeout_s=120)  # configures first
    assert ok, message
    status = ros_session.run_until_done(max_wall_s=240, stop_outcomes=(MANIPULATION,))
    assert status["success"], status
    assert_only_the_actions_command_the_sim(ros, status)
    assert_parameters_declared(ros, nodes)


# --- FollowJointTrajectory and GripperCommand semantics, from a client ---------------------------
class Client:
    """Goals to the sim driver's actions from the test process, waited for in its executor."""

    def __init__(self, session):
        from control_msgs.action import FollowJointTrajectory, GripperCommand
        from rclpy.action import ActionClient

        self.session, self.ros = session, session.ros
        self.arm_type, self.gripper_type = FollowJointTrajectory, GripperCommand
        self.arm = ActionClient(self.ros.node, FollowJointTrajectory, ARM_ACTION)
        self.gripper = ActionClient(self.ros.node, GripperCommand, GRIPPER_ACTION)
        self.feedback: list = []
        assert self.arm.wait_for_server(timeout_sec=30)
        assert self.gripper.wait_for_server(timeout_sec=30)

    def send(self, client, goal):
        future = client.send_goal_async(goal, feedback_callback=self.feedback.append)
        self.ros.executor.spin_until_future_complete(future, timeout_sec=10)
        return future.result()  # the goal handle; .accepted

    def result(self, handle, timeout_s: float = 30.0):
        future = handle.get_result_async()
        self.ros.executor.spin_until_future_complete(future, timeout_sec=timeout_s)
        assert future.done(), "no result"
        return future.result().status, future.result().result

    def arm_goal(self, points, **fields):
        """points: [(time_from_start_s, pan offset from HOME_ARM rad)], zero stamp (now)."""
        msg = conv.arm_trajectory(HOME_ARM, 0.05)
        msg.points = []
        for t, dq in points:
            point = conv.arm_trajectory(np.array(HOME_ARM) + np.eye(7)[PAN] * dq, 0.05).points[0]
            point.time_from_start = conv.duration(t)
            msg.points.append(point)
        return self.arm_type.Goal(trajectory=msg, **fields)

    def tolerance(self, position: float, velocity: float = 0.0) -> list:
        from control_msgs.msg import JointTolerance

        return [JointTolerance(name="shoulder_pan_joint", position=position, velocity=velocity)]


def test_goals_are_rejected_for_wrong_joints_a_past_stamp_or_beyond_the_limits(ros_session):
    pytest.importorskip("control_msgs")
    start_sim(ros_session, "ab")
    client = Client(ros_session)
    cases = {"INVALID_JOINTS": client.arm_goal([(1.0, 0.1)]),
             "OLD_HEADER_TIMESTAMP": client.arm_goal([(0.5, 0.1)]),
             "INVALID_GOAL": client.arm_goal([(1.0, 5.0)])}  # the pan joint's limit is 1.6
    cases["INVALID_JOINTS"].trajectory.joint_names[PAN] = "head_pan_joint"
    cases["OLD_HEADER_TIMESTAMP"].trajectory.header.stamp.nanosec = 1000  # sim time 1 us
    ros_session.wait_steps(40)  # 2 s of sim time: the stamped one ended at 0.5 s
    for code, goal in cases.items():
        assert not client.send(client.arm, goal).accepted, code
    gripper = client.gripper_type.Goal()
    gripper.command.position = 0.5  # the gap is 0 .. 0.1 m
    assert not client.send(client.gripper, gripper).accepted
    log = ros_session.nodes.log("sim_driver")
    assert all(f"goal rejected ({code}" in log for code in cases), log
    assert ros_session.status()["arm_goals"]["rejected"] == 3
    ros_session.nodes.check_alive()


def test_a_newer_goal_preempts_the_active_one_and_a_cancel_holds_the_arm(ros_session):
    pytest.importorskip("control_msgs")
    states = ros_session.ros.collect(conv.JOINT_STATES_TOPIC, JointState, depth=1000)
    start_sim(ros_session, "ab")
    client = Client(ros_session)
    first = client.send(client.arm, client.arm_goal([(3.0, 0.6)]))
    ros_session.wait_steps(ros_session.status()["step"] + 10)
    second = client.send(client.arm, client.arm_goal([(3.0, -0.6)]))
    assert first.accepted and second.accepted
    status, result = client.result(first)
    assert status == GoalStatus.STATUS_ABORTED
    assert result.error_code == client.arm_type.Result.INVALID_GOAL
    assert "preempted" in result.error_string
    ros_session.wait_steps(ros_session.status()["step"] + 10)
    future = second.cancel_goal_async()
    client.ros.executor.spin_until_future_complete(future, timeout_sec=10)
    status, _ = client.result(second)
    assert status == GoalStatus.STATUS_CANCELED
    ros_session.wait_steps(ros_session.status()["step"] + 5)
    held = conv.arm_joint_vector(states[-1][1])[PAN]
    ros_session.wait_steps(ros_session.status()["step"] + 30)  # 1.5 s: the goal had 2 s left
    assert abs(conv.arm_joint_vector(states[-1][1])[PAN] - held) < 0.01
    assert abs(held - HOME_ARM[PAN]) < 0.5  # it stopped on its way, not at -0.6
    feedback = [f.feedback for f in client.feedback]
    assert len(feedback) >= 10 and list(feedback[-1].joint_names) == list(ARM_JOINTS)
    last = feedback[-1]
    np.testing.assert_allclose(np.array(last.error.positions),
                               np.array(last.desired.positions) - last.actual.positions)
    stamps = [conv.stamp_s(f.header.stamp) for f in feedback]
    assert np.all(np.diff(stamps) > 0)  # one per control period, in sim time
    assert ros_session.status()["arm_goals"]["canceled"] == 1


def test_tolerances_end_goals_with_their_error_codes(ros_session):
    """In sim time: a move the velocity limit cannot follow violates a path tolerance; a goal
    due sooner than the arm can get there misses its goal tolerance after goal_time_tolerance;
    one it can follow succeeds once within its goal tolerance and stopped."""
    pytest.importorskip("control_msgs")
    start_sim(ros_session, "ab")
    client = Client(ros_session)
    codes = client.arm_type.Result
    fast = client.arm_goal([(0.2, 0.8)], path_tolerance=client.tolerance(0.05))  # 4 rad/s
    status, result = client.result(client.send(client.arm, fast))
    assert status == GoalStatus.STATUS_ABORTED, result
    assert result.error_code == codes.PATH_TOLERANCE_VIOLATED, result
    assert "shoulder_pan_joint" in result.error_string
    late = client.arm_goal([(0.2, 0.8)], goal_tolerance=client.tolerance(0.01),
                           goal_time_tolerance=conv.duration(0.1))
    status, result = client.result(client.send(client.arm, late))
    assert status == GoalStatus.STATUS_ABORTED, result
    assert result.error_code == codes.GOAL_TOLERANCE_VIOLATED, result
    assert "goal_time_tolerance" in result.error_string
    slow = client.arm_goal([(1.5, 0.3)], path_tolerance=client.tolerance(0.1),
                           goal_tolerance=client.tolerance(0.01),
                           goal_time_tolerance=conv.duration(1.0))
    status, result = client.result(client.send(client.arm, slow))
    assert status == GoalStatus.STATUS_SUCCEEDED and result.error_code == codes.SUCCESSFUL


def test_gripper_goals_reach_their_gap_and_a_newer_one_cancels_the_active_one(ros_session):
    pytest.importorskip("control_msgs")
    start_sim(ros_session, "ab")
    client = Client(ros_session)

    def goal(position: float):
        msg = client.gripper_type.Goal()
        msg.command.position, msg.command.max_effort = position, 50.0
        return msg

    closing = client.send(client.gripper, goal(0.0))
    opening = client.send(client.gripper, goal(0.08))
    status, result = client.result(closing)
    assert status == GoalStatus.STATUS_CANCELED
    status, result = client.result(opening)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.reached_goal and not result.stalled
    status, result = client.result(client.send(client.gripper, goal(0.0)))  # on nothing
    assert status == GoalStatus.STATUS_SUCCEEDED and result.reached_goal, result
    assert result.position < 0.01
