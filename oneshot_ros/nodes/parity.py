"""The scripted demonstrator over ROS 2, measured like evaluate.parity measures StackingEnv.

    with SimSession(log_dir) as session:
        events, status = ros_expert_episode(session, "ab", seed=0, time_scale=2.0)
    result = evaluate.parity.ros_result(events, status)   # steps, move_ratio, missed, ...

sim_driver and scripted_expert run as real processes over DDS; this process listens to
/joint_states and the arm commands in arrival order (the state each command answers is the
last one before it). The noise-free expert is a function of the state it sees, so the same task
and layout through StackingEnv and over ROS differ only by how commands move the arm.
"""

from __future__ import annotations

from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from oneshot_ros.demos.episode_loop import SETTLE_STEPS
from oneshot_ros.nodes import conversions as conv


def ros_expert_episode(session, task: str, seed: int, time_scale: float = 1.0,
                       expert_params: dict | None = None, driver_params: dict | None = None,
                       max_steps: int | None = None, max_wall_s: float = 900.0
                       ) -> tuple[list, dict]:
    """(("state"|"command", q (7,)) events in arrival order, the driver's final ~/status)"""
    events: list = []  # ("state", q (7,)) / ("command", q (7,)) in arrival order
    session.start("sim_driver", {"task": task, "seed": seed, "real_time": False,
                                 "time_scale": time_scale, **(driver_params or {})})
    session.wait_for_service("/sim_driver/status")
    node = session.ros.node
    node.create_subscription(JointState, conv.JOINT_STATES_TOPIC,
                             lambda m: events.append(("state", conv.arm_joint_vector(m))), 100)
    node.create_subscription(
        JointTrajectory, conv.ARM_COMMAND_TOPIC,
        lambda m: events.append(("command", conv.trajectory_points(m)[0][-1])), 100)
    session.start("scripted_expert", {"task": task, **(expert_params or {})})
    # Our subscriptions match the expert's publisher only after discovery (up to seconds on a
    # loaded machine): let it command until one reaches us, then start the episode (the
    # noise-free expert is a function of the state, so it simply starts over).
    session.wait_until(lambda: any(kind == "command" for kind, _ in events), 120,
                       "the expert's first command at this process")
    session.reset(seed)
    events.clear()
    session.wait_until(lambda: session.status()["first_command_step"] is not None, 120,
                       "the expert's first command")
    status = session.run_until_done(max_wall_s=max_wall_s, settle_steps=SETTLE_STEPS,
                                    poll_s=0.05, max_steps=max_steps)
    session.nodes.stop("scripted_expert")
    return events, status
