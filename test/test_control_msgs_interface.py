"""control_msgs as installed here is wire-compatible with upstream's (ros-controls/control_msgs).

Without a ROS install it comes from interfaces/control_msgs (interfaces/install_control_msgs.py);
on a ROS install from rosdep. Either way these tests check what the bridges rely on: the type
hashes that DDS discovery compares (read from the C type support that rmw uses, and as rmw reports
them for a topic) equal upstream's, and goals with tolerances survive serialization and an action
round trip. Skipped only where control_msgs is not importable.
"""

import ctypes

import pytest

pytest.importorskip("control_msgs", reason="python interfaces/install_control_msgs.py")
import rclpy  # noqa: E402
from builtin_interfaces.msg import Duration  # noqa: E402
from control_msgs.action import (  # noqa: E402
    FollowJointTrajectory,
    GripperCommand,
    ParallelGripperCommand,
)
from control_msgs.msg import (  # noqa: E402
    GripperCommand as GripperCommandMsg,
)
from control_msgs.msg import (  # noqa: E402
    JointComponentTolerance,
    JointTolerance,
)
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402

from oneshot_ros.nodes.launcher import unique_domain_id  # noqa: E402

# Upstream's RIHS01 hashes (control_msgs 6.3.0 through 6.8.0, the rolling/kilted branch; 6.3.0
# added FollowJointTrajectory feedback's index fields). Computed by rosidl's own hashing from the
# upstream files (interfaces/type_hashes.py on an upstream checkout); the same method run on 6.2.0
# gives the FollowJointTrajectory hashes of a colcon build of upstream 6.2.0 (738ebcb7...), and
# every hash below except FollowJointTrajectory's and its feedback's was also found in upstream
# builds' generated description.c files.
UPSTREAM = {
    "control_msgs/action/FollowJointTrajectory":
        "RIHS01_ff29901b2693f5deb847e96084a1c2cdb26e70b7c847be21859b70a55fb29cf0",
    "control_msgs/action/FollowJointTrajectory_Goal":
        "RIHS01_8a9060704b269608f5a340934cc26e66869dd14bdac29e2e7fd9ec8b9882d205",
    "control_msgs/action/FollowJointTrajectory_Result":
        "RIHS01_8002e99ed2c14c6faa522f2a93c26d744c5982f254f9e98ff9c6f19789bdb220",
    "control_msgs/action/FollowJointTrajectory_Feedback":
        "RIHS01_0bb018d181bdc6384dd75365480967bd1d6eaee4ef3dd597c64cd0b8bdc10867",
    "control_msgs/action/FollowJointTrajectory_FeedbackMessage":
        "RIHS01_95618cc73912d99b9acaa17d2da5e832cb0bfdeede7534fa8ec600feca2a6c4b",
    "control_msgs/action/GripperCommand":
        "RIHS01_e17c0e644eccf14bea84a0a93e0977182872c2eb7873ca6694900059b46dbc84",
    "control_msgs/action/GripperCommand_Goal":
        "RIHS01_607d9f41eb241e1922e90f02125e87ae6bfb78f7f64a71dc92630263d01f8b6d",
    "control_msgs/action/ParallelGripperCommand":
        "RIHS01_adfd3c1ebe8abc38ebcc0e454b6423d291d4010dd5697d14eca5b9be4726ae18",
    "control_msgs/msg/GripperCommand":
        "RIHS01_57eb8f326c9889ca8bb34ead82cc94cc09bf6bc5c3b6c09546dca3a00b589890",
    "control_msgs/msg/JointTolerance":
        "RIHS01_c254f9cece0f3b733017b6990fd46d1326e25242d6b8844398c97d9a88e7d648",
    "control_msgs/msg/JointComponentTolerance":
        "RIHS01_739ea7566931944d33830fa10f1bf5e7a7fbdc3172bce7a7eaac642bd6e3ffa4",
}
MESSAGES = {
    "control_msgs/action/FollowJointTrajectory_Goal": FollowJointTrajectory.Goal,
    "control_msgs/action/FollowJointTrajectory_Result": FollowJointTrajectory.Result,
    "control_msgs/action/FollowJointTrajectory_Feedback": FollowJointTrajectory.Feedback,
    "control_msgs/action/FollowJointTrajectory_FeedbackMessage":
        FollowJointTrajectory.Impl.FeedbackMessage,
    "control_msgs/action/GripperCommand_Goal": GripperCommand.Goal,
    "control_msgs/msg/GripperCommand": GripperCommandMsg,
    "control_msgs/msg/JointTolerance": JointTolerance,
    "control_msgs/msg/JointComponentTolerance": JointComponentTolerance,
}
ACTIONS = {
    "control_msgs/action/FollowJointTrajectory": FollowJointTrajectory,
    "control_msgs/action/GripperCommand": GripperCommand,
    "control_msgs/action/ParallelGripperCommand": ParallelGripperCommand,
}


class _TypeHash(ctypes.Structure):  # rosidl_runtime_c/type_hash.h: rosidl_type_hash_t
    _fields_ = [("version", ctypes.c_uint8), ("value", ctypes.c_uint8 * 32)]


