"""oneshot-ros ros-demo: one-shot imitation of an unseen task, closed through ROS 2 topics.

    oneshot-ros ros-demo [--model models/stage_attention] [--task "ab cd ef"] [--episodes 3] \
        [--demo-file demos.h5 --demo-index 0] [--video ros_demo.mp4] [--json]

Starts the sim driver and the imitator as child processes (config/<node>.yaml, a private
ROS_DOMAIN_ID), gives the imitator ONE demonstration of the task (by default recorded now by the
scripted demonstrator, in the world the model was trained in: its config.json's world config;
the task defaults to the first one of config/tasks/test.txt, unseen in training), then runs
--episodes episodes from new start layouts: reset over ~/reset, activate the imitator (a
lifecycle node: configured once, activated and deactivated per episode over
/imitator/change_state), judge success from the sim. Prints the success rate (--json: one
object with task, episodes, successes, success_rate); --video writes the rendered episodes.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from oneshot_ros.commands._args import (
    Once,
    check_video_path,
    non_negative_int,
    positive_float,
    positive_int,
    seed_int,
)
from oneshot_ros.errors import InputError
from oneshot_ros.policy.shipped import DEFAULT_MODEL
from oneshot_ros.world.tasks import parse_task

TEST_TASKS = Path(__file__).resolve().parents[2] / "config" / "tasks" / "test.txt"
DEMO_SEED_OFFSET = 100_000  # the demonstration's layout differs from every evaluated episode


def add_arguments(parser):
    parser.add_argument("--model", default=DEFAULT_MODEL, help="checkpoint directory")
    parser.add_argument("--task", action=Once,
                        help="task string (default: first of config/tasks/test.txt)")
    parser.add_argument("--episodes", type=positive_int, default=3)
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of the first episode")
    parser.add_argument("--demo-file", help="take the demonstration from this HDF5 file")
    parser.add_argument("--demo-index", type=non_negative_int, default=0)
    parser.add_argument("--time-scale", type=positive_float, default=1.0,
                        help="sim speed vs wall clock (default %(default)s: real time, as on "
                        "the robot); faster only if the imitator keeps up: on a busy 2-core "
                        "machine 2.0 made it miss control periods and time out")
    parser.add_argument("--max-steps", type=positive_int,
                        help="end an episode after this many steps (default: the task's horizon)")
    parser.add_argument("--video", help="write the episodes to this .mp4 or .gif")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def check_model(model: str) -> Path:
    path = Path(model)
    if model == DEFAULT_MODEL and not path.is_dir():  # run outside the source tree: the install's
        from oneshot_ros.nodes.launcher import share_path
        try:
            path = share_path(DEFAULT_MODEL)
        except FileNotFoundError:
            pass  # the error below names the path and the fix
    if not (path / "config.json").is_file():
        raise InputError(f"no trained model at {path} (config.json missing): train one with "
                         f"`oneshot-ros train --out {path}` or pass --model DIR")
    return path.resolve()


def check_demo(demo_file: str, index: int, task) -> Path:
    """The conditioning demonstration, read now: the imitator would otherwise fail in its own
    process while this one waits minutes for it to load, or imitate with blocks it never sees."""
    path = Path(demo_file)
    if not path.exists():
        raise InputError(f"--demo-file {path}: no such file; pass a file written by `oneshot-ros "
                         "collect`, or leave --demo-file out to record one now")
    demo_task = parse_task(_demo_at(path, index).task)
    if demo_task.n_blocks != task.n_blocks:
        raise InputError(f"--demo-file {path} demo {index} shows {demo_task.string!r} "
                         f"({demo_task.n_blocks} blocks) but --task {task.string!r} has "
                         f"{task.n_blocks}; pass a demonstration with {task.n_blocks} blocks")
    return path.resolve()


def _demo_at(path: Path, index: int):
    """Demonstration `index` of `path` (arrays checked as the imitator will read them)."""
    from oneshot_ros.data.storage import DemoReader

    with DemoReader(path) as reader:
        n = len(reader)
        if index >= n:
            raise InputError(f"--demo-index {index}: {path} holds {n} demonstration"
                             f"{'' if n == 1 else 's'}" + (f"; use 0..{n - 1}" if n else ""))
        return reader[index]


def default_task() -> str:
    for line in TEST_TASKS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            return parse_task(line.strip()).string
    raise InputError(f"{TEST_TASKS} lists no tasks; run `oneshot-ros tasks split`")


def model_world(model: Path) -> dict:
    """The WorldConfig overrides the model was trained in (its config.json), {} if unrecorded:
    the demonstration and the sim should be the world its training demonstrations came from."""
    try:
        provenance = json.loads((model / "config.json").read_text()).get("provenance") or {}
    except (OSError, ValueError, AttributeError) as err:
        raise InputError(f"{model / 'config.json'} is not a model config ({err}); pass --model "
                         "a directory written by `oneshot-ros train`") from None
    return dict(provenance.get("world_config") or provenance.get("world") or {})


def record_demo(task: str, seed: int, out: Path, world: dict | None = None) -> tuple[Path, int]:
    """One noise-free scripted demonstration of `task` in `world` (WorldConfig overrides),
    written to out (demo index 0)."""
    import dataclasses

    from oneshot_ros.data.storage import DemoWriter
    from oneshot_ros.demos.demonstrator import run_episode
    from oneshot_ros.sim.env import make_env

    env = make_env(world or {})
    try:
        episode = run_episode(env, task, seed, noise=0.0)
    finally:
        env.close()
    if not episode.success:
        raise RuntimeError(f"the scripted demonstration of {task!r} (seed {seed}) failed")
    with DemoWriter(out, dataclasses.asdict(env.config)) as writer:
        return out, writer.append(episode)


def run(args) -> int:
    from tqdm import tqdm

    from oneshot_ros.nodes.ros_eval import world_file
    from oneshot_ros.nodes.session import SimSession

    model = check_model(args.model)
    task = parse_task(args.task).string if args.task is not None else default_task()
    if args.video:
        check_video_path("--video", args.video)
    demo_file, demo_index = None, args.demo_index
    if args.demo_file:  # read now, before any node starts
        demo_file = check_demo(args.demo_file, args.demo_index, parse_task(task))
    world = model_world(model)
    work = Path(tempfile.mkdtemp(prefix="oneshot-ros-demo-"))
    if demo_file is None:
        demo_file, demo_index = record_demo(task, DEMO_SEED_OFFSET + args.seed,
                                            work / "demo.h5", world)
    start, results = time.perf_counter(), []
    with SimSession(work / "logs") as session:
        _start_nodes(session, task, args, model, demo_file, demo_index,
                     world_file(work, world))
        for k in tqdm(range(args.episodes), desc=f"ros-demo {task}", unit="ep",
                      disable=args.json):
            results.append(_episode(session, args.seed + k, args.max_steps))
        video = _save_video(session) if args.video else None
    successes = sum(r["success"] for r in results)
    unseen = task in {parse_task(t).string for t in default_tasks()}
    summary = {"task": task, "unseen_test_task": unseen, "episodes": args.episodes,
               "successes": successes, "success_rate": successes / args.episodes,
               "model": str(model), "demo_file": str(demo_file), "demo_index": demo_index,
               "per_episode": results, "video": video, "logs": str(work / "logs"),
               "wall_s": round(time.perf_counter() - start, 3)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{task}: {successes}/{args.episodes} successful "
              f"({100 * summary['success_rate']:.0f}%) over ROS 2"
              + (f", video {video}" if video else ""))
    return 0


def default_tasks() -> set[str]:
    return {line.strip() for line in TEST_TASKS.read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def _start_nodes(session, task, args, model, demo_file, demo_index, world_file: str) -> None:
    from lifecycle_msgs.srv import GetState

    sim = {"task": task, "seed": args.seed, "real_time": False, "time_scale": args.time_scale,
           "world_config": world_file}
    if args.video:
        sim["video_path"] = str(Path(args.video).resolve())
    session.start("sim_driver", sim)
    session.start("imitator", {"model": str(model), "demo_file": str(demo_file),
                               "demo_index": demo_index, "active": False,
                               "world_config": world_file})
    session.wait_for_service("/sim_driver/status")
    session.wait_for_service("/imitator/get_state", GetState)
    # configure loads the policy and the demo; it answers once loaded (on a busy machine that
    # takes longer than a usual service call: lifecycle() waits up to 120 s)
    session.lifecycle("imitator", "configure")


def _episode(session, seed: int, max_steps: int | None) -> dict:
    session.reset(seed)
    session.wait_steps(2)
    session.lifecycle("imitator", "activate")
    status = session.run_until_done(max_wall_s=900, max_steps=max_steps)
    session.lifecycle("imitator", "deactivate")
    return {"seed": seed, "steps": status["step"], "success": status["success"],
            "outcome": status["outcome"], "n_placed": status["n_placed"]}


def _save_video(session) -> str:
    ok, message = session.ros.trigger("/sim_driver/save_video", timeout_s=120)
    if not ok:
        raise RuntimeError(f"sim_driver could not write the video: {message}")
    return message
