"""Install interfaces/control_msgs into the venv whose Python runs this script (no ROS install).

    .venv/bin/python interfaces/install_control_msgs.py        # after pip install -e ".[ros]"

Run it after the ROS wheels (`pip install -e ".[ros]"`): the package is generated and compiled
against them. In order, it
1. does nothing when that venv already has control_msgs built from these sources (a fraction of a
   second: <venv>/share/control_msgs/oneshot_source_hash matches and control_msgs.action imports);
2. else installs the wheel cached for these sources and this venv's ROS wheels, if there is one
   (~/.cache/oneshot_ros/wheels, or $ONESHOT_ROS_WHEEL_CACHE), in a few seconds;
3. else installs the build requirements (scikit-build-core and the ROS CMake wheels; cmake and a
   C/C++ compiler and the Python headers must be on the machine), builds the wheel with
   `pip wheel --no-build-isolation` (about half a minute on 2 cores), caches it and installs it.
Exit 0 when control_msgs is installed, 1 with one line naming the problem otherwise.
`--force` rebuilds even when a cached wheel exists.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent / "control_msgs"
DIST = "oneshot-ros-control-msgs"
# What the source hash covers (README.md only feeds the wheel's description).
SOURCES = ["pyproject.toml", "CMakeLists.txt", "package.xml", "LICENSE", "action", "msg"]
# Installed distributions the built libraries and extension modules bind to: a change of any
# version gets a new cache entry.
ABI_DISTS = [
    "ros-rclpy", "ros-rmw", "ros-fastcdr", "ros-rosidl-runtime-c", "ros-rosidl-generator-py",
    "ros-rosidl-typesupport-c", "ros-rosidl-typesupport-cpp", "ros-rosidl-typesupport-fastrtps-c",
    "ros-rosidl-typesupport-fastrtps-cpp", "ros-rosidl-typesupport-introspection-c",
    "ros-rosidl-typesupport-introspection-cpp", "ros-action-msgs", "ros-builtin-interfaces",
    "ros-geometry-msgs", "ros-sensor-msgs", "ros-service-msgs", "ros-std-msgs",
    "ros-trajectory-msgs", "ros-unique-identifier-msgs", "numpy",
]
MIN_CMAKE = (3, 20)


class InstallError(RuntimeError):
    """One line for the user: what failed and what to do."""


def source_hash() -> str:
    digest = hashlib.sha256()
    for name in SOURCES:
        path = PACKAGE_DIR / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


def dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def package_version() -> str:
    match = re.search(r'^version\s*=\s*"([^"]+)"', (PACKAGE_DIR / "pyproject.toml").read_text(),
                      re.MULTILINE)
    return match.group(1)


def build_requirements() -> list[str]:
    text = (PACKAGE_DIR / "pyproject.toml").read_text()
    block = re.search(r"^requires\s*=\s*\[(.*?)\]", text, re.MULTILINE | re.DOTALL).group(1)
    return re.findall(r'"([^"]+)"', block)


def cache_key(sources: str) -> str:
    abi = [f"{name}=={dist_version(name)}" for name in ABI_DISTS]
    parts = [sources, sys.implementation.cache_tag, platform.machine(), sysconfig.get_platform(),
             *abi]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def cache_dir() -> Path:
    if os.environ.get("ONESHOT_ROS_WHEEL_CACHE"):
        return Path(os.environ["ONESHOT_ROS_WHEEL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "oneshot_ros" / "wheels"


def run(cmd: list[str], log: Path | None = None, env: dict | None = None) -> None:
    """Run cmd; on failure raise with the tail of its output."""
    result = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    if log is not None:
        log.write_text(result.stdout)
    if result.returncode != 0:
        lines = [ln for ln in result.stdout.splitlines() if not ln.startswith("WARNING: Location")]
        tail = "\n".join(lines[-25:])
        where = f" (full log: {log})" if log is not None else ""
        raise InstallError(f"`{' '.join(cmd[:4])} ...` failed{where}:\n{tail}")


def pip(*args: str) -> list[str]:
    return [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]


def installed_hash() -> str | None:
    marker = Path(sys.prefix) / "share" / "control_msgs" / "oneshot_source_hash"
    return marker.read_text().strip() if marker.is_file() else None


def importable() -> bool:
    probe = "from control_msgs.action import FollowJointTrajectory, GripperCommand"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def check_toolchain() -> list[str]:
    """The build's machine prerequisites; returns extra pip requirements (cmake when needed)."""
    if not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")) or not any(
            shutil.which(cxx) for cxx in ("c++", "g++", "clang++")):
        raise InstallError("no C/C++ compiler on PATH: install one (Debian: apt-get install "
                           "build-essential), then run this again")
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        raise InstallError(f"no Python.h for {sys.executable}: install the Python headers "
                           "(Debian: apt-get install python3-dev), then run this again")
    cmake = shutil.which("cmake")
    if cmake:
        out = subprocess.run([cmake, "--version"], capture_output=True, text=True).stdout
        found = re.search(r"(\d+)\.(\d+)", out)
        if found and tuple(int(x) for x in found.groups()) >= MIN_CMAKE:
            return []
    return ["cmake>=3.20"]  # the PyPI cmake wheel


