"""One-shot imitation in simulation: sim driver + imitator conditioned on one demonstration.

    ros2 launch oneshot_ros sim_imitate.launch.py task:="ab cd ef" demo_file:=demos.h5 \
        demo_index:=0 activate:=true

The imitator stays inactive until `ros2 service call /imitator/activate std_srvs/srv/SetBool
"{data: true}"` unless activate:=true. The no-launch twin is `oneshot-ros ros-demo`.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "oneshot_ros"


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("task", default_value="ab cd",
                              description="task of the scene; the demonstration's task"),
        DeclareLaunchArgument("seed", default_value="0",
                              description="seed of the block start positions"),
        DeclareLaunchArgument(
            "model", default_value=PathJoinSubstitution(
                [FindPackageShare(PACKAGE), "models", "bc_all_stages"]),
            description="checkpoint directory (config.json + model.safetensors)"),
        DeclareLaunchArgument("demo_file", default_value="",
                              description="HDF5 dataset holding the conditioning demonstration"),
        DeclareLaunchArgument("demo_index", default_value="0",
                              description="index of the demonstration in demo_file"),
        DeclareLaunchArgument("activate", default_value="false",
                              description="true: publish commands at once, without ~/activate"),
        DeclareLaunchArgument("gui", default_value="false",
                              description="open the PyBullet GUI window (headless by default)"),
        Node(package=PACKAGE, executable="sim_driver", name="sim_driver", output="screen",
             parameters=[
                 PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "sim_driver.yaml"]),
                 {"task": ParameterValue(LaunchConfiguration("task"), value_type=str),
                  "seed": ParameterValue(LaunchConfiguration("seed"), value_type=int),
                  "gui": ParameterValue(LaunchConfiguration("gui"), value_type=bool)},
             ]),
        Node(package=PACKAGE, executable="imitator", name="imitator", output="screen",
             parameters=[
                 PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "imitator.yaml"]),
                 {"model": ParameterValue(LaunchConfiguration("model"), value_type=str),
                  "demo_file": ParameterValue(LaunchConfiguration("demo_file"), value_type=str),
                  "demo_index": ParameterValue(LaunchConfiguration("demo_index"), value_type=int),
                  "active": ParameterValue(LaunchConfiguration("activate"), value_type=bool)},
             ]),
    ])
