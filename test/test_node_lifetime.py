"""ros-demo checks its inputs before any node starts, and its nodes never outlive it: a SIGKILLed
`oneshot-ros ros-demo` (no cleanup runs) takes its node processes with it (parent-death signal),
each node leading its own process group. An active imitator stopped from outside (SIGTERM,
SIGINT) exits 0 cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_checks import one_line_error

NODE_MODULE = "oneshot_ros.nodes."


def test_ros_demo_refuses_a_bad_demo_before_starting_nodes(capsys, tmp_path, tiny_model,
                                                           ab_demo_file):
    ros_demo = ["ros-demo", "--model", tiny_model]
    one_line_error(capsys, [*ros_demo, "--task", "ab", "--demo-file", tmp_path / "none.h5"],
                   f"--demo-file {tmp_path / 'none.h5'}: no such file")
    one_line_error(capsys, [*ros_demo, "--task", "abc", "--demo-file", ab_demo_file],
                   "demo 0 shows 'ab' (2 blocks) but --task 'abc' has 3; pass a "
                   "demonstration with 3 blocks")
    one_line_error(capsys, [*ros_demo, "--task", "ab", "--demo-file", ab_demo_file,
                            "--demo-index", "5"],
                   f"--demo-index 5: {ab_demo_file} holds 1 demonstration; use 0..0")
    one_line_error(capsys, ["ros-demo", "--model", tmp_path / "no_model", "--task", "ab"],
                   "no trained model at")


# --- child processes, read from /proc -----------------------------------------------------------
def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat fields after the command name (state first), or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _node_children(parent: int) -> dict[int, str]:
    """pid -> start time of each node process whose parent is `parent`."""
    nodes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = _stat(int(entry.name))
        if fields and int(fields[1]) == parent and NODE_MODULE in cmdline:
            nodes[int(entry.name)] = fields[19]  # starttime: tells a reused pid apart
    return nodes


def _alive(pid: int, start: str) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[19] == start and fields[0] not in "ZX"  # zombie: dead


def _wait(predicate, timeout_s: float, what: str):
    end = time.monotonic() + timeout_s
    while not (result := predicate()):
        if time.monotonic() > end:
            raise TimeoutError(f"no {what} within {timeout_s} s")
        time.sleep(0.2)
    return result


def _rclpy_loaded(pid: int) -> bool:
    """The node got as far as rclpy (its own signal handlers), not just the interpreter."""
    try:
        return "rclpy" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
def test_a_sigkilled_ros_demo_leaves_no_orphan_nodes(tmp_path, tiny_model, ab_demo_file):
    pytest.importorskip("rclpy")
    # ros-demo runs its nodes on a ROS_DOMAIN_ID of its own (launcher.unique_domain_id)
    parent = subprocess.Popen(
        [sys.executable, "-m", "oneshot_ros.cli", "ros-demo", "--model", str(tiny_model),
         "--task", "ab", "--demo-file", str(ab_demo_file), "--episodes", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nodes: dict[int, str] = {}
    try:
        nodes = _wait(lambda: (found := _node_children(parent.pid)) and len(found) == 2 and found,
                      120, "sim_driver and imitator processes")
        assert all(os.getpgid(pid) == pid for pid in nodes)  # each leads its own group
        _wait(lambda: all(_rclpy_loaded(pid) for pid in nodes), 120, "rclpy in the nodes")
        parent.kill()  # SIGKILL: ros-demo's own cleanup never runs
        parent.wait(10)
        _wait(lambda: not any(_alive(pid, start) for pid, start in nodes.items()), 10,
              "end of the orphaned nodes")
    finally:
        parent.kill()
        for pid, start in nodes.items():  # a failed test leaves nothing running either
            if _alive(pid, start):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_active_imitator_stopped_from_outside_exits_0_cleanly(ros_session, tiny_model,
                                                                ab_demo_file, signum):
    """While it commands the arm: it unloads on the way out, exit 0, no traceback and no
    logging into the closed rclpy context."""
    from fake_robot import FakeRobot
    from lifecycle_msgs.srv import GetState

    ros_session.start("imitator", {"model": str(tiny_model), "demo_file": str(ab_demo_file)})
    ros_session.wait_for_service("/imitator/get_state", GetState)
    robot = FakeRobot(ros_session)
    ros_session.lifecycle("imitator", "configure", "activate")
    ros_session.wait_until(lambda: (robot.run(0.25), robot.arm)[1], 60, "commands")
    proc = ros_session.nodes.procs["imitator"]
    proc.send_signal(signum)
    assert proc.wait(30) == 0
    log = ros_session.nodes.log("imitator")
    assert "Traceback" not in log and "context is invalid" not in log, log
