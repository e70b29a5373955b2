"""Lint as a test: ruff (config in ruff.toml: 99 columns, E/F/W/I/B) over the Python sources."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PATHS = ["oneshot_ros", "test", "bench", "launch"]


def test_ruff_clean():
    pytest.importorskip("ruff", reason="pip install ruff (extras_require['test'])")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format=concise", *PATHS],
        cwd=REPO, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
