"""Execution parity: does an action move the arm the same way over ROS as in StackingEnv?

    python bench/ros_parity.py [--tasks "bae d c" "ibc fhgea dj"] [--seeds 0 1] \
        [--time-scale 1.0] [--expert-param trajectory_periods=1.5] \
        [--out bench/results/ros_parity.json]

The noise-free scripted demonstrator (deterministic in the state it sees) builds each task from
the same start layout twice: in StackingEnv (env.step), and over ROS 2 (sim_driver +
scripted_expert as real processes over DDS, the same command path as the imitator node). This
process listens to /joint_states and the arm commands. Reported per episode and pooled:
  steps:  control steps until the goal holds (the same settle rule); ratio ROS / sim;
  move ratio: sum over steps of (achieved gripper displacement . commanded direction) /
          sum |commanded displacement|, commanded = FK(joint command) - FK(measured joints the
          command was computed from), achieved = FK(next measured) - FK(measured), steps with a
          commanded move > 2 mm (the aim: ROS / sim >= 0.95, step counts within 10 %);
  missed: control periods without a fresh command while the expert commanded (sim_driver
          ~/status), which a --time-scale too fast for the machine produces.
--expert-param / --driver-param KEY=VALUE override the command and driver parameters (the
expert shares the imitator's command path: trajectory_periods, max_joint_velocity_rad_s).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from oneshot_ros.evaluate.parity import ros_result, sim_expert_episode  # noqa: E402


def ros_episode(task: str, seed: int, time_scale: float, expert_params: dict,
                driver_params: dict) -> dict:
    from oneshot_ros.nodes.parity import ros_expert_episode
    from oneshot_ros.nodes.session import SimSession

    with SimSession(Path(tempfile.mkdtemp(prefix="ros-parity-")) / "logs") as session:
        return ros_result(*ros_expert_episode(session, task, seed, time_scale,
                                              expert_params, driver_params))


def parse_params(items: list[str]) -> dict:
    params = {}
    for item in items:
        key, _, value = item.partition("=")
        params[key] = json.loads(value) if value[:1] in "0123456789-tf[" else value
    return params


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["bae d c", "ibc fhgea dj"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--expert-param", action="append", default=[])
    parser.add_argument("--driver-param", action="append", default=[])
    parser.add_argument("--out")
    args = parser.parse_args()
    imitator, driver = parse_params(args.expert_param), parse_params(args.driver_param)
    rows = []
    for task in args.tasks:
        for seed in args.seeds:
            sim = sim_expert_episode(task, seed)
            ros = ros_episode(task, seed, args.time_scale, imitator, driver)
            row = {"task": task, "seed": seed, "sim": sim, "ros": ros,
                   "steps_ratio": ros["steps"] / sim["steps"],
                   "move_ratio_ros_over_sim": ros["move_ratio"] / sim["move_ratio"]}
            rows.append(row)
            print(f"{task!r} seed {seed}: steps sim {sim['steps']} ros {ros['steps']} "
                  f"(x{row['steps_ratio']:.2f}); move ratio sim {sim['move_ratio']:.3f} ros "
                  f"{ros['move_ratio']:.3f} (x{row['move_ratio_ros_over_sim']:.3f}); missed "
                  f"{ros['missed_periods']}, late {ros['late_commands']}; success sim "
                  f"{sim['success']} ros {ros['success']}",
                  flush=True)
    result = {"time_scale": args.time_scale, "expert_params": imitator,
              "driver_params": driver, "load_average": os.getloadavg(), "episodes": rows,
              "steps_ratio_mean": float(np.mean([r["steps_ratio"] for r in rows])),
              "move_ratio_mean": float(np.mean([r["move_ratio_ros_over_sim"] for r in rows])),
              "date": time.strftime("%Y-%m-%d %H:%M")}
    print(f"mean: steps x{result['steps_ratio_mean']:.3f}, move ratio "
          f"x{result['move_ratio_mean']:.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
