"""oneshot-ros ros-record: demonstrations over ROS 2 (sim driver + scripted expert + recorder).

    oneshot-ros ros-record --task "ab cd" --episodes 3 --out demos/ros.h5 [--seed 0] \
        [--time-scale 3] [--json]

The no-launch twin of `ros2 launch oneshot_ros sim_record.launch.py`: the three nodes run as
child processes with config/<node>.yaml on a private ROS_DOMAIN_ID; episode k (seed S + k) is
reset, recorded and stopped through the nodes' services, and appended to --out in the format
`oneshot-ros collect` writes (source "ros"). Node logs go to <out>.logs/.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from oneshot_ros.commands._args import (
    Once,
    check_output_file,
    positive_float,
    positive_int,
    seed_int,
)


def add_arguments(parser):
    parser.add_argument("--task", required=True, action=Once,
                        help='task string, e.g. "ab cd"')
    parser.add_argument("--episodes", type=positive_int, default=1)
    parser.add_argument("--out", required=True, help="HDF5 file; episodes are appended")
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of the first episode")
    parser.add_argument("--time-scale", type=positive_float, default=3.0,
                        help="sim speed vs wall clock (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from oneshot_ros.world.tasks import parse_task

    task = parse_task(args.task)
    out = check_output_file("--out", args.out).resolve()  # before ROS loads and nodes start

    from tqdm import tqdm

    from oneshot_ros.nodes.session import SimSession

    start, results = time.perf_counter(), []
    with SimSession(out.with_name(out.name + ".logs")) as session:
        _start_nodes(session, task.string, args.seed, out, args.time_scale)
        for k in tqdm(range(args.episodes), desc=f"ros-record {task}", unit="ep",
                      disable=args.json):
            results.append(_record(session, args.seed + k))
    successes = sum(r["success"] for r in results)
    summary = {"task": task.string, "episodes": args.episodes, "successes": successes,
               "out": str(out), "per_episode": results,
               "wall_s": round(time.perf_counter() - start, 3)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{task}: recorded {args.episodes} episodes ({successes} successful) to {out}")
    return 0


def _start_nodes(session, task: str, seed: int, out: Path, time_scale: float) -> None:
    session.start("sim_driver", {"task": task, "seed": seed, "real_time": False,
                                 "time_scale": time_scale})
    session.start("scripted_expert", {"task": task, "seed": seed})
    session.start("demo_recorder", {"task": task, "seed": seed, "out": str(out)})
    for service in ("/sim_driver/status", "/demo_recorder/discard_episode"):
        session.wait_for_service(service)


def _record(session, seed: int) -> dict:
    session.ros.set_params("demo_recorder", {"seed": seed})
    session.reset(seed)
    session.wait_steps(2)  # commands computed before the reset have passed
    ok, message = session.ros.trigger("/demo_recorder/start_episode")
    if not ok:
        raise RuntimeError(f"demo_recorder refused to start: {message}")
    status = session.run_until_done(max_wall_s=600)
    ok, message = session.ros.trigger("/demo_recorder/stop_episode")
    if not ok:
        raise RuntimeError(f"demo_recorder could not write the episode: {message}")
    return {"seed": seed, "steps": status["step"], "success": status["success"],
            "outcome": status["outcome"], "recorder": message}
