"""Every console script setup.py installs for a node has a module with main(), and a node
stopped with Ctrl-C (SIGINT) exits 0 without a traceback."""

import ast
import importlib
import signal
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def setup_nodes() -> list[str]:
    tree = ast.parse((REPO / "setup.py").read_text())
    return next(ast.literal_eval(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
                and any(getattr(t, "id", None) == "NODES" for t in n.targets))


@pytest.mark.parametrize("name", setup_nodes())
def test_node_module_has_main_and_a_usage_docstring(name):
    pytest.importorskip("rclpy")
    module = importlib.import_module(f"oneshot_ros.nodes.{name}")
    assert callable(module.main)
    assert f"oneshot_ros.nodes.{name}" in module.__doc__  # how to run it without launch


@pytest.mark.parametrize("name", ["sim_driver", "scripted_expert", "demo_recorder", "imitator"])
def test_ctrl_c_stops_a_node_cleanly(name, tmp_path):
    pytest.importorskip("rclpy")
    from rcl_interfaces.srv import ListParameters

    from oneshot_ros.nodes.client import RosClient
    from oneshot_ros.nodes.launcher import node_command, ros_environment, unique_domain_id

    domain = unique_domain_id()
    params = {"out": str(tmp_path / "demos.h5")} if name == "demo_recorder" else {}
    proc = subprocess.Popen(node_command(name, params), env=ros_environment(domain),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with RosClient(domain) as ros:  # up = its parameter services answer (every node has them)
        client = ros.node.create_client(ListParameters, f"/{name}/list_parameters")
        end = time.monotonic() + 60
        while not client.wait_for_service(timeout_sec=0.5):
            assert proc.poll() is None and time.monotonic() < end, proc.communicate()[0]
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0 and "Traceback" not in output, output
