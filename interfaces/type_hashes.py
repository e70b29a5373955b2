"""Compute the RIHS01 type hashes of control_msgs interface files with rosidl's own hashing.

Maintainer tool (not run by the installer or CI): it converts the .msg/.action files to IDL with
rosidl_adapter and hashes them with rosidl_generator_type_description, the same code that
`rosidl_generate_interfaces` runs, against the dependencies' type descriptions installed by the
ROS wheels (<venv>/share/<pkg>/msg/*.json). Use it on an upstream control_msgs checkout to refresh
test/test_control_msgs_interface.py's recorded hashes, or on interfaces/control_msgs to compare:

    .venv/bin/python interfaces/type_hashes.py <dir with action/ and msg/> [--json]
"""

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

INTERFACES = [
    "action/FollowJointTrajectory.action",
    "action/GripperCommand.action",
    "action/ParallelGripperCommand.action",
    "msg/GripperCommand.msg",
    "msg/JointComponentTolerance.msg",
    "msg/JointTolerance.msg",
]
DEPENDENCIES = ["action_msgs", "builtin_interfaces", "geometry_msgs", "sensor_msgs",
                "service_msgs", "std_msgs", "trajectory_msgs", "unique_identifier_msgs"]


def type_hashes(source_dir: Path, package: str = "control_msgs") -> dict:
    """{type name: RIHS01 string} for every type the INTERFACES define (Goal, Feedback... too)."""
    from rosidl_adapter import convert_to_idl
    from rosidl_generator_type_description import generate_type_hash

    share = Path(sys.prefix) / "share"
    with tempfile.TemporaryDirectory() as tmp:
        idl_dir, out_dir = Path(tmp) / "idl", Path(tmp) / "out"
        tuples = []
        for rel in INTERFACES:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints every file it converts
                idl = convert_to_idl(source_dir, package, Path(rel), idl_dir)
            tuples.append(f"{idl_dir}:{idl.relative_to(idl_dir)}")
        args = {"package_name": package, "output_dir": str(out_dir), "idl_tuples": tuples,
                "include_paths": [f"{dep}:{share / dep}" for dep in DEPENDENCIES]}
        args_file = Path(tmp) / "args.json"
        args_file.write_text(json.dumps(args))
        hashes = {}
        for path in generate_type_hash(str(args_file)):
            for entry in json.loads(Path(path).read_text())["type_hashes"]:
                if entry["type_name"].startswith(package + "/"):
                    hashes[entry["type_name"]] = entry["hash_string"]
    return dict(sorted(hashes.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", type=Path, help="a directory holding action/ and msg/")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    hashes = type_hashes(args.source_dir.resolve())
    if args.json:
        print(json.dumps(hashes, indent=2))
    else:
        for name, value in hashes.items():
            print(f"{name} {value}")


if __name__ == "__main__":
    main()
