"""A battery of hostile inputs against the real CLI and real node processes.

    python bench/hostile_inputs.py [--json bench/results/hostile_inputs.json]

Each case runs `oneshot-ros ...` or a node (`python -m oneshot_ros.nodes.X --ros-args -p ...`)
as its own process on its own ROS_DOMAIN_ID and checks what a user must see: the exit status
the case expects (2 for bad input), no traceback, one stderr line (argparse's usage block before
it and progress bars are not counted), and for data cases that the input file is unchanged.
Prints one row per case and the count that held; exits 1 when any did not. Fixtures (a small
demo file, damaged copies, a PNG, bad world configs, a model whose outputs overflow) are made in
a temporary directory first (~20 s); the whole battery takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROGRESS = re.compile(r"\d+%\|")  # a tqdm bar: "train:  33%|###   | 1/3 [...]"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


@dataclass
class Result:
    case: str
    held: bool
    exit_code: int
    seconds: float
    why: str
    stderr_tail: str


def fixtures(tmp: Path) -> dict[str, Path]:
    """Files the cases need, all under tmp."""
    import h5py

    demos = tmp / "demos.h5"
    run_cli(["collect", "--tasks", str(_write(tmp / "tasks.txt", "ab\nab c\n")),
             "--demos-per-task", "3", "--workers", "1", "--out", str(demos)])
    huge = _copy(demos, tmp / "huge.h5")
    with h5py.File(huge, "r+") as h5:
        h5["data/demo_0/obs"][3, 0] = 3e38  # finite garbage: trained to NaN before
    one_each = tmp / "one_each.h5"
    run_cli(["collect", "--tasks", str(_write(tmp / "one.txt", "ab\nabc\n")),
             "--demos-per-task", "1", "--workers", "1", "--out", str(one_each)])
    run_dir = tmp / "metrics_run"
    run_dir.mkdir()
    _write(run_dir / "metrics.jsonl", '{"iteration": 1, "loss": 1.0}\n{"iteration": 2, "lo\n')
    return {
        "demos": demos, "huge": huge, "one_each": one_each, "png": _bytes(tmp / "x.png", PNG),
        "world_block0": _write(tmp / "w0.yaml", "block_size_m: 0\n"),
        "world_table": _write(tmp / "w1.yaml", "table_x_m: [1.0, 0.3]\n"),
        "world_physics": _write(tmp / "w2.yaml", "physics_hz: -240\n"),
        "world_control0": _write(tmp / "w3.yaml", "control_hz: 0\n"),
        "world_crowded": _write(tmp / "w4.yaml", "spawn_min_distance_m: 5.0\n"),
        "train_nan_lr": _write(tmp / "t1.yaml", "lr: .nan\niterations: 2\n"),
        "train_threads": _write(tmp / "t2.yaml", "torch_threads: -1\niterations: 2\n"),
        "train_huge_lr": _write(tmp / "t3.yaml", _tiny_train("lr: 1.0e+30")),
        "train_tiny": _write(tmp / "t4.yaml", _tiny_train()),
        "overflow_model": _overflowing_model(tmp / "overflow_model"),
        "metrics_run": run_dir, "file": _write(tmp / "a_file", "not a directory\n"),
        "finished_run": tmp / "finished_run",
    }


def _tiny_train(extra: str = "") -> str:
    return ("iterations: 3\ntasks_per_batch: 2\npairs_per_task: 2\nval_every: 2\n"
            "checkpoint_every: 1\nval_batches: 1\npolicy:\n  embed_dim: 8\n  n_heads: 1\n"
            "  dilations: [1]\n  lstm_steps: 1\n  mlp_hidden: [8]\n  ensemble_size: 1\n"
            f"{extra}\n")


def _overflowing_model(path: Path) -> Path:
    """Finite weights (the checkpoint loads) whose actions overflow to NaN/inf: the tests'."""
    sys.path.insert(0, str(ROOT / "test"))
    from policy_data import overflowing_model

    return overflowing_model(path)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _copy(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes())
    return target


def run_cli(argv: list[str], timeout_s: float = 300.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "oneshot_ros.cli", *argv], cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout_s, env=_env())


def _env() -> dict[str, str]:
    from oneshot_ros.nodes.launcher import ros_environment, unique_domain_id

    return ros_environment(unique_domain_id())


