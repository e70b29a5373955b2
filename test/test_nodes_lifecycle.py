"""The imitator is a managed (lifecycle) node, driven over the standard /imitator/change_state
and /imitator/get_state services in a real process: a broken model fails configure and leaves
it unconfigured and alive; a good one loads at configure, commands flow only while active
(counted on /arm_controller/joint_trajectory, judged by the stamps of the states they answer)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("rclpy")
from fake_robot import FakeRobot  # noqa: E402
from lifecycle_msgs.srv import GetState  # noqa: E402

IMITATOR = "imitator"
LOAD_TIMEOUT_S = 120.0  # configure loads torch, the model and the demo (a busy machine: slow)


def start(session, **params) -> None:
    session.start(IMITATOR, {k: str(v) if hasattr(v, "is_dir") else v
                             for k, v in params.items()})
    session.wait_for_service(f"/{IMITATOR}/get_state", GetState)


def transition(session, label: str) -> tuple[bool, str]:
    return session.ros.change_state(IMITATOR, label, timeout_s=LOAD_TIMEOUT_S)


def foreign_model(path):
    """A checkpoint directory of some other library: a config.json we do not write, junk
    weights."""
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"architectures": ["BertModel"],
                                                  "hidden_size": 768}))
    (path / "model.safetensors").write_bytes(b"\x00not safetensors\xff" * 8)
    return path


def error_lines(session) -> list[str]:
    return [line for line in session.nodes.log(IMITATOR).splitlines() if "no policy:" in line]


def answered_after(robot, t_s: float) -> list:
    """Arm commands answering a joint state stamped after t_s (each carries its state's stamp)."""
    from oneshot_ros.nodes import conversions as conv

    return [m for _, m in robot.arm if conv.stamp_s(m.header.stamp) > t_s + 1e-6]


def test_a_broken_model_fails_configure_and_the_node_stays_unconfigured_and_up(
        ros_session, tiny_model, ab_demo_file, tmp_path):
    start(ros_session, model=foreign_model(tmp_path / "bert"), demo_file=ab_demo_file)
    assert ros_session.ros.get_state(IMITATOR) == "unconfigured"
    assert not error_lines(ros_session)  # nothing loads before configure
    ok, message = transition(ros_session, "configure")
    assert not ok and "unconfigured" in message
    assert ros_session.ros.get_state(IMITATOR) == "unconfigured"
    [line] = error_lines(ros_session)  # one line naming the problem and the fix
    assert "configure again" in line and "model" in line, line
    log = ros_session.nodes.log(IMITATOR)
    assert "Traceback" not in log
    ok, _ = transition(ros_session, "activate")  # not from unconfigured
    assert not ok and ros_session.ros.get_state(IMITATOR) == "unconfigured"
    ros_session.nodes.check_alive()
    ros_session.ros.set_params(IMITATOR, {"model": str(tiny_model)})  # allowed: unconfigured
    ok, message = transition(ros_session, "configure")
    assert ok and message.endswith("is inactive"), message
    assert "conditioned on" in ros_session.nodes.log(IMITATOR)
    assert len(error_lines(ros_session)) == 1


def test_commands_flow_only_while_active_and_every_transition_does_what_it_says(
        ros_session, tiny_model, ab_demo_file):
    start(ros_session, model=tiny_model, demo_file=ab_demo_file)
    robot = FakeRobot(ros_session)
    ok, message = transition(ros_session, "configure")
    assert ok and ros_session.ros.get_state(IMITATOR) == "inactive", message
    robot.run(1.0)  # 20 states answered by nothing: inactive publishes nothing
    assert not robot.arm and not robot.gripper
    with pytest.raises(ValueError, match="read at configure"):  # loaded: load settings locked
        ros_session.ros.set_params(IMITATOR, {"demo_index": 0})

    assert transition(ros_session, "activate")[0]
    assert ros_session.ros.get_state(IMITATOR) == "active"
    ros_session.wait_until(lambda: (robot.run(0.25), len(robot.arm) >= 10)[1], 60,
                           "10 commands while active")

    assert transition(ros_session, "deactivate")[0]
    deactivated_at = robot.t  # states stamped after this one find an inactive node
    robot.run(1.0)
    assert robot.arm and not answered_after(robot, deactivated_at)
    assert ros_session.ros.get_state(IMITATOR) == "inactive"

    assert transition(ros_session, "cleanup")[0]
    assert ros_session.ros.get_state(IMITATOR) == "unconfigured"
    ros_session.ros.set_params(IMITATOR, {"seed": 3})  # unloaded: settable again
    ok, message = ros_session.ros.set_bool(f"/{IMITATOR}/activate", True, LOAD_TIMEOUT_S)
    assert ok and ros_session.ros.get_state(IMITATOR) == "active", message  # configure+activate
    resumed_at = robot.t
    ros_session.wait_until(lambda: (robot.run(0.25), answered_after(robot, resumed_at))[1], 60,
                           "commands after ~/activate true")
    ok, message = ros_session.ros.set_bool(f"/{IMITATOR}/activate", False)
    assert ok and ros_session.ros.get_state(IMITATOR) == "inactive", message
    stopped_at = robot.t
    robot.run(1.0)
    assert not answered_after(robot, stopped_at)

    assert transition(ros_session, "shutdown")[0]
    assert ros_session.ros.get_state(IMITATOR) == "finalized"
    ok, message = ros_session.ros.set_bool(f"/{IMITATOR}/activate", True)
    assert not ok and "finalized" in message
    ros_session.nodes.check_alive()
    assert "Traceback" not in ros_session.nodes.log(IMITATOR)


def test_active_true_configures_and_activates_at_start(ros_session, tiny_model, ab_demo_file):
    """The launch files' activate:=true and older set-ups start it with active:=true."""
    start(ros_session, model=tiny_model, demo_file=ab_demo_file, active=True)
    robot = FakeRobot(ros_session)
    ros_session.wait_until(lambda: ros_session.ros.get_state(IMITATOR) == "active",
                           LOAD_TIMEOUT_S, "the autostart")
    ros_session.wait_until(lambda: (robot.run(0.25), len(robot.arm) >= 5)[1], 60,
                           "commands after the autostart")


def test_sim_imitate_launch_configures_at_start_and_activates_only_when_asked():
    """launch_ros is not installable here: the launch file is read with ast (a ROS install's
    test_launch.py also builds it). The standard pattern: a LifecycleNode, a ChangeState
    configure emitted at start, activate on reaching 'inactive' only with activate:=true."""
    import ast
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "launch" / "sim_imitate.launch.py"
    tree = ast.parse(path.read_text())

    def calls(node, name):
        return [n for n in ast.walk(node) if isinstance(n, ast.Call)
                and getattr(n.func, "id", getattr(n.func, "attr", None)) == name]

    def kw(call, name):
        return next((k.value for k in call.keywords if k.arg == name), None)

    [imitator] = calls(tree, "LifecycleNode")
    assert kw(imitator, "executable").value == kw(imitator, "name").value == "imitator"
    assert "imitator.yaml" in ast.unparse(kw(imitator, "parameters"))
    assert "active" not in ast.unparse(kw(imitator, "parameters"))  # the launch activates
    assert all(kw(n, "executable").value != "imitator" for n in calls(tree, "Node"))
    description = calls(tree, "LaunchDescription")[0].args[0].elts
    configure = [e for e in description if calls(e, "EmitEvent") and "TRANSITION_CONFIGURE"
                 in ast.unparse(e)]
    assert len(configure) == 1 and kw(configure[0], "condition") is None  # always
    [handler] = [e for e in description if calls(e, "RegisterEventHandler")]
    [on_transition] = calls(handler, "OnStateTransition")
    assert kw(on_transition, "goal_state").value == "inactive"
    assert "TRANSITION_ACTIVATE" in ast.unparse(kw(on_transition, "entities"))
    assert ast.unparse(kw(handler, "condition")) == \
        "IfCondition(LaunchConfiguration('activate'))"
    assert description.index(handler) < description.index(configure[0])  # registered first
