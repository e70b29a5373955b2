"""The ament_python package: package.xml, resource marker, setup.py data files, core boundary."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from oneshot_ros.policy.shipped import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "oneshot_ros"
REQUIRED_EXEC_DEPENDS = {
    "rclpy", "sensor_msgs", "geometry_msgs", "trajectory_msgs", "std_msgs", "std_srvs",
    "visualization_msgs", "rosgraph_msgs", "ament_index_python", "launch", "launch_ros",
    "python3-numpy", "python3-yaml", "python3-pybullet-pip", "python3-pytorch-pip",
}
NODES = {"sim_driver", "scripted_expert", "demo_recorder", "imitator", "gripper_action_bridge",
         "trajectory_action_bridge"}


def setup_kwargs() -> dict:
    """Run setup.py in a fresh interpreter with setup() capturing its keyword arguments."""
    code = (
        "import json, runpy, setuptools\n"
        "captured = {}\n"
        "setuptools.setup = lambda **kw: captured.update(kw)\n"
        "runpy.run_path('setup.py')\n"
        "print(json.dumps({k: captured[k] for k in ('name', 'data_files', 'entry_points')}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def installed_files(kwargs: dict) -> dict[str, set[str]]:
    """Install folder -> source files, from setup.py's data_files."""
    return {dest: set(files) for dest, files in kwargs["data_files"]}


def test_package_xml_is_format_3_ament_python_with_exec_depends():
    root = ET.parse(REPO / "package.xml").getroot()
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == PACKAGE
    assert root.findtext("export/build_type") == "ament_python"
    exec_depends = {e.text for e in root.findall("exec_depend")}
    assert REQUIRED_EXEC_DEPENDS <= exec_depends, REQUIRED_EXEC_DEPENDS - exec_depends
    assert root.findtext("version") == __import__(PACKAGE).__version__


def test_resource_marker_exists_and_is_empty():
    marker = REPO / "resource" / PACKAGE
    assert marker.is_file() and marker.read_text().strip() == ""


def test_setup_installs_marker_manifest_launch_config_models_urdf():
    kwargs = setup_kwargs()
    files = installed_files(kwargs)
    share = f"share/{PACKAGE}"
    assert f"resource/{PACKAGE}" in files["share/ament_index/resource_index/packages"]
    assert "package.xml" in files[share]
    assert {p.relative_to(REPO).as_posix() for p in (REPO / "launch").glob("*.launch.py")} \
        <= files[f"{share}/launch"]
    assert f"{PACKAGE}/assets/fetch.urdf" in files[f"{share}/urdf"]
    every_installed = set().union(*files.values())
    for path in (REPO / "config").rglob("*"):  # every config file is installed under share/
        if path.is_file() and not path.name.startswith("."):
            assert path.relative_to(REPO).as_posix() in every_installed, path
    # the default model the launch files load, and nothing else of models/ (a lean install)
    models = {f for f in every_installed if f.startswith("models/")}
    assert models == {f"{DEFAULT_MODEL}/{name}"
                      for name in ("config.json", "model.safetensors", "README.md")}
    assert files[f"{share}/{DEFAULT_MODEL}"] == models


def test_every_default_names_the_one_shipped_model():
    """ros-demo, the imitator's YAML, the pip bring-up and the launch file default to the model
    setup.py installs (policy/shipped.py), and that model loads."""
    import argparse

    import yaml

    from oneshot_ros.commands import ros_demo
    from oneshot_ros.nodes.bringup import BRINGUPS
    from oneshot_ros.policy import checkpoint

    assert (REPO / DEFAULT_MODEL / "model.safetensors").is_file()
    checkpoint.load(REPO / DEFAULT_MODEL)
    parser = argparse.ArgumentParser()
    ros_demo.add_arguments(parser)
    assert parser.parse_args([]).model == DEFAULT_MODEL
    params = yaml.safe_load((REPO / "config" / "imitator.yaml").read_text())
    assert params["/**/imitator"]["ros__parameters"]["model"] == DEFAULT_MODEL
    arguments = {a.name: a.default for a in BRINGUPS["fetch_imitate"][0]}
    assert arguments["model"] == DEFAULT_MODEL
    launch = (REPO / "launch" / "sim_imitate.launch.py").read_text()
    folder, name = DEFAULT_MODEL.split("/")
    assert f'[FindPackageShare(PACKAGE), "{folder}", "{name}"]' in launch


def test_setup_console_scripts_name_the_nodes_and_the_cli():
    scripts = setup_kwargs()["entry_points"]["console_scripts"]
    targets = dict(s.replace(" ", "").split("=") for s in scripts)
    assert targets["oneshot-ros"] == "oneshot_ros.cli:main"
    for node in NODES:
        assert targets[node] == f"oneshot_ros.nodes.{node}:main"


def test_setup_cfg_puts_scripts_where_ros2_run_looks():
    text = (REPO / "setup.cfg").read_text()
    assert f"script_dir=$base/lib/{PACKAGE}" in text
    assert f"install_scripts=$base/lib/{PACKAGE}" in text


def test_core_never_imports_rclpy():
    """Import every module outside oneshot_ros.nodes in a fresh interpreter: no rclpy loaded."""
    code = (
        "import importlib, json, pkgutil, sys, oneshot_ros\n"
        "names = [m.name for m in pkgutil.walk_packages(oneshot_ros.__path__, 'oneshot_ros.')\n"
        "         if not m.name.startswith('oneshot_ros.nodes')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps({'modules': names, 'rclpy': 'rclpy' in sys.modules,\n"
        "                  'ros': sorted(m for m in sys.modules if m.endswith('_msgs'))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert {"oneshot_ros.world.tasks", "oneshot_ros.cli"} <= set(result["modules"])
    assert not result["rclpy"], "a core module imports rclpy; only oneshot_ros/nodes/ may"
    assert not result["ros"], f"core modules import ROS messages: {result['ros']}"
