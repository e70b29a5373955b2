"""Launch files, the real-arm bring-ups and node parameter files: they compile, agree, and name
only things that exist.

`launch`/`launch_ros` are not installable from PyPI, so the launch files are checked statically
with `ast`; on a real ROS 2 install the last test also runs generate_launch_description(). The
fetch_* launch files are oneshot_ros.nodes.bringup's data, checked here as data; the node tests
(test_nodes_action_bridges.py) start those same nodes and check that each declares every
parameter the bring-up passes.
"""

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from oneshot_ros.nodes import bringup, conversions
from oneshot_ros.world.world_config import WorldConfig

REPO = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))
SIM_LAUNCH_FILES = [p for p in LAUNCH_FILES if p.name.startswith("sim_")]
FETCH_LAUNCH_FILES = [p for p in LAUNCH_FILES if p.name.startswith("fetch_")]
EXPECTED = {"sim_record", "sim_imitate", "fetch_record", "fetch_imitate"}
CONTROL_NODES = ["sim_driver", "scripted_expert", "demo_recorder", "imitator"]
NODE_CONFIGS = [*CONTROL_NODES, "gripper_action_bridge", "trajectory_action_bridge"]
TOPICS = {conversions.ARM_COMMAND_TOPIC, conversions.GRIPPER_COMMAND_TOPIC,
          conversions.JOINT_STATES_TOPIC, conversions.BLOCK_POSES_TOPIC}
BRIDGE_TOPICS = {"gripper_action_bridge": {conversions.GRIPPER_COMMAND_TOPIC},
                 "trajectory_action_bridge": {conversions.ARM_COMMAND_TOPIC}}


def console_scripts() -> set[str]:
    """Console script names from setup.py (read with ast: NODES + the oneshot-ros CLI)."""
    tree = ast.parse((REPO / "setup.py").read_text())
    nodes = next(ast.literal_eval(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
                 and any(getattr(t, "id", None) == "NODES" for t in n.targets))
    return {"oneshot-ros", *nodes}


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == name]


def keyword(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def share_paths(tree: ast.AST) -> list[str]:
    """Paths built as PathJoinSubstitution([FindPackageShare(PACKAGE), "a", "b"]) -> 'a/b'."""
    paths = []
    for call in calls(tree, "PathJoinSubstitution"):
        parts = call.args[0].elts
        if calls(parts[0], "FindPackageShare"):
            assert all(isinstance(p, ast.Constant) for p in parts[1:]), ast.unparse(call)
            paths.append("/".join(p.value for p in parts[1:]))
    return paths


@pytest.fixture(params=SIM_LAUNCH_FILES, ids=lambda p: p.name)
def launch_file(request) -> tuple[Path, ast.Module]:
    source = request.param.read_text()
    compile(source, str(request.param), "exec")
    return request.param, ast.parse(source)


def test_the_four_launch_files_exist_and_compile():
    assert {p.name.removesuffix(".launch.py") for p in LAUNCH_FILES} == EXPECTED
    for path in LAUNCH_FILES:
        compile(path.read_text(), str(path), "exec")


def test_generate_launch_description_returns_a_flat_list(launch_file):
    _, tree = launch_file
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef)
                and n.name == "generate_launch_description")
    ret = func.body[-1]
    assert isinstance(ret, ast.Return) and calls(ret, "LaunchDescription")
    assert isinstance(ret.value.args[0], ast.List)  # flat list, no nested include logic


def test_every_argument_has_a_description_and_every_use_is_declared(launch_file):
    _, tree = launch_file
    declared = {}
    for call in calls(tree, "DeclareLaunchArgument"):
        description = keyword(call, "description")
        assert isinstance(description, ast.Constant) and description.value.strip(), \
            f"argument {call.args[0].value!r} needs a description"
        declared[call.args[0].value] = keyword(call, "default_value")
    used = {c.args[0].value for c in calls(tree, "LaunchConfiguration")}
    assert used <= set(declared), f"undeclared launch arguments {used - set(declared)}"
    if "gui" in declared:
        assert declared["gui"].value == "false"  # headless by default


def test_executables_exist_in_setup_console_scripts(launch_file):
    _, tree = launch_file
    nodes = calls(tree, "Node")
    assert nodes
    for node in nodes:
        executable, name = keyword(node, "executable").value, keyword(node, "name").value
        assert executable in console_scripts()
        assert name == executable  # the YAML key /**/<name> must match


def test_referenced_config_and_model_paths_exist(launch_file):
    _, tree = launch_file
    paths = share_paths(tree)
    for rel in paths:
        if not rel.startswith("models/"):
            assert (REPO / rel).exists(), f"{rel} is referenced by the launch file but missing"
    for rel in paths:
        if not (REPO / rel).exists():
            pytest.skip(f"{rel} is not trained yet: write it with `oneshot-ros train --out {rel}`")


