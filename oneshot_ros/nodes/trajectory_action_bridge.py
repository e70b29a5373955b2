"""trajectory_action_bridge: streamed JointTrajectory -> FollowJointTrajectory goals, real arm.

    python -m oneshot_ros.nodes.trajectory_action_bridge --ros-args \
        --params-file config/trajectory_action_bridge.yaml \
        -p action_name:=/arm_controller/follow_joint_trajectory

For arms whose controller has no streaming topic: Fetch's ROS 1 arm_controller (through
ros1_bridge) only offers the control_msgs/FollowJointTrajectory action. Each checked message on
/arm_controller/joint_trajectory becomes one goal that replaces the goal in flight (at most one
per min_period_s). A ros2_control joint_trajectory_controller subscribes to
<ctrl>/joint_trajectory itself: remap the topic there instead and do not run this node.
control_msgs is imported here only; when it is missing the node exits with one line naming
what to install.
"""


from rclpy.action import ActionClient
from rclpy.node import Node
from trajectory_msgs.msg import JointTrajectory

from oneshot_ros.nodes import conversions as conv
from oneshot_ros.nodes.common import QOS_DEPTH, require, run_node
from oneshot_ros.nodes.params import declare


class TrajectoryActionBridge(Node):
    def __init__(self):
        super().__init__("trajectory_action_bridge")
        self.action_name = declare(self, "action_name", "/arm_controller/follow_joint_trajectory",
                                   "the arm controller's FollowJointTrajectory action")
        self.goal_time_tolerance_s = declare(self, "goal_time_tolerance_s", 0.5, "s, allowed "
                                             "lateness at the last point", low=0.0,
                                             high=60.0)
        self.min_period_s = declare(self, "min_period_s", 0.0, "s, at most one goal per period "
                                    "(0: one per message)", low=0.0, high=10.0)
        actions = require("control_msgs.action", "control_msgs")  # lazy: real-arm path only
        self.action = actions.FollowJointTrajectory
        self.client = ActionClient(self, self.action, self.action_name)
        self.last_sent_s = -float("inf")
        self.create_subscription(JointTrajectory, conv.ARM_COMMAND_TOPIC, self.on_trajectory,
                                 QOS_DEPTH)
        self.get_logger().info(f"{conv.ARM_COMMAND_TOPIC} -> FollowJointTrajectory goals on "
                               f"{self.action_name}")

    def on_trajectory(self, msg: JointTrajectory) -> None:
        try:
            conv.trajectory_points(msg)  # names each arm joint once, finite values
        except conv.MessageError as err:
            self.get_logger().warning(f"arm command rejected: {err}", throttle_duration_sec=2)
            return
        now_s = self.get_clock().now().nanoseconds * 1e-9
        if now_s - self.last_sent_s < self.min_period_s:
            return
        if not self.client.server_is_ready():
            self.get_logger().warning(f"no action server {self.action_name}: arm command dropped",
                                      throttle_duration_sec=2)
            return
        goal = self.action.Goal(trajectory=msg)
        goal.goal_time_tolerance = conv.duration(self.goal_time_tolerance_s)
        self.client.send_goal_async(goal).add_done_callback(self.on_response)
        self.last_sent_s = now_s

    def on_response(self, future) -> None:
        if not future.result().accepted:
            self.get_logger().warning("trajectory goal rejected", throttle_duration_sec=2)


def main(args=None):
    run_node(TrajectoryActionBridge, args)


if __name__ == "__main__":
    main()