def build_wheel(sources: str, out_dir: Path, log: Path) -> Path:
    extra = check_toolchain()
    if dist_version("ros-rclpy") is None:
        raise InstallError('the ROS wheels are not in this venv: pip install -e ".[ros]" first')
    run(pip("install", "-q", *build_requirements(), *extra), log.with_suffix(".requirements.log"))
    prefix = sys.prefix
    env = dict(os.environ)
    for var in ("AMENT_PREFIX_PATH", "CMAKE_PREFIX_PATH"):
        env[var] = os.pathsep.join(p for p in [prefix, env.get(var, "")] if p)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
    run(pip("wheel", "--no-build-isolation", "--no-deps", "-w", str(out_dir),
            "-C", f"cmake.define.ONESHOT_SOURCE_HASH={sources}", str(PACKAGE_DIR)), log, env)
    wheels = sorted(out_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise InstallError(f"the build made {len(wheels)} wheels in {out_dir}, expected 1")
    return wheels[0]


def install_wheel(wheel: Path) -> None:
    if dist_version(DIST) is not None:  # a stale build of the same version: replace it
        run(pip("uninstall", "-y", "-q", DIST))
    run(pip("install", "-q", str(wheel)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild, ignoring the cache")
    args = parser.parse_args()
    start = time.monotonic()
    sources = source_hash()
    version = package_version()
    tag = f"control_msgs {version} ({sources[:12]})"
    if not args.force and installed_hash() == sources and importable():
        print(f"{tag}: already installed in {sys.prefix}")
        return 0

    entry = cache_dir() / f"control_msgs-{version}-{cache_key(sources)}"
    cached = sorted(entry.glob("*.whl")) if entry.is_dir() else []
    try:
        if cached and not args.force:
            install_wheel(cached[0])
            how = f"installed the cached wheel {cached[0]}"
        else:
            with tempfile.TemporaryDirectory(prefix="control_msgs_build_") as tmp:
                log = Path(tempfile.gettempdir()) / "oneshot_ros_control_msgs_build.log"
                wheel = build_wheel(sources, Path(tmp), log)
                entry.mkdir(parents=True, exist_ok=True)
                staged = entry / (wheel.name + ".part")
                shutil.copy2(wheel, staged)
                os.replace(staged, entry / wheel.name)  # atomic: no half-written cache entry
                install_wheel(entry / wheel.name)
            how = f"built and installed (wheel cached in {entry})"
        if installed_hash() != sources or not importable():
            raise InstallError("installed, but control_msgs.action does not import in "
                               f"{sys.executable}")
    except InstallError as error:
        print(f"install_control_msgs: {error}", file=sys.stderr)
        return 1
    print(f"{tag}: {how} in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
