"""One execution model: an action moves the arm over ROS 2 as it does in StackingEnv.

The noise-free scripted demonstrator (a function of the state it sees) builds the same task
from the same layout in StackingEnv and through sim_driver + scripted_expert processes; the
commanded move per control step must be achieved alike (ratio >= 0.95, steps within
10 %). With commands due 1.5 periods on, each step moved 2/3 of the way: 0.67 and 1.4x steps.
Also: the driver's command timing (missed periods, late commands) that `eval --ros` relies on.
"""

import numpy as np
import pytest

pytest.importorskip("rclpy")
from sensor_msgs.msg import JointState  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from oneshot_ros.evaluate.parity import (  # noqa: E402
    pair_commands,
    ros_result,
    sim_expert_episode,
)
from oneshot_ros.nodes import conversions as conv  # noqa: E402
from oneshot_ros.nodes.parity import ros_expert_episode  # noqa: E402
from oneshot_ros.world.robot import HOME_ARM  # noqa: E402

PERIOD_S = 0.05


def test_the_expert_moves_the_arm_over_ros_as_in_stacking_env(ros_session):
    sim = sim_expert_episode("ab", seed=0)
    ros = ros_result(*ros_expert_episode(ros_session, "ab", seed=0, time_scale=1.0,
                                         max_wall_s=120))
    assert sim["success"] and ros["success"], (sim, ros)
    assert ros["moves"] >= 0.8 * sim["moves"]  # the measure saw the episode
    assert ros["move_ratio"] / sim["move_ratio"] >= 0.95, (sim, ros)
    assert abs(ros["steps"] / sim["steps"] - 1) <= 0.10, (sim, ros)


def test_pair_commands_matches_each_command_to_the_state_before_it():
    a, b, c, d = (np.full(7, v) for v in range(4))
    events = [("state", a), ("state", b), ("command", c), ("command", d), ("state", a),
              ("state", b), ("command", d)]
    states, commands = pair_commands(events)
    assert len(states) == 3 and states[0] is b
    assert commands[0] is c and commands[1] is None and commands[2] is d
    assert pair_commands([("state", a)]) == ([], [])


class Answerer:
    """Answers /joint_states with arm commands holding HOME_ARM: every `every`-th state, stamped
    with that state's stamp, or with the stamp of the state `lag` states earlier."""

    def __init__(self, session, every: int = 1, lag: int = 0, periods: float = 1.0):
        self.every, self.lag, self.periods, self.stamps = every, lag, periods, []
        node = session.ros.node
        self.arm = node.create_publisher(JointTrajectory, conv.ARM_COMMAND_TOPIC, 10)
        node.create_subscription(JointState, conv.JOINT_STATES_TOPIC, self.on_state, 10)
        self.on = False

    def on_state(self, msg: JointState) -> None:
        self.stamps.append(msg.header.stamp)
        if self.on and len(self.stamps) % self.every == 0 and len(self.stamps) > self.lag:
            stamp = self.stamps[-1 - self.lag]
            self.arm.publish(conv.arm_trajectory(HOME_ARM, PERIOD_S, self.periods, stamp))


def timing_after(session, answerer, steps: int) -> dict:
    session.reset(0)
    answerer.on = True
    start = session.wait_steps(session.status()["step"] + 2)
    session.wait_steps(start["step"] + steps, timeout_s=60)
    answerer.on = False
    return session.status()


def test_the_driver_counts_missed_periods_and_late_commands(ros_session):
    ros_session.start("sim_driver", {"task": "ab", "seed": 0, "real_time": False,
                                     "time_scale": 0.5})
    ros_session.wait_for_service("/sim_driver/status")
    every = Answerer(ros_session)
    status = timing_after(ros_session, every, 20)
    assert status["first_command_step"] is not None and status["commanded_periods"] >= 18
    assert status["missed_periods"] <= 1 and status["late_commands"] == 0, status
    every.every = 2  # a controller at half the rate: every other period has no command
    status = timing_after(ros_session, every, 20)
    assert status["missed_periods"] >= 8 and status["commanded_periods"] >= 8, status
    every.every, every.lag, every.periods = 1, 1, 2.0  # answers the state before: late
    status = timing_after(ros_session, every, 20)
    assert status["late_commands"] >= 15 and status["missed_periods"] <= 1, status
    ros_session.nodes.check_alive()
