"""Record demonstrations in simulation: sim driver + scripted expert (or teleop) + recorder.

    ros2 launch oneshot_ros sim_record.launch.py task:="ab cd" seed:=3 out:=/tmp/demos.h5

With expert:=false nothing drives the arm: run `ros2 run teleop_twist_keyboard
teleop_twist_keyboard` in a terminal and start/stop episodes with the recorder's services.
The no-launch twin is `oneshot-ros ros-record`.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "oneshot_ros"


def generate_launch_description():
    task = ParameterValue(LaunchConfiguration("task"), value_type=str)
    seed = ParameterValue(LaunchConfiguration("seed"), value_type=int)
    return LaunchDescription([
        DeclareLaunchArgument("task", default_value="ab cd",
                              description="task string, towers top block first"),
        DeclareLaunchArgument("seed", default_value="0",
                              description="seed of the block start positions"),
        DeclareLaunchArgument("out", default_value="demos/ros_demos.h5",
                              description="HDF5 file the episodes are appended to"),
        DeclareLaunchArgument("expert", default_value="true",
                              description="true: the scripted expert drives; false: teleop"),
        DeclareLaunchArgument("gui", default_value="false",
                              description="open the PyBullet GUI window (headless by default)"),
        Node(package=PACKAGE, executable="sim_driver", name="sim_driver", output="screen",
             parameters=[
                 PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "sim_driver.yaml"]),
                 {"task": task, "seed": seed,
                  "gui": ParameterValue(LaunchConfiguration("gui"), value_type=bool)},
             ]),
        Node(package=PACKAGE, executable="scripted_expert", name="scripted_expert",
             output="screen", condition=IfCondition(LaunchConfiguration("expert")),
             parameters=[
                 PathJoinSubstitution(
                     [FindPackageShare(PACKAGE), "config", "scripted_expert.yaml"]),
                 {"task": task, "seed": seed},
             ]),
        Node(package=PACKAGE, executable="demo_recorder", name="demo_recorder", output="screen",
             parameters=[
                 PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "demo_recorder.yaml"]),
                 {"task": task, "seed": seed,
                  "out": ParameterValue(LaunchConfiguration("out"), value_type=str),
                  "auto_start": ParameterValue(LaunchConfiguration("expert"), value_type=bool)},
             ]),
    ])
