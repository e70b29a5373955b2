"""Write rendered frames to MP4 (ffmpeg via imageio) or GIF; imageio loads on the first write.

The bottom layer's video writer: evaluation, the demonstrate/replay commands and the sim
driver's ~/save_video all use it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oneshot_ros.errors import InputError


def write_video(frames: list[np.ndarray], path: str | Path, fps: float = 10.0) -> Path:
    """Frames (H, W, 3) uint8 -> .mp4 or .gif at `path`; the parent directory is created."""
    import imageio.v2 as imageio

    path = Path(path)
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise InputError(f"video path {path}: use a .mp4 or .gif file name")
    if not frames:
        raise ValueError("no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, frames, duration=1.0 / fps, loop=0)
    else:
        imageio.mimsave(path, frames, fps=fps, macro_block_size=8)
    return path


class FrameRecorder:
    """Callable for run_episode(on_step=...): keeps every k-th rendered frame."""

    def __init__(self, every: int = 2):
        self.every, self.frames, self._n = every, [], 0

    def __call__(self, env) -> None:
        if self._n % self.every == 0:
            self.frames.append(env.render())
        self._n += 1