def cli_cases(f: dict[str, Path], tmp: Path) -> list[tuple[str, list[str], int, Path | None]]:
    """(name, argv, expected exit, file that must stay unchanged)."""
    demos, png = str(f["demos"]), str(f["png"])
    out = str(tmp / "out")
    return [
        ("demonstrate --config PNG", ["demonstrate", "--task", "ab", "--config", png], 2, None),
        ("collect --tasks PNG", ["collect", "--tasks", png, "--out", out + ".h5"], 2, None),
        ("train --config PNG", ["train", "--config", png, "--data", demos, "--out", out], 2,
         f["demos"]),
        ("dagger --config PNG", ["dagger", "--config", png, "--model", out, "--tasks",
                                 str(tmp / "tasks.txt"), "--out", out], 2, None),
        ("eval --tasks PNG", ["eval", "--model", "models/bc_all_stages", "--tasks", png,
                              "--out", out], 2, None),
        ("demonstrate --seed -1", ["demonstrate", "--task", "ab", "--seed", "-1"], 2, None),
        ("particle --seed -1", ["particle", "--seed", "-1"], 2, None),
        ("ros-demo --seed -1", ["ros-demo", "--seed", "-1"], 2, None),
        ("ros-record --seed -1", ["ros-record", "--task", "ab", "--seed", "-1", "--out",
                                  out + ".h5"], 2, None),
        *[(f"demonstrate world {k}", ["demonstrate", "--task", "ab", "--config", str(f[k])], 2,
           None) for k in ("world_block0", "world_table", "world_physics", "world_control0",
                           "world_crowded")],
        ("collect, no room for blocks", ["collect", "--tasks", str(tmp / "tasks.txt"),
                                         "--config", str(f["world_crowded"]), "--out",
                                         out + "_crowded.h5"], 2, None),
        ("replay --every 1e9", ["replay", demos, "--every", "1000000000", "--out",
                                out + ".mp4"], 2, f["demos"]),
        ("info on 3e38 obs", ["info", str(f["huge"]), "--json"], 2, f["huge"]),
        ("replay 3e38 obs", ["replay", str(f["huge"]), "--out", out + ".gif"], 2, f["huge"]),
        ("train on 3e38 obs", ["train", "--config", str(f["train_tiny"]), "--data",
                               str(f["huge"]), "--out", out + "_huge"], 2, f["huge"]),
        ("train lr nan", ["train", "--config", str(f["train_nan_lr"]), "--data", demos,
                          "--out", out + "_nan"], 2, None),
        ("train torch_threads -1", ["train", "--config", str(f["train_threads"]), "--data",
                                    demos, "--out", out + "_thr"], 2, None),
        ("train lr 1e30", ["train", "--config", str(f["train_huge_lr"]), "--data", demos,
                           "--out", out + "_lr"], 2, None),
        ("train < 2 demos per task", ["train", "--config", str(f["train_tiny"]), "--data",
                                      str(f["one_each"]), "--out", out + "_one"], 2, None),
        ("train a finished run", ["train", "--config", str(f["train_tiny"]), "--data", demos,
                                  "--out", str(f["finished_run"])], 2, None),
        ("train --out ''", ["train", "--config", str(f["train_tiny"]), "--data", demos,
                            "--out", ""], 2, None),
        ("eval --out ''", ["eval", "--model", "models/bc_all_stages", "--task", "ab",
                           "--out", ""], 2, None),
        ("eval overflowing model", ["eval", "--model", str(f["overflow_model"]), "--task", "ab",
                                    "--episodes", "1", "--no-demo-baseline", "--out",
                                    out + "_eval"], 2, None),
        ("ros-demo --time-scale nan", ["ros-demo", "--time-scale", "nan"], 2, None),
        ("ros-demo missing --demo-file", ["ros-demo", "--demo-file", str(tmp / "no.h5")], 2,
         None),
        ("ros-record --out /proc/x.h5", ["ros-record", "--task", "ab", "--out", "/proc/x.h5"],
         2, None),
        ("eval --ros --time-scale nan", ["eval", "--ros", "--model", "models/bc_all_stages",
                                         "--task", "ab", "--time-scale", "nan", "--out",
                                         out + "_ros"], 2, None),
    ]


