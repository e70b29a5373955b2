"""Every console script setup.py installs for a node has a module with main()."""

import ast
import importlib
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
    source = Path(module.__file__).read_text()
    assert "run_node(" in source  # the shared main: one-line parameter errors, clean shutdown
    shared = Path(module.__file__).with_name("common.py").read_text()
    assert "rclpy.try_shutdown()" in shared and "ExternalShutdownException" in shared
