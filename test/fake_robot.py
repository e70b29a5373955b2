"""The test process plays the robot for node tests: joint states, block poses, arm commands.

    robot = FakeRobot(session)
    robot.run(1.0)                      # 1 s of /joint_states + /block_poses, advancing stamps
    robot.run(0.2, joints=NAN_JOINTS)   # states the nodes must reject
    robot.pause(1.0)                    # no input at all: the nodes' inputs go stale
"""

import numpy as np
from geometry_msgs.msg import PoseArray
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from oneshot_ros.nodes import conversions as conv
from oneshot_ros.world.robot import ARM_JOINTS, FINGER_JOINTS, READY_ARM, TORSO_JOINT, TORSO_UP_M

PERIOD_S = 0.05
JOINTS = {TORSO_JOINT: TORSO_UP_M, **dict(zip(ARM_JOINTS, READY_ARM, strict=True)),
          **dict.fromkeys(FINGER_JOINTS, 0.04), "head_pan_joint": 0.0}  # an extra joint
NAN_JOINTS = {**JOINTS, ARM_JOINTS[0]: float("nan")}
BLOCKS = np.array([[0.6, 0.1, 0.745], [0.55, -0.15, 0.745]])  # task "ab"


class FakeRobot:
    def __init__(self, session):
        node, self.session, self.t = session.ros.node, session, 0.0
        self.stamps: list[float] = []  # of every /joint_states published, s
        self.joints = node.create_publisher(JointState, conv.JOINT_STATES_TOPIC, 10)
        self.poses = node.create_publisher(PoseArray, conv.BLOCK_POSES_TOPIC, 10)
        self.commands = node.create_publisher(JointTrajectory, conv.ARM_COMMAND_TOPIC, 10)
        self.arm = session.ros.collect(conv.ARM_COMMAND_TOPIC, JointTrajectory)
        self.gripper = session.ros.collect(conv.GRIPPER_COMMAND_TOPIC, Float64MultiArray)

    def run(self, seconds: float, blocks=BLOCKS, joints: dict = JOINTS,
            command: bool = False) -> None:
        """Publish states each period (blocks=None: no /block_poses); command: also an arm
        command holding READY_ARM, as an expert or teleop would send."""
        for _ in range(int(seconds / PERIOD_S)):
            self.t += PERIOD_S
            stamp = conv.duration(self.t)
            self.stamps.append(conv.stamp_s(stamp))
            if blocks is not None:
                self.poses.publish(conv.pose_array(blocks))
            msg = conv.joint_state(joints)
            msg.header.stamp.sec, msg.header.stamp.nanosec = stamp.sec, stamp.nanosec
            self.joints.publish(msg)
            if command:
                self.command()
            else:
                self.session.ros.spin_for(PERIOD_S)

    def command(self) -> None:
        """One arm command alone (no states with it)."""
        self.commands.publish(conv.arm_trajectory(READY_ARM, PERIOD_S))
        self.session.ros.spin_for(PERIOD_S)

    def pause(self, seconds: float) -> None:
        self.session.ros.spin_for(seconds)
