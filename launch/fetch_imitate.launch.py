"""One-shot imitation on a real Fetch (or any ros2_control arm): the imitator, remapped.

    ros2 launch oneshot_ros fetch_imitate.launch.py model:=/path/to/models/bc_all_stages \
        demo_file:=demos.h5 demo_index:=0 block_poses_topic:=/perception/block_poses

Inactive until `ros2 service call /imitator/activate std_srvs/srv/SetBool "{data: true}"`.
Commands are clamped to the joint limits and max_joint_velocity_rad_s (slower than in sim).

Real-arm seam (defaults: a Fetch through ros1_bridge, whose controllers only take actions):
trajectory_action_bridge turns the streamed arm commands into FollowJointTrajectory goals on
arm_action_name, gripper_action_bridge turns the gap into GripperCommand goals on
gripper_action_name (both need control_msgs). A ros2_control arm with a JTC and a parallel
gripper controller:
    arm_action:=false arm_command_topic:=/joint_trajectory_controller/joint_trajectory \
    gripper_action_type:=parallel_gripper_command \
    gripper_action_name:=/gripper_controller/gripper_cmd
Not tested on hardware (see README, "ROS 2").
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
    return LaunchDescription([
        DeclareLaunchArgument(
            "model", default_value=PathJoinSubstitution(
                [FindPackageShare(PACKAGE), "models", "bc_all_stages"]),
            description="checkpoint directory (config.json + model.safetensors)"),
        DeclareLaunchArgument("demo_file", default_value="",
                              description="HDF5 dataset holding the conditioning demonstration"),
        DeclareLaunchArgument("demo_index", default_value="0",
                              description="index of the demonstration in demo_file"),
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
                              description="rad/s, command clamp on the real arm"),
        DeclareLaunchArgument("stamp_commands", default_value="false",
                              description="true: arm commands carry the stamp of the joint "
                              "state they answer (needs the robot's and this machine's clocks "
                              "in sync); false: zero stamp, the controller starts them on "
                              "arrival"),
        Node(package=PACKAGE, executable="imitator", name="imitator", output="screen",
             remappings=[
                 ("/arm_controller/joint_trajectory", LaunchConfiguration("arm_command_topic")),
                 ("/gripper_controller/commands", LaunchConfiguration("gripper_command_topic")),
                 ("/joint_states", LaunchConfiguration("joint_states_topic")),
                 ("/block_poses", LaunchConfiguration("block_poses_topic")),
             ],
             parameters=[
                 PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "imitator.yaml"]),
                 {"model": ParameterValue(LaunchConfiguration("model"), value_type=str),
                  "demo_file": ParameterValue(LaunchConfiguration("demo_file"), value_type=str),
                  "demo_index": ParameterValue(LaunchConfiguration("demo_index"), value_type=int),
                  "max_joint_velocity_rad_s": ParameterValue(
                      LaunchConfiguration("max_joint_velocity_rad_s"), value_type=float),
                  "stamp_commands": ParameterValue(LaunchConfiguration("stamp_commands"),
                                                   value_type=bool)},
             ]),
        DeclareLaunchArgument("arm_action", default_value="true",
                              description="true: arm commands become FollowJointTrajectory goals "
                              "(Fetch via ros1_bridge); false: the controller subscribes to "
                              "arm_command_topic itself (ros2_control JTC)"),
        DeclareLaunchArgument("arm_action_name",
                              default_value="/arm_controller/follow_joint_trajectory",
                              description="the arm controller's FollowJointTrajectory action"),
        DeclareLaunchArgument("gripper_action", default_value="true",
                              description="true: the gap becomes gripper action goals; false: "
                              "the gripper controller subscribes to gripper_command_topic"),
        DeclareLaunchArgument("gripper_action_type", default_value="gripper_command",
                              description="gripper_command (control_msgs/GripperCommand, Fetch) "
                              "or parallel_gripper_command (ros2_controllers)"),
        DeclareLaunchArgument("gripper_action_name",
                              default_value="/gripper_controller/gripper_action",
                              description="the gripper controller's action (ros2_controllers: "
                              "/<controller>/gripper_cmd)"),
        Node(package=PACKAGE, executable="trajectory_action_bridge",
             name="trajectory_action_bridge", output="screen",
             condition=IfCondition(LaunchConfiguration("arm_action")),
             remappings=[
                 ("/arm_controller/joint_trajectory", LaunchConfiguration("arm_command_topic")),
             ],
             parameters=[
                 PathJoinSubstitution(
                     [FindPackageShare(PACKAGE), "config", "trajectory_action_bridge.yaml"]),
                 {"action_name": ParameterValue(LaunchConfiguration("arm_action_name"),
                                                value_type=str)},
             ]),
        Node(package=PACKAGE, executable="gripper_action_bridge", name="gripper_action_bridge",
             output="screen", condition=IfCondition(LaunchConfiguration("gripper_action")),
             remappings=[
                 ("/gripper_controller/commands", LaunchConfiguration("gripper_command_topic")),
             ],
             parameters=[
                 PathJoinSubstitution(
                     [FindPackageShare(PACKAGE), "config", "gripper_action_bridge.yaml"]),
                 {"action_type": ParameterValue(LaunchConfiguration("gripper_action_type"),
                                                value_type=str),
                  "action_name": ParameterValue(LaunchConfiguration("gripper_action_name"),
                                                value_type=str)},
             ]),
    ])