def module_cases(f: dict[str, Path], tmp: Path) -> list[tuple[str, list[str], int, Path | None]]:
    """The figure tools run as modules: (name, argv after `python -m`, expected exit, file)."""
    evals = "models/bc_all_stages/eval_it6000_test10"
    compare = ["oneshot_ros.evaluate.compare", evals, "--out"]
    return [
        ("compare --out c.txt", [*compare, str(tmp / "c.txt")], 2, None),
        ("compare --out under a file", [*compare, str(f["file"] / "c.png")], 2, None),
        ("campaign, broken metrics line", ["oneshot_ros.train.campaign", str(f["metrics_run"])],
         2, f["metrics_run"] / "metrics.jsonl"),
    ]


NODE_CASES = [  # (node, parameter, value)
    ("sim_driver", "max_joint_velocity_rad_s", -1.0), ("sim_driver", "time_scale", 0.0),
    ("sim_driver", "time_scale", -1.0), ("sim_driver", "command_timeout_s", 0.0),
    ("sim_driver", "max_lead_periods", 0.1), ("sim_driver", "control_rate_hz", 10.0),
    ("sim_driver", "video_every_steps", -3), ("sim_driver", "seed", -1),
    ("sim_driver", "task", "abk"), ("sim_driver", "world_config", "/missing.yaml"),
    ("imitator", "max_joint_velocity_rad_s", -0.5), ("imitator", "max_joint_velocity_rad_s",
                                                     -100.0),
    ("imitator", "trajectory_periods", 0.0), ("imitator", "trajectory_periods", 5.0),
    ("imitator", "marker_every_steps", 0), ("imitator", "stale_timeout_s", -1.0),
    ("imitator", "torch_threads", 0), ("scripted_expert", "noise_std", -0.1),
    ("scripted_expert", "noise_std", math.nan), ("scripted_expert", "seed", -1),
    ("scripted_expert", "task", "abk"), ("demo_recorder", "world_config", "/missing.yaml"),
    ("demo_recorder", "teleop_max_step_m", 1.0), ("demo_recorder", "out", ""),
]


def run_case(name: str, command: list[str], expected: int, keep: Path | None,
             timeout_s: float = 300.0) -> Result:
    before = _digest(keep)
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, text=True, capture_output=True,
                              timeout=timeout_s, env=_env())
        code, err = done.returncode, done.stderr
    except subprocess.TimeoutExpired:
        code, err = -1, f"no answer within {timeout_s} s"
    seconds = time.perf_counter() - start
    lines = _message_lines(err)
    why = []
    if code != expected:
        why.append(f"exit {code}, expected {expected}")
    if "Traceback" in err:
        why.append("traceback")
    if expected and len(lines) > 1:
        why.append(f"{len(lines)} stderr lines")
    if keep is not None and _digest(keep) != before:
        why.append(f"{keep.name} changed")
    return Result(name, not why, code, round(seconds, 1), "; ".join(why),
                  lines[-1][:160] if lines else "")


def _message_lines(err: str) -> list[str]:
    """stderr without tqdm's progress bars and without argparse's usage block, which comes before
    its one error line."""
    lines = [line for line in err.split("\n") if line.strip() and not PROGRESS.search(line)]
    if lines and lines[0].startswith("usage:"):
        lines = [line for line in lines if ": error: " in line]
    return lines


def _digest(path: Path | None) -> str | None:
    if path is None or not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def node_command(node: str, name: str, value) -> list[str]:
    text = "nan" if isinstance(value, float) and math.isnan(value) else json.dumps(value)
    return [sys.executable, "-m", f"oneshot_ros.nodes.{node}", "--ros-args", "-p",
            f"{name}:={text}"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp_name:
        tmp = Path(tmp_name)
        f = fixtures(tmp)
        run_cli(["train", "--config", str(f["train_tiny"]), "--data", str(f["demos"]),
                 "--out", str(f["finished_run"])])
        results = [run_case(name, [sys.executable, "-m", "oneshot_ros.cli", *cmd], code, keep)
                   for name, cmd, code, keep in cli_cases(f, tmp)]
        results += [run_case(name, [sys.executable, "-m", *cmd], code, keep)
                    for name, cmd, code, keep in module_cases(f, tmp)]
        results += [run_case(f"{node} {name}={value}", node_command(node, name, value), 2, None,
                             timeout_s=60) for node, name, value in NODE_CASES]
    for r in results:
        print(f"{'held' if r.held else 'FAILED':6}  {r.case:40}  exit {r.exit_code:3}  "
              f"{r.seconds:6.1f} s  {r.why or r.stderr_tail}")
    held = sum(r.held for r in results)
    print(f"{held}/{len(results)} held")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    return 0 if held == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