def test_each_node_gets_its_own_parameter_file(launch_file):
    _, tree = launch_file
    for node in calls(tree, "Node"):
        name = keyword(node, "name").value
        assert f"config/{name}.yaml" in share_paths(node)


def test_remappings_start_from_the_node_topic_names(launch_file):
    _, tree = launch_file
    for node in calls(tree, "Node"):
        remappings = keyword(node, "remappings")
        if remappings is None:
            continue
        if isinstance(remappings, ast.Name):  # a list assigned earlier in the function
            remappings = next(n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                              and getattr(n.targets[0], "id", None) == remappings.id)
        sources = {ast.literal_eval(pair.elts[0]) for pair in remappings.elts}
        assert sources == BRIDGE_TOPICS.get(keyword(node, "name").value, TOPICS)


def test_sim_launch_files_start_no_bridge(launch_file):
    _, tree = launch_file  # the simulator takes the topics directly
    executables = {keyword(node, "executable").value for node in calls(tree, "Node")}
    assert not set(BRIDGE_TOPICS) & executables


# --- the real-arm bring-ups: launch/fetch_*.launch.py = oneshot_ros.nodes.bringup data -----------
@pytest.mark.parametrize("path", FETCH_LAUNCH_FILES, ids=lambda p: p.name)
def test_fetch_launch_files_return_their_bringup(path):
    tree = ast.parse(path.read_text())
    imports = [(n.module, [a.name for a in n.names]) for n in ast.walk(tree)
               if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert imports == [("oneshot_ros.nodes.bringup", ["launch_description"])]
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef)
                and n.name == "generate_launch_description")
    assert len(func.body) == 1 and isinstance(func.body[0], ast.Return)
    call = func.body[0].value
    name = path.name.removesuffix(".launch.py")
    assert ast.unparse(call) == f"launch_description({name!r})"
    assert name in bringup.BRINGUPS
    assert f"ros2 launch oneshot_ros {path.name}" in ast.get_docstring(tree)


@pytest.fixture(params=sorted(bringup.BRINGUPS))
def bringup_name(request) -> str:
    return request.param


def used_arguments(spec: bringup.NodeSpec) -> set[str]:
    values = [*spec.parameters.values(), *(target for _, target in spec.remappings)]
    return {v.name for v in values if isinstance(v, bringup.Arg)} | \
        ({spec.condition} if spec.condition else set())


def test_bringup_arguments_are_described_declared_once_and_parse(bringup_name):
    arguments = bringup.arguments(bringup_name)
    names = [a.name for a in arguments]
    assert len(names) == len(set(names))
    for argument in arguments:
        assert argument.description.strip(), argument.name
        bringup.typed(argument, argument.default)  # the default is a valid value
        if argument.share:
            assert (REPO / argument.default).exists(), argument
    declared = {a.name: a for a in arguments}
    for spec in bringup.specs(bringup_name):
        assert used_arguments(spec) <= set(declared), spec.executable
        if spec.condition:
            assert declared[spec.condition].type is bool


def test_bringup_nodes_are_installed_with_their_file_and_documented_parameters(bringup_name):
    for spec in bringup.specs(bringup_name):
        assert spec.executable in console_scripts()
        path = REPO / "config" / f"{spec.executable}.yaml"
        documented = yaml.safe_load(path.read_text())[f"/**/{spec.executable}"]
        assert set(spec.parameters) <= set(documented["ros__parameters"]), spec.executable
        sources = {topic for topic, _ in spec.remappings}
        assert sources == BRIDGE_TOPICS.get(spec.executable, TOPICS), spec.executable


def test_both_fetch_bringups_share_the_command_arguments_and_the_two_bridges():
    for name in ("fetch_imitate", "fetch_record"):
        arguments, specs = bringup.BRINGUPS[name]
        assert all(a in arguments for a in bringup.COMMAND_ARGUMENTS + bringup.BRIDGE_ARGUMENTS)
        assert [s for s in specs if s.executable in BRIDGE_TOPICS] == bringup.BRIDGES
    assert {s.executable for s in bringup.BRIDGES} == set(BRIDGE_TOPICS)


