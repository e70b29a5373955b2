"""One-shot imitation in simulation: sim driver + imitator conditioned on one demonstration.

    ros2 launch oneshot_ros sim_imitate.launch.py task:="ab cd ef" demo_file:=demos.h5 \
        demo_index:=0 activate:=true

The imitator is a lifecycle node: configured at start (it loads the model and the demo), then
inactive (publishing nothing) until `ros2 lifecycle set /imitator activate` (or `ros2 service
call /imitator/activate std_srvs/srv/SetBool "{data: true}"`), or active at once with
activate:=true. A configure that fails (a broken model or demo: one error line) leaves it
unconfigured: fix the parameter (`ros2 param set /imitator model ...`) and `ros2 lifecycle set
/imitator configure`. The no-launch twin is `oneshot-ros ros-demo`.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

PACKAGE = "oneshot_ros"


def generate_launch_description():
    imitator = LifecycleNode(
        package=PACKAGE, executable="imitator", name="imitator", namespace="", output="screen",
        parameters=[
            PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "imitator.yaml"]),
            {"model": ParameterValue(LaunchConfiguration("model"), value_type=str),
             "demo_file": ParameterValue(LaunchConfiguration("demo_file"), value_type=str),
             "demo_index": ParameterValue(LaunchConfiguration("demo_index"), value_type=int)},
        ])
    return LaunchDescription([
        DeclareLaunchArgument("task", default_value="ab cd",
                              description="task of the scene; the demonstration's task"),
        DeclareLaunchArgument("seed", default_value="0",
                              description="seed of the block start positions"),
        DeclareLaunchArgument(
            "model", default_value=PathJoinSubstitution(
                [FindPackageShare(PACKAGE), "models", "stage_attention"]),
            description="checkpoint directory (config.json + model.safetensors)"),
        DeclareLaunchArgument("demo_file", default_value="",
                              description="HDF5 dataset holding the conditioning demonstration"),
        DeclareLaunchArgument("demo_index", default_value="0",
                              description="index of the demonstration in demo_file"),
        DeclareLaunchArgument("activate", default_value="false",
                              description="true: activate the imitator once configured "
                              "(commands at once); false: it waits inactive"),
        DeclareLaunchArgument("gui", default_value="false",
                              description="open the PyBullet GUI window (headless by default)"),
        Node(package=PACKAGE, executable="sim_driver", name="sim_driver", output="screen",
             parameters=[
                 PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "sim_driver.yaml"]),
                 {"task": ParameterValue(LaunchConfiguration("task"), value_type=str),
                  "seed": ParameterValue(LaunchConfiguration("seed"), value_type=int),
                  "gui": ParameterValue(LaunchConfiguration("gui"), value_type=bool)},
             ]),
        imitator,
        # the standard launch_ros pattern: configure on start, activate once inactive
        RegisterEventHandler(
            OnStateTransition(
                target_lifecycle_node=imitator, goal_state="inactive",
                entities=[EmitEvent(event=ChangeState(
                    lifecycle_node_matcher=matches_action(imitator),
                    transition_id=Transition.TRANSITION_ACTIVATE))]),
            condition=IfCondition(LaunchConfiguration("activate"))),
        EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(imitator),
                                    transition_id=Transition.TRANSITION_CONFIGURE)),
    ])
