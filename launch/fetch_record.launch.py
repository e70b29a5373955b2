"""Record demonstrations on a real Fetch (or any ros2_control arm): recorder (+ scripted expert).

    ros2 launch oneshot_ros fetch_record.launch.py task:="ab cd" out:=fetch_demos.h5 \
        block_poses_topic:=/perception/block_poses [expert:=true]

No simulator: joint states come from the robot, block poses from your perception (one pose per
block, task-letter order, frame base_link). Teleop (expert:=false, the default) is
teleop_twist_keyboard publishing /cmd_vel; `ros2 service call /demo_recorder/start_episode
std_srvs/srv/Trigger` and `.../stop_episode` delimit an episode.

Real-arm seam (defaults: a Fetch, whose controllers take actions): trajectory_action_bridge
turns the streamed arm commands into FollowJointTrajectory goals on arm_action_name,
gripper_action_bridge the gap into GripperCommand goals on gripper_action_name. A ros2_control
arm with a JTC and a parallel gripper controller:
    arm_action:=false arm_command_topic:=/joint_trajectory_controller/joint_trajectory \
    gripper_action_type:=parallel_gripper_command \
    gripper_action_name:=/gripper_controller/gripper_cmd
The nodes, parameters and arguments are oneshot_ros.nodes.bringup's "fetch_record" (shared
with fetch_imitate: the command topics and the bridges); the tests run exactly these nodes
against the sim driver's Fetch actions, and `python -m oneshot_ros.nodes.bringup
fetch_record ...` starts them without ros2 launch. Not tested on hardware (docs/ros2.md).
"""

from oneshot_ros.nodes.bringup import launch_description


def generate_launch_description():
    return launch_description("fetch_record")