def test_resolve_applies_conditions_types_and_remappings_as_ros2_launch():
    default = {n.executable: n for n in bringup.resolve("fetch_record")}
    assert set(default) == {"demo_recorder", *BRIDGE_TOPICS}  # expert:=false by default
    assert default["demo_recorder"].parameters["stamp_commands"] is False
    assert default["demo_recorder"].remappings == []  # every topic at its default
    nodes = {n.executable: n for n in bringup.resolve(
        "fetch_record", {"expert": "true", "arm_action": "false",
                         "block_poses_topic": "/perception/blocks",
                         "max_joint_velocity_rad_s": "0.3"})}
    assert set(nodes) == {"scripted_expert", "demo_recorder", "gripper_action_bridge"}
    assert nodes["scripted_expert"].parameters["max_joint_velocity_rad_s"] == 0.3
    assert nodes["scripted_expert"].remappings == [("/block_poses", "/perception/blocks")]
    imitator = bringup.resolve("fetch_imitate", {"demo_index": "3"})[0]
    assert imitator.lifecycle and imitator.parameters["demo_index"] == 3
    assert Path(imitator.parameters["model"]).is_dir()
    for bad in ({"expert": "yes"}, {"demo_index": "x"}, {"no_such_argument": "1"}):
        name = "fetch_record" if "expert" in bad else "fetch_imitate"
        with pytest.raises(ValueError, match=next(iter(bad))):
            bringup.resolve(name, bad)


def test_bringup_without_ros2_launch_prints_the_same_nodes():
    command = [sys.executable, "-m", "oneshot_ros.nodes.bringup"]
    done = subprocess.run([*command, "fetch_record", "expert:=true", "task:=abc", "--dry-run"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split(" -m ")[1].split()[0] for line in lines] == [
        f"oneshot_ros.nodes.{n.executable}" for n in bringup.resolve("fetch_record",
                                                                     {"expert": "true"})]
    assert all("config/" in line for line in lines) and "task:=\"abc\"" in lines[0]
    done = subprocess.run([*command, "fetch_record", "expert:=maybe"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert "expert" in done.stderr


@pytest.mark.parametrize("node", NODE_CONFIGS)
def test_parameter_files_use_the_wildcard_node_key(node):
    data = yaml.safe_load((REPO / "config" / f"{node}.yaml").read_text())
    assert list(data) == [f"/**/{node}"]  # a bare key silently fails under a namespace
    params = data[f"/**/{node}"]["ros__parameters"]
    if node in CONTROL_NODES:
        assert params.get("control_rate_hz") == WorldConfig().control_hz  # the world's rate
    if "model" in params and not (REPO / params["model"]).exists():
        pytest.skip(f"{params['model']} is not trained yet")


@pytest.mark.parametrize("node", NODE_CONFIGS)
def test_parameter_files_load_in_rcl_under_a_namespace(node, monkeypatch):
    rclpy = pytest.importorskip("rclpy")
    from rclpy.node import Node

    monkeypatch.setenv("ROS_DOMAIN_ID", "91")
    path = REPO / "config" / f"{node}.yaml"
    expected = yaml.safe_load(path.read_text())[f"/**/{node}"]["ros__parameters"]
    context = rclpy.Context()
    rclpy.init(args=["--ros-args", "--params-file", str(path)], context=context)
    try:
        ros_node = Node(node, namespace="/fetch", context=context,
                        automatically_declare_parameters_from_overrides=True)
        loaded = {k: ros_node.get_parameter(k).value for k in expected}
        ros_node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    assert loaded == expected


@pytest.mark.parametrize("launch_file", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_descriptions_build_on_a_ros_install(launch_file):
    # `import launch` alone would find the launch/ folder as a namespace package; use launch_ros.
    pytest.importorskip("launch_ros")
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument

    path = launch_file
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    assert isinstance(description, LaunchDescription)
    arguments = [e for e in description.entities if isinstance(e, DeclareLaunchArgument)]
    assert arguments and all(a.description for a in arguments)


def test_the_real_arm_bringups_compensate_latency_and_the_simulated_nodes_do_not():
    """A real arm adds command latency, the simulated world none: the fetch_* bring-ups pass
    latency_compensation=True to the nodes that command the arm (switchable), the nodes'
    YAML files (the sim launch files' parameters) keep it off."""
    import yaml

    commanders = {"imitator", "scripted_expert"}
    for name, values in (("fetch_imitate", {}), ("fetch_record", {"expert": "true"})):
        on = [n for n in bringup.resolve(name, values) if n.executable in commanders]
        off = [n for n in bringup.resolve(name, {**values, "latency_compensation": "false"})
               if n.executable in commanders]
        assert len(on) == len(off) == 1, name
        assert on[0].parameters["latency_compensation"] is True, name
        assert off[0].parameters["latency_compensation"] is False, name
    for node in commanders:
        params = yaml.safe_load((REPO / "config" / f"{node}.yaml").read_text())
        assert params[f"/**/{node}"]["ros__parameters"]["latency_compensation"] is False
