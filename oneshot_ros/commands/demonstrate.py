"""oneshot-ros demonstrate: run the scripted demonstrator on one task.

    oneshot-ros demonstrate --task "ab cd" --episodes 5 --seed 0 [--noise 0.002] \
        [--video out.mp4] [--json]

Episode k uses seed S + k. With --json, prints one JSON object: task, episodes, successes,
success_rate, per-episode steps/success/outcome, wall seconds. --video records the first episode.
"""

from __future__ import annotations

import json
import time

from oneshot_ros.commands._args import Once, check_noise, check_video_path, positive_int, seed_int
from oneshot_ros.demos.demonstrator import DEFAULT_NOISE_STD_M


def add_arguments(parser):
    parser.add_argument("--task", required=True, action=Once,
                        help='task string, e.g. "ab cd"')
    parser.add_argument("--episodes", type=positive_int, default=1)
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of the first episode")
    parser.add_argument("--noise", type=float, default=DEFAULT_NOISE_STD_M,
                        help="action noise std, m per step (default %(default)s)")
    parser.add_argument("--video", help="write the first episode to this .mp4 or .gif")
    parser.add_argument("--config", help="WorldConfig overrides (YAML)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from tqdm import tqdm

    from oneshot_ros.config import load_yaml
    from oneshot_ros.demos.demonstrator import run_episode
    from oneshot_ros.sim.env import StackingEnv
    from oneshot_ros.utils.video import FrameRecorder, write_video
    from oneshot_ros.world.layout import check_room
    from oneshot_ros.world.tasks import parse_task
    from oneshot_ros.world.world_config import WorldConfig

    task = parse_task(args.task)
    if args.video:
        check_video_path("--video", args.video)
    world = load_yaml(WorldConfig, args.config)
    check_noise("--noise", args.noise, world.max_step_m)
    check_room(world, task.n_blocks)  # an error now, not under a progress bar
    env = StackingEnv(world)
    start, results = time.perf_counter(), []
    for k in tqdm(range(args.episodes), desc=f"demonstrate {task}", unit="ep",
                  disable=args.json):
        recorder = FrameRecorder() if (args.video and k == 0) else None
        ep = run_episode(env, task, args.seed + k, args.noise, on_step=recorder)
        if recorder:
            write_video(recorder.frames, args.video, fps=env.config.control_hz / recorder.every)
        results.append({"seed": args.seed + k, "steps": ep.length, "success": ep.success,
                        "outcome": ep.outcome, "stage_ends": ep.stage_ends})
    successes = sum(r["success"] for r in results)
    summary = {"task": task.string, "stages": task.n_stages, "episodes": args.episodes,
               "successes": successes, "success_rate": successes / args.episodes,
               "noise": args.noise, "per_episode": results,
               "wall_s": round(time.perf_counter() - start, 3)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{task}: {successes}/{args.episodes} successful "
              f"({100 * summary['success_rate']:.0f}%), {summary['wall_s']} s"
              + (f", video {args.video}" if args.video else ""))
    return 0