def c_type_hash(cls, get_type_hash_slot: int) -> str:
    """The hash compiled into cls's C type support (what rmw announces in discovery).

    rosidl_message_type_support_t holds get_type_hash_func after 3 pointers,
    rosidl_action_type_support_t after 5 (rosidl_runtime_c, Jazzy and later)."""
    type(cls).__import_type_support__()
    capsule = cls._TYPE_SUPPORT
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object,
                                                                  ctypes.c_char_p]
    support = get_pointer(capsule, get_name(capsule))
    slot = support + get_type_hash_slot * ctypes.sizeof(ctypes.c_void_p)
    function = ctypes.CFUNCTYPE(ctypes.POINTER(_TypeHash), ctypes.c_void_p)(
        ctypes.c_void_p.from_address(slot).value)
    type_hash = function(support).contents
    return f"RIHS{type_hash.version:02d}_{bytes(type_hash.value).hex()}"


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_type_hash_equals_upstream(name):
    assert c_type_hash(MESSAGES[name], 3) == UPSTREAM[name]


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_action_type_hash_equals_upstream(name):
    assert c_type_hash(ACTIONS[name], 5) == UPSTREAM[name]


def tolerant_goal() -> FollowJointTrajectory.Goal:
    joints = ["shoulder_pan_joint", "shoulder_lift_joint"]
    trajectory = JointTrajectory(joint_names=joints, points=[
        JointTrajectoryPoint(positions=[0.1, -0.2], velocities=[0.0, 0.0],
                             time_from_start=Duration(sec=0, nanosec=200_000_000)),
        JointTrajectoryPoint(positions=[0.3, -0.4], time_from_start=Duration(sec=1)),
    ])
    return FollowJointTrajectory.Goal(
        trajectory=trajectory,
        path_tolerance=[JointTolerance(name=j, position=0.05, velocity=-1.0) for j in joints],
        component_path_tolerance=[JointComponentTolerance(
            joint_name="base", component=JointComponentTolerance.ROTATION, position=0.1)],
        goal_tolerance=[JointTolerance(name=joints[0], position=0.01, acceleration=2.5)],
        goal_time_tolerance=Duration(sec=0, nanosec=500_000_000),
    )


def test_goal_with_tolerances_round_trips_through_serialization():
    goal = tolerant_goal()
    data = serialize_message(goal)
    back = deserialize_message(data, FollowJointTrajectory.Goal)
    assert back == goal
    assert back.path_tolerance[1].velocity == -1.0
    assert back.component_path_tolerance[0].component == JointComponentTolerance.ROTATION == 5
    assert back.goal_time_tolerance.nanosec == 500_000_000
    feedback = FollowJointTrajectory.Feedback(joint_names=["a"], index=3, multi_dof_index=-1)
    assert deserialize_message(serialize_message(feedback), FollowJointTrajectory.Feedback) \
        == feedback
    gripper = GripperCommand.Goal(command=GripperCommandMsg(position=0.04, max_effort=60.0))
    assert deserialize_message(serialize_message(gripper), GripperCommand.Goal) == gripper


@pytest.fixture
def ros_context():
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=unique_domain_id())
    try:
        yield context
    finally:
        context.try_shutdown()


def test_follow_joint_trajectory_action_round_trip(ros_context):
    """A goal with tolerances reaches a server, feedback and a result come back, and rmw reports
    upstream's hash for the action's feedback topic (the type whose fields 6.3.0 changed)."""
    from rclpy.action import ActionClient, ActionServer
    from rclpy.executors import SingleThreadedExecutor

    node = rclpy.create_node("control_msgs_round_trip", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    received = []

    def execute(goal_handle):
        received.append(goal_handle.request)
        goal_handle.publish_feedback(FollowJointTrajectory.Feedback(
            joint_names=list(goal_handle.request.trajectory.joint_names), index=1))
        goal_handle.succeed()
        return FollowJointTrajectory.Result(
            error_code=FollowJointTrajectory.Result.SUCCESSFUL, error_string="done")

    server = ActionServer(node, FollowJointTrajectory, "/arm/follow_joint_trajectory", execute)
    client = ActionClient(node, FollowJointTrajectory, "/arm/follow_joint_trajectory")
    try:
        assert client.wait_for_server(timeout_sec=10.0)
        feedback = []
        goal = tolerant_goal()
        sent = client.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m))
        executor.spin_until_future_complete(sent, timeout_sec=10.0)
        assert sent.done() and sent.result().accepted
        result = sent.result().get_result_async()
        executor.spin_until_future_complete(result, timeout_sec=10.0)
        assert result.done(), "no result within 10 s"
        assert result.result().result.error_string == "done"
        assert received == [goal]
        assert [m.feedback.index for m in feedback] == [1]

        topic = "/arm/follow_joint_trajectory/_action/feedback"
        infos = node.get_publishers_info_by_topic(topic)
        assert infos, f"no publisher on {topic}"
        assert str(infos[0].topic_type_hash) == \
            UPSTREAM["control_msgs/action/FollowJointTrajectory_FeedbackMessage"]
    finally:
        client.destroy()
        server.destroy()
        executor.shutdown()
        node.destroy_node()
