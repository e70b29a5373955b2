"""One-shot imitation on a real Fetch (or any ros2_control arm): the imitator and the bridges.

    ros2 launch oneshot_ros fetch_imitate.launch.py model:=/path/to/models/stage_attention \
        demo_file:=demos.h5 demo_index:=0 block_poses_topic:=/perception/block_poses
    ros2 lifecycle set /imitator activate      # commands flow; `deactivate`: the arm holds

The imitator (a lifecycle node) is configured at start (loads the model and the demo) and
publishes nothing until activated. Commands are clamped to the joint limits and
max_joint_velocity_rad_s (0.5 rad/s here, slower than in sim).

Real-arm seam (defaults: a Fetch, whose controllers take actions): trajectory_action_bridge
turns the streamed arm commands into FollowJointTrajectory goals on arm_action_name,
gripper_action_bridge the gap into GripperCommand goals on gripper_action_name. A ros2_control
arm with a JTC and a parallel gripper controller:
    arm_action:=false arm_command_topic:=/joint_trajectory_controller/joint_trajectory \
    gripper_action_type:=parallel_gripper_command \
    gripper_action_name:=/gripper_controller/gripper_cmd
The nodes, parameters and arguments are oneshot_ros.nodes.bringup's "fetch_imitate" (shared
with fetch_record: the command topics and the bridges); the tests run exactly these nodes
against the sim driver's Fetch actions, and `python -m oneshot_ros.nodes.bringup
fetch_imitate ...` starts them without ros2 launch. Not tested on hardware (docs/ros2.md).
"""

from oneshot_ros.nodes.bringup import launch_description


def generate_launch_description():
    return launch_description("fetch_imitate")
