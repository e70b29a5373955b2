"""gripper_action_bridge: gripper gap topic -> gripper action goals, for a real arm.

    python -m oneshot_ros.nodes.gripper_action_bridge --ros-args \
        --params-file config/gripper_action_bridge.yaml -p action_type:=parallel_gripper_command \
        -p action_name:=/gripper_controller/gripper_cmd -p joint_name:=gripper_joint

The sim driver takes the finger gap on /gripper_controller/commands (Float64MultiArray [gap_m]);
real grippers take action goals. Fetch (ROS 1 through ros1_bridge): control_msgs/GripperCommand
on gripper_controller/gripper_action, position = the gap in metres. ros2_controllers'
parallel_gripper_action_controller: control_msgs/ParallelGripperCommand on <ctrl>/gripper_cmd,
one joint set to position_scale * gap. A goal goes out only when the gap changes by at least
min_change_m (the policy repeats it every step) and replaces the goal in flight; when a goal
ends aborted or canceled without the fingers stalled on something (the controller restarted,
another client or a reset took over), the next command sends its gap again. control_msgs is
imported here only; when it is missing the node exits with one line naming what to install.
"""

from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.node import Node

from oneshot_ros.nodes import conversions as conv
from oneshot_ros.nodes.common import GapInput, require, run_node
from oneshot_ros.nodes.params import declare

ACTIONS = {"gripper_command": "GripperCommand",  # Fetch, ROS 1 controllers via ros1_bridge
           "parallel_gripper_command": "ParallelGripperCommand"}  # ros2_controllers


class GripperActionBridge(Node):
    def __init__(self):
        super().__init__("gripper_action_bridge")
        self.kind = declare(self, "action_type", "gripper_command", "gripper_command (control_"
                            "msgs/GripperCommand, Fetch) or parallel_gripper_command",
                            check=lambda kind: None if kind in ACTIONS else
                            f"action_type={kind!r}: use one of {sorted(ACTIONS)}")
        self.action_name = declare(self, "action_name", "/gripper_controller/gripper_action",
                                   "the gripper controller's action")
        self.joint = declare(self, "joint_name", "gripper_joint", "parallel_gripper_command: "
                             "the joint of the goal's JointState")
        self.scale = declare(self, "position_scale", 1.0, "goal position = position_scale * "
                             "gap_m (1.0: Fetch's gap; 0.5: one finger joint)", low=0.01,
                             high=100.0)
        self.max_effort_n = declare(self, "max_effort_n", 50.0, "N, grip effort limit (0: the "
                                    "controller's default for parallel_gripper_command)", low=0.0,
                                    high=1000.0)
        self.min_change_m = declare(self, "min_change_m", 0.002, "m, smaller gap changes send "
                                    "no new goal", low=0.0, high=0.1)
        actions = require("control_msgs.action", "control_msgs")  # lazy: real-arm path only
        self.action = getattr(actions, ACTIONS[self.kind])
        self.client = ActionClient(self, self.action, self.action_name)
        self.sent_gap_m = None
        self.gripper = GapInput(self, 0.0, on_gap=self.on_gap)  # checked [gap_m] messages
        self.get_logger().info(f"{conv.GRIPPER_COMMAND_TOPIC} -> {ACTIONS[self.kind]} goals on "
                               f"{self.action_name}")

    def on_gap(self, gap_m: float) -> None:
        if self.sent_gap_m is not None and abs(gap_m - self.sent_gap_m) < self.min_change_m:
            return
        if not self.client.server_is_ready():
            self.get_logger().warning(f"no action server {self.action_name}: gripper command "
                                      "dropped", throttle_duration_sec=2)
            return
        self.client.send_goal_async(self.goal(gap_m)).add_done_callback(
            lambda future: self.on_response(future, gap_m))
        self.sent_gap_m = gap_m

    def goal(self, gap_m: float):
        goal, position = self.action.Goal(), self.scale * gap_m
        if self.kind == "gripper_command":
            goal.command.position, goal.command.max_effort = position, self.max_effort_n
        else:
            goal.command.name, goal.command.position = [self.joint], [position]
            goal.command.effort = [self.max_effort_n] if self.max_effort_n > 0 else []
        return goal

    def on_response(self, future, gap_m: float) -> None:
        handle = future.result()
        if not handle.accepted:  # send this gap again with the next command
            self.sent_gap_m = None
            self.get_logger().warning("gripper goal rejected", throttle_duration_sec=2)
            return
        handle.get_result_async().add_done_callback(lambda done: self.on_result(done, gap_m))

    def on_result(self, future, gap_m: float) -> None:
        """A goal for the gap still wanted that did not hold: send it again."""
        response = future.result()
        dropped = response.status in (GoalStatus.STATUS_ABORTED, GoalStatus.STATUS_CANCELED)
        if dropped and not response.result.stalled and self.sent_gap_m == gap_m:
            self.sent_gap_m = None


def main(args=None):
    run_node(GripperActionBridge, args)


if __name__ == "__main__":
    main()
