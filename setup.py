"""oneshot_ros: an ament_python package that also installs with plain `pip install -e .`."""

import os
import re
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "oneshot_ros"
# Installed with the package: the default model only (weights, config, README); the others,
# their optimizer states, evaluations and videos stay in the repository for reproduction. Read
# as text from its one definition: importing the package would need torch at build time.
SHIPPED = Path(__file__).resolve().parent / PACKAGE / "policy" / "shipped.py"
DEFAULT_MODEL = re.search(r'^DEFAULT_MODEL = "([^"]+)"$', SHIPPED.read_text(),
                          re.MULTILINE).group(1)
MODEL_FILES = ("config.json", "model.safetensors", "README.md")
NODES = ["sim_driver", "scripted_expert", "demo_recorder", "imitator", "gripper_action_bridge",
         "trajectory_action_bridge"]


def tree(src):
    """data_files entries that install every file under `src` to share/oneshot_ros/src."""
    entries = []
    for root, _, files in os.walk(src):
        if files:
            entries.append((os.path.join("share", PACKAGE, root),
                            [os.path.join(root, f) for f in files]))
    return entries


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*", "bench"]),
    package_data={PACKAGE: ["assets/*.urdf"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
        (os.path.join("share", PACKAGE, "launch"), glob("launch/*launch.py")),
        (os.path.join("share", PACKAGE, "urdf"), glob("oneshot_ros/assets/*.urdf")),
        *tree("config"),
        (os.path.join("share", PACKAGE, DEFAULT_MODEL),
         [os.path.join(DEFAULT_MODEL, f) for f in MODEL_FILES]),
    ],
    # torch is deliberately not listed: install `torch==2.13.0` first (a bare requirement pulls a
    # multi-GB CUDA build on our machines). ROS packages come from the ROS install or PyPI wheels.
    install_requires=[
        "setuptools",
        "numpy",
        "pyyaml",
        "pybullet>=3.2.6",
        "pin>=2.7",
        "h5py",
        "safetensors",
        "imageio[ffmpeg]",
        "matplotlib",
        "tqdm",
    ],
    extras_require={
        "ros": [
            "ros-rclpy[fastrtps]", "ros-sensor-msgs", "ros-trajectory-msgs", "ros-geometry-msgs",
            "ros-std-msgs", "ros-std-srvs", "ros-visualization-msgs", "ros-rosgraph-msgs",
        ],
        "test": ["pytest", "ruff"],
        "bench": ["gymnasium-robotics", "mujoco<3.12"],  # MuJoCo Fetch speed comparison
    },
    zip_safe=True,
    maintainer="oneshot_ros maintainers",
    maintainer_email="oneshot-ros@example.org",
    description="One-Shot Imitation Learning for ROS 2 block stacking with a Fetch arm",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "oneshot-ros = oneshot_ros.cli:main",
            *[f"{n} = oneshot_ros.nodes.{n}:main" for n in NODES],
        ],
    },
)
