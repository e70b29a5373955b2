"""Keep PyBullet's C-level banners ("pybullet build time", "argv[0]=") off stdout.

They would corrupt `--json` output; they go to stderr instead.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def stdout_to_stderr():
    """Redirect file descriptor 1 to 2 for the duration (C printf included)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


# Import pybullet only through this module: the banner prints at import time.
with stdout_to_stderr():
    import pybullet  # noqa: E402
    from pybullet_utils.bullet_client import BulletClient  # noqa: E402

__all__ = ["BulletClient", "pybullet", "stdout_to_stderr"]
