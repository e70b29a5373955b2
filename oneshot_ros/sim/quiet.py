"""Silence PyBullet's C-level banners ("pybullet build time", "argv[0]=").

On stdout they would corrupt `--json` output; on stderr they tear progress bars (one per world
a collection worker builds). They carry no information, so they go to /dev/null.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys

_LIBC = ctypes.CDLL(None)  # fflush(NULL): C stdio buffers are flushed while fd 1 is redirected


@contextlib.contextmanager
def silenced_stdout():
    """Send file descriptors 1 and 2 (C stdio included) to /dev/null for the duration.

    Only wraps the pybullet import and connect calls, whose only output is the banners.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        _LIBC.fflush(None)
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


# Import pybullet only through this module: the banner prints at import time.
with silenced_stdout():
    import pybullet  # noqa: E402
    from pybullet_utils.bullet_client import BulletClient  # noqa: E402

__all__ = ["BulletClient", "pybullet", "silenced_stdout"]
