"""sim_driver + scripted_expert + demo_recorder as real processes, and `oneshot-ros ros-record`."""

import dataclasses
import json
import signal
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("rclpy")

from oneshot_ros.data.storage import DemoReader  # noqa: E402
from oneshot_ros.robot import ObsLayout  # noqa: E402
from oneshot_ros.sim.config import WorldConfig  # noqa: E402


def test_ros_record_succeeds_on_ab_and_writes_the_collect_format(tmp_path):
    out = tmp_path / "ros.h5"
    result = subprocess.run(
        [sys.executable, "-m", "oneshot_ros.cli", "ros-record", "--task", "ab", "--episodes",
         "1", "--out", str(out), "--json"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["successes"] == 1, summary
    with DemoReader(out) as reader:
        episode = reader[0]
        assert reader.world_config == json.loads(json.dumps(dataclasses.asdict(WorldConfig())))
    assert episode.success and episode.source == "ros" and episode.stage_ends
    assert episode.obs.shape == (episode.length, ObsLayout(2).dim)
    assert np.all(np.abs(episode.actions[:, :3]) <= WorldConfig().max_step_m + 1e-6)


def test_recorder_keeps_earlier_episodes_when_killed(ros_session, tmp_path):
    out = tmp_path / "demos.h5"
    ros_session.start("sim_driver", {"task": "ab", "seed": 3, "real_time": False,
                                     "time_scale": 3.0})
    ros_session.start("scripted_expert", {"task": "ab"})
    ros_session.start("demo_recorder", {"task": "ab", "seed": 3, "out": str(out)})
    ros_session.wait_for_service("/sim_driver/status")
    ros_session.wait_for_service("/demo_recorder/stop_episode")
    ros_session.ros.trigger("/demo_recorder/start_episode")
    ros_session.wait_steps(ros_session.status()["step"] + 30)
    ok, message = ros_session.ros.trigger("/demo_recorder/stop_episode")
    assert ok, message
    ros_session.ros.trigger("/demo_recorder/start_episode")  # the episode in flight ...
    ros_session.wait_steps(ros_session.status()["step"] + 20)
    ros_session.nodes.procs["demo_recorder"].send_signal(signal.SIGKILL)  # ... is lost
    ros_session.nodes.procs["demo_recorder"].wait(10)
    with DemoReader(out) as reader:
        assert len(reader) == 1
        episode = reader[0]
    assert episode.task == "ab" and episode.seed == 3 and episode.length >= 20
    assert np.all(np.isfinite(episode.obs))
