"""The real-arm bring-ups as plain data: which nodes run, with which parameters and remappings.

    python -m oneshot_ros.nodes.bringup fetch_imitate demo_file:=demos.h5 \
        block_poses_topic:=/perception/block_poses [--activate]  # the nodes, without ros2 launch
    python -m oneshot_ros.nodes.bringup fetch_record expert:=true --dry-run   # their commands

    specs = resolve("fetch_imitate", {"demo_file": "demos.h5"})  # [Resolved], typed values
    entities = launch_entities("fetch_imitate")  # launch_ros actions (a ROS 2 install only)

launch/fetch_imitate.launch.py and launch/fetch_record.launch.py are launch_entities() of
BRINGUPS; the tests and this module's main start resolve() of the same data, so `ros2 launch`
and the pip install run the same nodes with the same parameters. Both bring-ups share the
command-topic and action-bridge arguments and the two bridges (defined once, below). A
lifecycle node (the imitator) is configured at start and activated by the user:
`ros2 lifecycle set /imitator activate` (or `ros2 service call /imitator/activate
std_srvs/srv/SetBool "{data: true}"`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from dataclasses import dataclass, field

from oneshot_ros.nodes.client import RosClient
from oneshot_ros.nodes.launcher import NodeProcesses, node_command, share_path
from oneshot_ros.policy.shipped import DEFAULT_MODEL

PACKAGE = "oneshot_ros"


@dataclass(frozen=True)
class Argument:
    """A launch argument: its default (as launch text), description and the type nodes read."""
    name: str
    default: str
    description: str
    type: type = str
    share: bool = False  # the default is a path inside the package's share directory


@dataclass(frozen=True)
class Arg:
    """A parameter value or remapping target taken from the launch argument `name`."""
    name: str


@dataclass(frozen=True)
class NodeSpec:
    """One node: executable (= node name, = config/<executable>.yaml's key), its parameter
    overrides and remappings (values may be Arg), the boolean launch argument that starts it."""
    executable: str
    parameters: dict = field(default_factory=dict)
    remappings: tuple = ()
    condition: str | None = None
    lifecycle: bool = False  # a managed node: configured at start, activated by the user


@dataclass(frozen=True)
class Resolved:
    """A NodeSpec with the launch arguments filled in."""
    executable: str
    parameters: dict
    remappings: list
    lifecycle: bool


ARM_TOPIC, GRIPPER_TOPIC = "/arm_controller/joint_trajectory", "/gripper_controller/commands"
TOPICS = {ARM_TOPIC: "arm_command_topic", GRIPPER_TOPIC: "gripper_command_topic",
          "/joint_states": "joint_states_topic", "/block_poses": "block_poses_topic"}

COMMAND_ARGUMENTS = [
    Argument("arm_command_topic", ARM_TOPIC, "the arm's JointTrajectory topic (the bridge's "
             "input with arm_action:=true; a ros2_control JTC's <ctrl>/joint_trajectory "
             "otherwise)"),
    Argument("gripper_command_topic", GRIPPER_TOPIC,
             "gripper command topic (Float64MultiArray [gap_m])"),
    Argument("joint_states_topic", "/joint_states", "the robot's sensor_msgs/JointState topic"),
    Argument("block_poses_topic", "/block_poses",
             "perception's PoseArray, task-letter order, base_link"),
    Argument("max_joint_velocity_rad_s", "0.5", "rad/s, command clamp on the real arm", float),
    Argument("stamp_commands", "false", "true: arm commands carry the stamp of the joint state "
             "they answer (needs the robot's and this machine's clocks in sync); false: zero "
             "stamp, the controller starts them on arrival", bool),
]
# On by default on the real arm only: DDS and the arm controller add 5-50 ms; in the simulator
# 50 ms costs the uncompensated default model ~27 points, the compensated one none
# (docs/results.md). The simulated set-ups keep it off: their world has no latency.
COMPENSATION = Argument("latency_compensation", "true", "true: act on the scene once the last "
                        "arm command has landed and move on from that command (command latency "
                        "no longer slows the arm); false: from the measured joints", bool)
BRIDGE_ARGUMENTS = [
    Argument("arm_action", "true", "true: arm commands become FollowJointTrajectory goals "
             "(Fetch via ros1_bridge); false: the controller subscribes to arm_command_topic "
             "itself (ros2_control JTC)", bool),
    Argument("arm_action_name", "/arm_controller/follow_joint_trajectory",
             "the arm controller's FollowJointTrajectory action"),
    Argument("gripper_action", "true", "true: the gap becomes gripper action goals; false: the "
             "gripper controller subscribes to gripper_command_topic", bool),
    Argument("gripper_action_type", "gripper_command", "gripper_command (control_msgs/"
             "GripperCommand, Fetch) or parallel_gripper_command (ros2_controllers)"),
    Argument("gripper_action_name", "/gripper_controller/gripper_action", "the gripper "
             "controller's action (ros2_controllers: /<controller>/gripper_cmd)"),
]


def _topics() -> tuple:
    return tuple((topic, Arg(argument)) for topic, argument in TOPICS.items())


BRIDGES = [
    NodeSpec("trajectory_action_bridge", {"action_name": Arg("arm_action_name")},
             ((ARM_TOPIC, Arg("arm_command_topic")),), condition="arm_action"),
    NodeSpec("gripper_action_bridge", {"action_type": Arg("gripper_action_type"),
                                       "action_name": Arg("gripper_action_name")},
             ((GRIPPER_TOPIC, Arg("gripper_command_topic")),), condition="gripper_action"),
]
COMMANDING = {"max_joint_velocity_rad_s": Arg("max_joint_velocity_rad_s"),
              "stamp_commands": Arg("stamp_commands")}

BRINGUPS: dict[str, tuple[list[Argument], list[NodeSpec]]] = {
    "fetch_imitate": (
        [Argument("model", DEFAULT_MODEL, "checkpoint directory (config.json + "
                  "model.safetensors)", share=True),
         Argument("demo_file", "", "HDF5 dataset holding the conditioning demonstration"),
         Argument("demo_index", "0", "index of the demonstration in demo_file", int),
         *COMMAND_ARGUMENTS, COMPENSATION, *BRIDGE_ARGUMENTS],
        [NodeSpec("imitator", {"model": Arg("model"), "demo_file": Arg("demo_file"),
                               "demo_index": Arg("demo_index"), **COMMANDING,
                               "latency_compensation": Arg("latency_compensation")},
                  _topics(), lifecycle=True),
         *BRIDGES]),
    "fetch_record": (
        [Argument("task", "ab cd", "task string, towers top block first"),
         Argument("out", "demos/fetch_demos.h5", "HDF5 file the episodes are appended to"),
         Argument("expert", "false", "true: the scripted expert drives the real arm (else "
                  "teleop_twist_keyboard on /cmd_vel through the recorder)", bool),
         *COMMAND_ARGUMENTS, COMPENSATION, *BRIDGE_ARGUMENTS],
        [NodeSpec("scripted_expert", {"task": Arg("task"), **COMMANDING,
                                      "latency_compensation": Arg("latency_compensation")},
                  _topics(),
                  condition="expert"),
         NodeSpec("demo_recorder", {"task": Arg("task"), "out": Arg("out"), **COMMANDING},
                  _topics()),
         *BRIDGES]),
}


def arguments(name: str) -> list[Argument]:
    return BRINGUPS[_known(name)][0]


def specs(name: str) -> list[NodeSpec]:
    return BRINGUPS[_known(name)][1]


def _known(name: str) -> str:
    if name not in BRINGUPS:
        raise ValueError(f"no bring-up {name!r}: use one of {sorted(BRINGUPS)}")
    return name


def typed(argument: Argument, text) -> object:
    """A launch argument's text as the type its nodes read (launch's ParameterValue does it)."""
    if not isinstance(text, str):
        return argument.type(text)
    if argument.type is bool:
        if text.strip().lower() not in ("true", "false"):
            raise ValueError(f"{argument.name}:={text}: use true or false")
        return text.strip().lower() == "true"
    try:
        return argument.type(text)
    except ValueError:
        raise ValueError(f"{argument.name}:={text}: not a {argument.type.__name__}") from None


def resolve(name: str, values: dict | None = None) -> list[Resolved]:
    """The nodes of bring-up `name` with launch argument `values` (text or typed; defaults for
    the others), as `ros2 launch oneshot_ros <name>.launch.py key:=value` starts them."""
    declared = {a.name: a for a in arguments(name)}
    unknown = sorted(set(values or {}) - set(declared))
    if unknown:
        raise ValueError(f"{name} has no argument {unknown[0]}: use {sorted(declared)}")
    given = {**{a.name: _default(a) for a in declared.values()}, **(values or {})}
    value = {key: typed(declared[key], text) for key, text in given.items()}

    def fill(v):
        return value[v.name] if isinstance(v, Arg) else v

    nodes = []
    for spec in specs(name):
        if spec.condition is not None and not value[spec.condition]:
            continue
        nodes.append(Resolved(spec.executable,
                              {key: fill(v) for key, v in spec.parameters.items()},
                              [(topic, fill(target)) for topic, target in spec.remappings
                               if fill(target) != topic],  # the launch file's default
                              spec.lifecycle))
    return nodes


def _default(argument: Argument) -> str:
    if not argument.share:
        return argument.default
    return str(share_path(argument.default))


# --- ros2 launch (launch and launch_ros exist only on a ROS 2 install) ------------------------
def launch_entities(name: str) -> list:
    """DeclareLaunchArgument for each argument, then a launch_ros Node (LifecycleNode plus a
    configure event at start for managed nodes) per NodeSpec, with IfCondition on its
    condition and config/<executable>.yaml from the package's share directory."""
    from launch.actions import DeclareLaunchArgument, EmitEvent
    from launch.conditions import IfCondition
    from launch.events import matches_action
    from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
    from launch_ros.actions import LifecycleNode, Node
    from launch_ros.events.lifecycle import ChangeState
    from launch_ros.parameter_descriptions import ParameterValue
    from launch_ros.substitutions import FindPackageShare
    from lifecycle_msgs.msg import Transition

    declared = {a.name: a for a in arguments(name)}

    def share(path: str):
        return PathJoinSubstitution([FindPackageShare(PACKAGE), *path.split("/")])

    def value(v):
        if not isinstance(v, Arg):
            return v
        return ParameterValue(LaunchConfiguration(v.name), value_type=declared[v.name].type)

    entities = [DeclareLaunchArgument(a.name, description=a.description,
                                      default_value=share(a.default) if a.share else a.default)
                for a in declared.values()]
    for spec in specs(name):
        options = dict(
            package=PACKAGE, executable=spec.executable, name=spec.executable, output="screen",
            parameters=[share(f"config/{spec.executable}.yaml"),
                        {key: value(v) for key, v in spec.parameters.items()}],
            remappings=[(topic, LaunchConfiguration(target.name) if isinstance(target, Arg)
                         else target) for topic, target in spec.remappings])
        if spec.condition is not None:
            options["condition"] = IfCondition(LaunchConfiguration(spec.condition))
        if not spec.lifecycle:
            entities.append(Node(**options))
            continue
        node = LifecycleNode(namespace="", **options)
        entities += [node, EmitEvent(event=ChangeState(
            lifecycle_node_matcher=matches_action(node),
            transition_id=Transition.TRANSITION_CONFIGURE))]
    return entities


