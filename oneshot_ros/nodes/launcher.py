"""Start nodes as child processes without `ros2 launch` (the CLI's ros-* commands and tests).

    env = ros_environment(unique_domain_id())
    with NodeProcesses(env, log_dir) as nodes:
        nodes.start("sim_driver", {"task": "ab", "seed": 0, "real_time": False})
        ...                                        # children are stopped on exit, always

Each child runs `python -m oneshot_ros.nodes.<name> --ros-args --params-file
config/<name>.yaml -p key:=value ...`: the same parameter files the launch files use. Domain IDs
isolate concurrent runs; discovery stays on this host. Children die with their parent, even a
SIGKILLed one (Linux: a parent-death signal), and each runs in its own process group, stopped as
a group.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
PR_SET_PDEATHSIG = 1  # <sys/prctl.h>
_counter = itertools.count()


def config_dir() -> Path:
    """config/ of the source tree, else share/oneshot_ros/config of an installed package."""
    return share_path("config")


def share_path(relative: str) -> Path:
    """A data path as installed under share/oneshot_ros (config/..., models/...): the source
    tree's when run from it, else the installed package's."""
    source = CONFIG_DIR.parent / relative
    if source.exists():
        return source
    share = Path(sys.prefix) / "share" / "oneshot_ros" / relative
    if share.exists():
        return share
    raise FileNotFoundError(f"no {relative} in {CONFIG_DIR.parent} or {share.parent}; "
                            "reinstall oneshot_ros")


def unique_domain_id() -> int:
    """A ROS_DOMAIN_ID in 100..229 from this process id and a counter (Fast DDS allows <= 232)."""
    return 100 + (os.getpid() * 7 + next(_counter)) % 130


def ros_environment(domain_id: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               PYTHONUNBUFFERED="1")
    env.pop("ROS_LOCALHOST_ONLY", None)  # deprecated; conflicts with the discovery range
    return env


def param_value(value) -> str:
    """Python value -> the YAML text `-p key:=value` expects (strings quoted)."""
    return json.dumps(value) if isinstance(value, (str, bool)) else str(value)


def node_command(name: str, params: dict, remappings=()) -> list[str]:
    """`python -m oneshot_ros.nodes.<name>` with config/<name>.yaml, `-p` overrides and `-r`
    remappings ((from, to) topic pairs, as a launch file's `remappings`)."""
    command = [sys.executable, "-m", f"oneshot_ros.nodes.{name}", "--ros-args",
               "--params-file", str(config_dir() / f"{name}.yaml")]
    for key, value in params.items():
        command += ["-p", f"{key}:={param_value(value)}"]
    for source, target in remappings:
        command += ["-r", f"{source}:={target}"]
    return command


def _load_libc():
    """libc for prctl on Linux; None elsewhere (no parent-death signal there)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()  # once, here: between fork and exec the child should do as little as it can


def node_preexec():
    """A preexec_fn for a node: its own process group (a terminal's Ctrl-C then reaches only
    us, and we stop the nodes in order; stop() signals the group), and SIGTERM when this
    process dies, however it dies (a SIGKILL runs no cleanup here), so no node outlives the
    command that started it. The parent-death signal is Linux's; elsewhere only the group.
    Linux sends it when the starting *thread* ends: start nodes from a thread that lives as long
    as they should (the ros-* commands and tests use the main thread)."""
    parent = os.getpid()

    def preexec() -> None:
        os.setpgid(0, 0)  # not Popen(process_group=0): Python 3.10 (ROS 2 Humble) lacks it
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os.kill(os.getpid(), signal.SIGTERM)

    return preexec


class NodeProcesses:
    """Child node processes, each in its own process group; stop() sends SIGINT, then SIGKILL
    to a group that lingers. Each logs to <log_dir>/<name>.log, or to this terminal when
    log_dir is None (as `ros2 launch` with output=screen)."""

    def __init__(self, env: dict[str, str], log_dir: str | Path | None):
        self.env, self.log_dir = env, None if log_dir is None else Path(log_dir)
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, params: dict, remappings=()) -> subprocess.Popen:
        """Start node `name` (its config/<name>.yaml, then params); remappings: (topic, topic)
        pairs."""
        log = None if self.log_dir is None else open(self.log_dir / f"{name}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(node_command(name, params, remappings), env=self.env, stdout=log,
                                stderr=None if log is None else subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=node_preexec())
        if log is not None:
            log.close()  # the child holds its own descriptor
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        if self.log_dir is None:
            return ""
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = "\n".join(self.log(name).splitlines()[-15:])
                raise RuntimeError(f"node {name} exited with code {proc.returncode}:\n{tail}")

    def stop(self, name: str, timeout_s: float = 5.0) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            _signal_group(proc, signal.SIGINT)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def __enter__(self) -> NodeProcesses:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    """Signal the node's process group (it leads it): anything it started goes too."""
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:
        pass  # exited between poll() and here
