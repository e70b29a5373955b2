"""Argument types and output-path checks shared by the subcommands.

Checked before any work starts, so a bad value costs the user a one-line error, not a run.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from oneshot_ros.errors import FileBusyError, InputError

VIDEO_SUFFIXES = (".mp4", ".gif")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (0 would otherwise mean "use the default" somewhere)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: use at least 1")
    return value


def non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: use 0 or more")
    return value


def seed_int(text: str) -> int:
    """argparse type: a random seed, 0 or more (numpy's generators refuse negative seeds)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: a seed is 0 or more")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (a rate or scale: 0, nan and inf stop the clock)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < float("inf"):  # also refuses NaN
        raise argparse.ArgumentTypeError(f"{text}: use a finite number > 0")
    return value


def stage_range(text: str) -> tuple[int, int]:
    """argparse type: "4-6" or "8" -> (low, high) stage counts, 1 <= low <= high."""
    low, _, high = text.partition("-")
    try:
        bounds = (int(low), int(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use LOW-HIGH stage counts, e.g. 4-6") \
            from None
    if not 1 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"{text}: use 1 <= LOW <= HIGH, e.g. 4-6")
    return bounds


def key_value(text: str) -> tuple[str, object]:
    """argparse type: KEY=VALUE, the value read as YAML (1.5 -> float, true -> bool)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: use KEY=VALUE, e.g. trajectory_periods=1.5")
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise argparse.ArgumentTypeError(f"{text!r}: VALUE is not a YAML scalar") from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


class Once(argparse.Action):
    """An option that may be given once: argparse would otherwise keep only the last value."""

    def __call__(self, parser, namespace, values, option_string=None):
        if getattr(namespace, self.dest, None) is not None:
            parser.error(f"{option_string} given twice; this command takes one")
        setattr(namespace, self.dest, values)


def check_noise(flag: str, noise: float, max_step_m: float) -> float:
    """The demonstrator's action-noise std must lie in 0..max_step_m (m per step)."""
    if not 0.0 <= noise <= max_step_m:
        raise InputError(f"{flag} {noise}: use 0..{max_step_m} m per step")
    return noise


def check_not_empty(flag: str, text: str | Path) -> None:
    """`--out ""` is Path("."): the command would write into the current directory."""
    if isinstance(text, str) and not text.strip():
        raise InputError(f"{flag} {text!r} is empty; pass a path (an empty one would write into "
                         "the current directory)")


def check_output_dir(flag: str, path: str | Path) -> Path:
    """A directory that exists or can be created: no regular file on the way, writable."""
    check_not_empty(flag, path)
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{flag} {path} is a file; pass a directory")
    _check_parents(flag, path)
    return path


def check_video_path(flag: str, path: str | Path) -> Path:
    """A .mp4/.gif file name whose folder exists or can be created and is writable."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(f"{flag} {path}: use a .mp4 or .gif file name")
    return check_output_file(flag, path)


def check_output_file(flag: str, path: str | Path) -> Path:
    """A file name (not a directory) whose folder exists or can be created and is writable."""
    check_not_empty(flag, path)
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{flag} {path} is a directory; pass a file name")
    _check_parents(flag, path)
    return path


def _check_parents(flag: str, path: Path) -> None:
    """The nearest existing ancestor must be a writable directory (mkdir and ffmpeg need it)."""
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"{flag} {path}: {ancestor} is a file, not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {path}: cannot write into {ancestor} (permission denied)")
    _probe_write(flag, path, ancestor)


def _probe_write(flag: str, path: Path, directory: Path) -> None:
    """Create (and drop) a scratch file in `directory`: os.access trusts permission bits, so
    root passes it for /proc and other file systems that refuse new files."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        raise InputError(f"{flag} {path}: cannot create a file in {directory} "
                         f"({err.strerror or err})") from None


LOCK_FILE = ".oneshot-ros.lock"


@contextmanager
def locked_output_dir(flag: str, path: str | Path) -> Iterator[Path]:
    """Create the directory and hold it for this process: two runs writing into one --out
    interleave their files (two evals: 12 lines for 6 episodes). An exclusive flock, as collect
    holds on its file (data/journal.py), on a lock file holding our pid; the kernel releases it
    when the process ends, however it ends. The file stays: unlinking it would race."""
    path = check_output_dir(flag, path)
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileBusyError(f"{flag} {path} is in use by another running oneshot-ros "
                                f"(pid {_holder(fd)}); wait for it to finish (or stop it), or "
                                f"pass another {flag}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    """The pid the holder wrote (it may not have yet)."""
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return text if text.isdigit() else "unknown"
