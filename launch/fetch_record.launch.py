"""Record demonstrations on a real Fetch (or any ros2_control arm): recorder (+ scripted expert).

    ros2 launch oneshot_ros fetch_record.launch.py task:="ab cd" out:=fetch_demos.h5 \
        block_poses_topic:=/perception/block_poses

No simulator: joint states come from the robot, block poses from your perception (one pose per
block, task-letter order, frame base_link). Our command topics are remapped to the robot's
controllers; on a Fetch via ros1_bridge the gripper needs a GripperCommand action adapter.
Teleop (expert:=false, the default) is teleop_twist_keyboard publishing /cmd_vel.
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
    remappings = [
        ("/arm_controller/joint_trajectory", LaunchConfiguration("arm_command_topic")),
        ("/gripper_controller/commands", LaunchConfiguration("gripper_command_topic")),
        ("/joint_states", LaunchConfiguration("joint_states_topic")),
        ("/block_poses", LaunchConfiguration("block_poses_topic")),
    ]
    task = ParameterValue(LaunchConfiguration("task"), value_type=str)
    return LaunchDescription([
        DeclareLaunchArgument("task", default_value="ab cd",
                              description="task string, towers top block first"),
        DeclareLaunchArgument("out", default_value="demos/fetch_demos.h5",
                              description="HDF5 file the episodes are appended to"),
        DeclareLaunchArgument("expert", default_value="false",
                              description="true: the scripted expert drives the real arm"),
        DeclareLaunchArgument("arm_command_topic",
                              default_value="/arm_controller/joint_trajectory",
                              description="the arm controller's JointTrajectory topic"),
        DeclareLaunchArgument("gripper_command_topic",
                              default_value="/gripper_controller/commands",
                              description="gripper command topic (Float64MultiArray [gap_m])"),
        DeclareLaunchArgument("joint_states_topic", default_value="/joint_states",
                              description="the robot's sensor_msgs/JointState topic"),
        DeclareLaunchArgument("block_poses_topic", default_value="/block_poses",
                              description="perception's PoseArray, task-letter order, base_link"),
        DeclareLaunchArgument("max_joint_velocity_rad_s", default_value="0.5",
                              description="rad/s, expert command clamp on the real arm"),
        Node(package=PACKAGE, executable="scripted_expert", name="scripted_expert",
             output="screen", condition=IfCondition(LaunchConfiguration("expert")),
             remappings=remappings,
             parameters=[
                 PathJoinSubstitution(
                     [FindPackageShare(PACKAGE), "config", "scripted_expert.yaml"]),
                 {"task": task, "max_joint_velocity_rad_s": ParameterValue(
                     LaunchConfiguration("max_joint_velocity_rad_s"), value_type=float)},
             ]),
        Node(package=PACKAGE, executable="demo_recorder", name="demo_recorder", output="screen",
             remappings=remappings,
             parameters=[
                 PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "demo_recorder.yaml"]),
                 {"task": task,
                  "out": ParameterValue(LaunchConfiguration("out"), value_type=str)},
             ]),
    ])
