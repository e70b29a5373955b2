"""EpisodeBuffer + EpisodeFile: live samples -> an episode in the collect format, lazily opened."""

import numpy as np
import pytest

from oneshot_ros.data.storage import DemoReader
from oneshot_ros.demos.recording import EpisodeBuffer, EpisodeFile
from oneshot_ros.world.robot import ObsLayout
from oneshot_ros.world.tasks import parse_task
from oneshot_ros.world.world_config import WorldConfig


def test_buffer_to_file_round_trip_and_lazy_open(tmp_path):
    config, task = WorldConfig(), parse_task("ab")
    buffer = EpisodeBuffer(task, 4, config)
    obs = np.arange(3 * ObsLayout(2).dim, dtype=np.float32).reshape(3, -1) * 1e-3  # (T, 3B+2)
    for t in range(3):
        buffer.add(obs[t], [0.001 * t, 0.0, -0.001, 1.0], n_placed=int(t == 2))
    out = EpisodeFile(tmp_path / "sub" / "demos.h5", config)
    assert not (tmp_path / "sub").exists()  # nothing written before the first episode
    assert out.append(buffer.finish(0.0, "success")) == 0
    out.close()
    with DemoReader(tmp_path / "sub" / "demos.h5") as reader:
        episode = reader[0]
    np.testing.assert_array_equal(episode.obs, obs)
    assert episode.task == "ab" and episode.seed == 4 and episode.stage_ends == [2]
    assert episode.source == "ros" and episode.success


def test_empty_episode_and_foreign_file_are_refused(tmp_path):
    config = WorldConfig()
    with pytest.raises(ValueError, match="no recorded steps"):
        EpisodeBuffer(parse_task("ab"), 0, config).finish(0.0, "success")
    foreign = tmp_path / "notes.h5"
    foreign.write_text("not hdf5")
    buffer = EpisodeBuffer(parse_task("ab"), 0, config)
    buffer.add(np.zeros(ObsLayout(2).dim), [0, 0, 0, 1.0], 0)
    with pytest.raises((OSError, ValueError)):
        EpisodeFile(foreign, config).append(buffer.finish(0.0, "success"))
    assert foreign.read_text() == "not hdf5"  # bad input never destroys data
