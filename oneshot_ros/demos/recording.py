"""EpisodeBuffer: (obs, action) samples from a live robot -> an Episode for DemoWriter.

    buffer = EpisodeBuffer(task, seed, config)
    buffer.add(obs, action, n_placed)          # once per control step
    episode = buffer.finish(noise, outcome)    # the same Episode fields `collect` writes
    index = EpisodeFile(path, config).append(episode)   # DemoWriter, opened on first use

Used by the ROS demo recorder; plain numpy (h5py only once a file is written), no rclpy. The
executed actions are the labels too (no noise-free expert signal travels over the command
topics).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from oneshot_ros.data.episode import Episode
from oneshot_ros.world.success import SUCCESS
from oneshot_ros.world.tasks import Task
from oneshot_ros.world.world_config import WorldConfig


class EpisodeBuffer:
    def __init__(self, task: Task, seed: int, config: WorldConfig):
        self.task, self.seed, self.config = task, int(seed), config
        self.obs: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []
        self.stage_ends: list[int] = []

    def __len__(self) -> int:
        return len(self.obs)

    def add(self, obs: np.ndarray, action: np.ndarray, n_placed: int) -> None:
        """obs (3B+2,), action (4,); n_placed = stages holding now (stage_ends as run_episode)."""
        self.obs.append(np.asarray(obs, dtype=np.float32))
        self.actions.append(self.config.action_layout.validate(action))
        while len(self.stage_ends) < n_placed:
            self.stage_ends.append(len(self.obs) - 1)

    def finish(self, noise: float, outcome: str, source: str = "ros") -> Episode:
        if not self.obs:
            raise ValueError("the episode has no recorded steps; send commands before stopping")
        actions = np.array(self.actions)  # (T, 4)
        return Episode(self.task.string, self.seed, noise, np.array(self.obs), actions,
                       actions.copy(), outcome == SUCCESS, outcome, list(self.stage_ends),
                       source=source)


class EpisodeFile:
    """The dataset an episode stream is appended to; DemoWriter opens it on the first append.

    Each append is one atomic commit (DemoWriter), so a killed recorder loses at most the
    episode in flight. OSError/ValueError (e.g. a foreign file at `path`) leave it unopened.
    """

    def __init__(self, path: str | Path, config: WorldConfig):
        self.path, self.config, self._writer = Path(path), config, None

    def append(self, episode: Episode) -> int:
        """Write the episode; returns its index in the file."""
        from oneshot_ros.data.storage import DemoWriter  # h5py only when recording

        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = DemoWriter(self.path, dataclasses.asdict(self.config))
        return self._writer.append(episode)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