def launch_description(name: str):
    """The LaunchDescription a launch/<name>.launch.py returns."""
    from launch import LaunchDescription

    return LaunchDescription(launch_entities(name))


# --- without ros2 launch ------------------------------------------------------------------------
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m oneshot_ros.nodes.bringup",
        description="Start a real-arm bring-up's nodes as ros2 launch would (same nodes, "
                    "parameters and remappings), on this shell's ROS_DOMAIN_ID.")
    parser.add_argument("bringup", choices=sorted(BRINGUPS))
    parser.add_argument("arguments", nargs="*", metavar="name:=value",
                        help="launch arguments, as for ros2 launch")
    parser.add_argument("--dry-run", action="store_true", help="print the node commands only")
    parser.add_argument("--activate", action="store_true", help="activate the lifecycle nodes "
                        "once configured (ros2 launch leaves that to `ros2 lifecycle set`)")
    args = parser.parse_args(argv)
    try:
        values = dict(_pair(text) for text in args.arguments)
        nodes = resolve(args.bringup, values)
    except ValueError as err:
        print(f"bringup: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        for node in nodes:
            print(shlex.join(node_command(node.executable, node.parameters, node.remappings)))
        return 0
    with NodeProcesses({**os.environ, "PYTHONUNBUFFERED": "1"}, log_dir=None) as processes:
        for node in nodes:
            processes.start(node.executable, node.parameters, node.remappings)
        for node in nodes:
            if node.lifecycle:
                _configure(node.executable, args.activate)
        try:
            while all(proc.poll() is None for proc in processes.procs.values()):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":=")
    if not sep or not name:
        raise ValueError(f"{text!r}: write arguments as name:=value")
    return name, value


def _configure(node: str, activate: bool) -> None:
    """As the launch files' configure event; then activate, or say how to."""
    with RosClient(int(os.environ.get("ROS_DOMAIN_ID", "0")), "bringup_configure") as ros:
        for transition in ("configure", "activate") if activate else ("configure",):
            try:
                ok, message = ros.change_state(node, transition, timeout_s=120.0)
            except TimeoutError as err:
                ok, message = False, str(err)
            print(f"bringup: {message}" + ("" if ok else f" (see {node}'s log)"), flush=True)
            if not ok:
                return
    if not activate:
        print(f"bringup: activate with `ros2 lifecycle set /{node} activate`", flush=True)


if __name__ == "__main__":
    sys.exit(main())
