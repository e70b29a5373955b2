"""Node parameters at the boundary: declared ranges, refused at start-up (one line, exit 2) and at
runtime (the set fails), honoured when they may change, never a crash later. Real processes."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("rclpy")
from sensor_msgs.msg import JointState  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from oneshot_ros.nodes import conversions as conv  # noqa: E402
from oneshot_ros.nodes.launcher import node_command, ros_environment, unique_domain_id  # noqa: E402

BAD_START = [  # (node, parameter, value): each killed or silently stopped a node before
    ("sim_driver", "max_joint_velocity_rad_s", -1.0),  # moved every joint the other way
    ("sim_driver", "time_scale", 0.0),  # no /joint_states for ever
    ("sim_driver", "time_scale", math.nan),
    ("sim_driver", "max_lead_periods", 0.1),
    ("sim_driver", "control_rate_hz", 10.0),  # differs from the world's 20 Hz
    ("sim_driver", "video_every_steps", 0),
    ("sim_driver", "seed", -1),
    ("sim_driver", "task", "abk"),
    ("imitator", "max_joint_velocity_rad_s", -0.5),  # flipped the clamp
    ("imitator", "trajectory_periods", 0.0),
    ("imitator", "trajectory_periods", 5.0),
    ("imitator", "marker_every_steps", 0),
    ("imitator", "stale_timeout_s", -1.0),
    ("scripted_expert", "noise_std", -0.1),
    ("scripted_expert", "noise_std", math.nan),
    ("demo_recorder", "world_config", "/nonexistent/world.yaml"),
]


@pytest.mark.parametrize(("node", "name", "value"), BAD_START)
def test_a_bad_parameter_at_start_up_is_one_line_and_exit_2(node, name, value):
    value_text = "nan" if isinstance(value, float) and math.isnan(value) else value
    command = node_command(node, {})[:-2] + ["-p", f"{name}:={value_text}"]  # no params file
    done = subprocess.run(command, env=ros_environment(unique_domain_id()), text=True,
                          capture_output=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and "Traceback" not in done.stderr, lines


def test_a_world_config_that_is_not_yaml_is_refused(tmp_path):
    png = tmp_path / "world.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    command = node_command("scripted_expert", {"world_config": str(png)})
    done = subprocess.run(command, env=ros_environment(unique_domain_id()), text=True,
                          capture_output=True, timeout=60)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_runtime_sets_out_of_range_or_read_only_fail_and_the_node_lives(ros_session):
    ros_session.start("sim_driver", {"task": "ab", "real_time": False, "time_scale": 2.0})
    ros_session.wait_for_service("/sim_driver/status")
    for values in ({"time_scale": 0.0}, {"max_joint_velocity_rad_s": -1.0},
                   {"video_every_steps": -3}, {"task": "abk"}, {"seed": -1},
                   {"max_lead_periods": 2.0}):  # the last one is read once: read-only
        with pytest.raises(ValueError, match="refused"):
            ros_session.ros.set_params("sim_driver", values)
    status = ros_session.reset(seed=2788681111, task="abc")  # eval draws 32-bit seeds
    assert status["task"] == "abc" and status["seed"] == 2788681111
    ros_session.nodes.check_alive()


def _commanded_steps(commands, states) -> list[float]:
    """Largest |command - the joint state it answers| of each arm command, rad."""
    by_stamp = {conv.stamp_s(msg.header.stamp): msg for _, msg in states}
    steps = []
    for _, msg in commands:
        answered = by_stamp.get(conv.stamp_s(msg.header.stamp))
        if answered is not None:
            q = conv.arm_joint_vector(answered)
            steps.append(float(np.abs(conv.trajectory_points(msg)[0][-1] - q).max()))
    return steps


def test_a_runtime_velocity_limit_applies_from_the_next_command(ros_session):
    """It was accepted and ignored (step 0.052 rad when 0.005 was asked)."""
    commands = ros_session.ros.collect(conv.ARM_COMMAND_TOPIC, JointTrajectory)
    states = ros_session.ros.collect(conv.JOINT_STATES_TOPIC, JointState, depth=1000)
    ros_session.start("sim_driver", {"task": "ab", "seed": 2, "real_time": False,
                                     "time_scale": 2.0})
    ros_session.start("scripted_expert", {"task": "ab", "use_sim_time": True})
    ros_session.wait_until(lambda: states and commands, 60, "states and commands")
    ros_session.reset(seed=2)  # discovery done: a fresh episode, all of it seen from here
    n = len(commands)
    ros_session.wait_until(lambda: max(_commanded_steps(commands[n:], states), default=0) > 0.02,
                           60, "a brisk expert step at the default 1.5 rad/s")
    ros_session.ros.set_params("scripted_expert", {"max_joint_velocity_rad_s": 0.1})
    ros_session.ros.spin_for(0.3)
    n = len(commands)
    ros_session.wait_until(lambda: len(commands) > n + 20, 60, "more commands")
    slow = _commanded_steps(commands[n + 2:], states)
    assert slow and max(slow) <= 0.1 * 0.05 + 1e-9, max(slow)
    with pytest.raises(ValueError, match="refused"):
        ros_session.ros.set_params("scripted_expert", {"max_joint_velocity_rad_s": -0.5})


def test_numpy_warnings_in_a_node_are_one_log_line(tmp_path):
    """A node run by run_node (all of ours) logs numpy's warnings on one line each (numpy's
    default format adds the source line)."""
    code = ("import numpy as np\n"
            "from oneshot_ros.nodes import common, params\n"
            "class Node:\n"
            "    def __init__(self):\n"
            "        np.float32(3e38) * np.float32(10)\n"
            "        raise params.ParameterError('stop here')\n"
            "common.run_node(Node)\n")
    script = tmp_path / "warning_node.py"  # a file: the default format adds its source line
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, env=ros_environment(unique_domain_id()))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 2, done.stderr
    assert "RuntimeWarning: overflow" in lines[0] and "stop here" in lines[1], done.stderr
