"""Start nodes as child processes without `ros2 launch` (the CLI's ros-* commands and tests).

    env = ros_environment(unique_domain_id())
    with NodeProcesses(env, log_dir) as nodes:
        nodes.start("sim_driver", {"task": "ab", "seed": 0, "real_time": False})
        ...                                        # children are stopped on exit, always

Each child runs `python -m oneshot_ros.nodes.<name> --ros-args --params-file
config/<name>.yaml -p key:=value ...`: the same parameter files the launch files use. Domain IDs
isolate concurrent runs; discovery stays on this host.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
_counter = itertools.count()


def config_dir() -> Path:
    """config/ of the source tree, else share/oneshot_ros/config of an installed package."""
    if CONFIG_DIR.is_dir():
        return CONFIG_DIR
    share = Path(sys.prefix) / "share" / "oneshot_ros" / "config"
    if share.is_dir():
        return share
    raise FileNotFoundError(f"no node parameter files in {CONFIG_DIR} or {share}; "
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


def node_command(name: str, params: dict) -> list[str]:
    command = [sys.executable, "-m", f"oneshot_ros.nodes.{name}", "--ros-args",
               "--params-file", str(config_dir() / f"{name}.yaml")]
    for key, value in params.items():
        command += ["-p", f"{key}:={param_value(value)}"]
    return command


class NodeProcesses:
    """Child node processes; stop() sends SIGINT, then SIGKILL to any that linger."""

    def __init__(self, env: dict[str, str], log_dir: str | Path):
        self.env, self.log_dir = env, Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, params: dict) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(node_command(name, params), env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()  # the child holds its own descriptor
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
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
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def __enter__(self) -> NodeProcesses:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()
