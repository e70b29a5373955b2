"""oneshot-ros eval: success of a trained policy by number of stages, the paper's way (§5.1).

    oneshot-ros eval --model models/bc --tasks config/tasks/test.txt --episodes 10 \
        --workers 2 --out runs/eval_test [--json]
    oneshot-ros eval --model models/bc --task "ab cd" --episodes 5 --out runs/ab_cd \
        --videos 1 --attention-figure

Every episode starts from a layout never used in training and is conditioned on a fresh scripted
demonstration of the same task (another layout); the scripted demonstrator also runs on every
episode layout (the "Demo" bar) unless --no-demo-baseline. Writes into --out:
    episodes.jsonl   one JSON object per episode (task, stages, split, seed, demo_seed, success,
                     outcome, steps, demo_success, ...); re-running resumes where it stopped
    summary.json     success by stages, train vs test tasks, beside the demonstrator and the
                     paper's BC column (Tables 3/4)
    fig3.png         that table as bars; videos/*.mp4 (--videos); fig4_attention-*.png
--json prints summary.json's object (success_rate, by_stages, demo_success_rate, outcomes, ...).
--latency-compensation: every controller acts on the scene once its commands in flight have
landed and displaces its last command (world/command_prediction.py; a real arm's latency).

    oneshot-ros eval --ros --model models/bc --tasks config/tasks/test.txt --episodes 2 \
        --out runs/eval_test_ros [--time-scale 1.0]

--ros: the same units, seeds and demonstrations, each episode closed through the sim_driver and
imitator nodes over DDS (one episode at a time; --workers does not apply). Every record carries
the driver's command timing; an episode in which the imitator missed a control period or
answered late is set aside in rejected.jsonl (not counted), and the run exits 2 saying so:
rerun the same command (at a lower --time-scale) to redo just those. Node logs stay in a
temporary directory (oneshot-ros-eval-*).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

from oneshot_ros.commands._args import (
    check_noise,
    check_output_dir,
    key_value,
    locked_output_dir,
    non_negative_int,
    positive_float,
    positive_int,
    stage_range,
)
from oneshot_ros.errors import InputError


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="checkpoint directory (models/<name>)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--tasks", help="task list file (config/tasks/test.txt, train.txt)")
    source.add_argument("--task", action="append",
                        help='a task string, e.g. "ab cd"; repeat for several tasks')
    parser.add_argument("--episodes", type=positive_int, default=10, help="episodes per task "
                        "(default %(default)s; the paper uses 100)")
    parser.add_argument("--workers", type=positive_int, default=min(4, os.cpu_count() or 1),
                        help="worker processes (default %(default)s); results do not depend on it")
    parser.add_argument("--out", required=True, help="output directory (created or resumed)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-demo-baseline", action="store_true",
                        help="do not run the scripted demonstrator on the episode layouts")
    parser.add_argument("--ensemble", type=positive_int,
                        help="demo downsamplings averaged per action (default: the "
                        "checkpoint's ensemble_size)")
    parser.add_argument("--decoding", choices=("argmax", "mean"), default="argmax",
                        help="per-axis action from the categorical: its most likely bin (the "
                        "paper's greedy action) or its expected value")
    parser.add_argument("--max-tasks-per-stage", type=positive_int,
                        help="evaluate only the first M tasks of each stage count in the list")
    parser.add_argument("--stages", type=stage_range, metavar="LOW-HIGH",
                        help="evaluate only the tasks with this many stages, e.g. 4-6 or 8")
    parser.add_argument("--max-steps", type=positive_int,
                        help="policy steps per episode (default: the task's horizon)")
    parser.add_argument("--demo-noise", type=float, default=None,
                        help="demonstrator action noise, m per step (default: collect's)")
    parser.add_argument("--world", action="append", default=[], metavar="KEY=VALUE",
                        type=key_value, help="a WorldConfig override for this evaluation, "
                        "e.g. command_latency_periods=1 or block_pose_noise_m=0.005 (a real "
                        "arm's controller and perception); repeatable")
    parser.add_argument("--latency-compensation", action="store_true",
                        help="the policy and the demonstrator act on the scene their commands "
                        "in flight will leave (FK of the last joint command) and displace the "
                        "last command, not the measured joints: a real arm's command latency "
                        "no longer slows them (with --ros: the imitator's "
                        "latency_compensation parameter)")
    parser.add_argument("--demo-style", choices=("scripted", "human"), default="scripted",
                        help="conditioning demos: the scripted demonstrator's, or with a "
                        "teleoperator's timing (slower, held velocities, pauses, key-press "
                        "grips), as a person's demo through the demo recorder")
    parser.add_argument("--videos", type=non_negative_int, default=0, metavar="K",
                        help="render episode 0 of the first K tasks to --out/videos/")
    parser.add_argument("--attention-figure", type=non_negative_int, nargs="?", const=1, default=0,
                        metavar="K", help="Fig. 4 attention maps for episode 0 of the first K "
                        "tasks (default K=1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--ros", action="store_true", help="run each episode through the "
                        "sim_driver and imitator nodes over ROS 2 (needs rclpy)")
    parser.add_argument("--time-scale", type=positive_float, default=1.0,
                        help="with --ros: sim seconds per wall second (default %(default)s, real "
                        "time); faster only while the imitator keeps up (missed periods are "
                        "reported and refused)")
    parser.add_argument("--imitator-param", action="append", default=[], metavar="KEY=VALUE",
                        type=key_value, help="with --ros: an imitator node parameter (e.g. "
                        "trajectory_periods=1.5 to measure that command timing); repeatable")


def run(args) -> int:
    from oneshot_ros.evaluate.runner import EnvRunner, ModelFactory
    from oneshot_ros.world.tasks import parse_task

    tasks = _select(_load_tasks(args), args.max_tasks_per_stage, args.stages)
    check_output_dir("--out", args.out)
    _check_ros_flags(args)
    config = _config(args)
    factory = ModelFactory(args.model, args.ensemble, args.decoding)  # bad dir: one-line error
    most_blocks = max(parse_task(task).n_blocks for task in tasks)
    config = dataclasses.replace(config, world_config=_world(factory, args.world, most_blocks))
    runner = EnvRunner(tasks, config)
    settings = _settings(factory, config, args.ros and _imitator_params(args))
    with locked_output_dir("--out", args.out):  # two evals into one --out interleave
        return _evaluate(args, runner, factory, settings)


def _evaluate(args, runner, factory, settings: dict) -> int:
    """The episodes into --out (resumed), then summary.json, fig3.png and the table."""
    from oneshot_ros.evaluate.report import EvalDir

    out = EvalDir(args.out, settings)
    start = time.perf_counter()
    rejected = _run_episodes(runner, factory, args, out)
    if rejected:
        raise InputError(f"{len(rejected)} episodes missed control periods (or answered late) "
                         f"at --time-scale "
                         f"{args.time_scale} (set aside in {Path(args.out) / REJECTED_FILE}): "
                         "rerun the same command with a lower --time-scale to redo them")
    units = [(u.task, u.index) for u in runner.units()]
    extra = {"model": str(Path(args.model).resolve()),
             "settings": settings,
             "wall_s": round(time.perf_counter() - start, 3)}
    if args.ros:
        extra["time_scale"] = args.time_scale
    summary = out.write_summary(units, extra)
    print(json.dumps(summary) if args.json else _table(summary, Path(args.out)))
    return 0


REJECTED_FILE = "rejected.jsonl"


def _run_episodes(runner, factory, args, out) -> list[dict]:
    """Append each episode to --out as it ends; returns those set aside (--ros, late). A
    policy that outputs NaN or inf ends the run in one line; the episodes before it stay."""
    from oneshot_ros.policy.imitator import NonFiniteActionError

    rejected = []
    try:
        for result in _episodes(runner, factory, args, out.done()):
            if not result.record.get("valid", True):  # the loop did not keep up: not the policy's
                rejected.append(result.record)
                _append_rejected(Path(args.out), result.record)
                continue
            out.append(result.record)
            if result.attention is not None:
                _attention_figure(result.attention, Path(args.out))
    except NonFiniteActionError as err:
        raise InputError(f"--model {args.model}, {err}; {len(out.records)} finished "
                         f"episode(s) kept in {out.episodes_file}") from None
    return rejected


def _episodes(runner, factory, args, done):
    if not args.ros:
        return runner.episodes(factory, skip=done)
    from oneshot_ros.commands._ros_eval import ros_episodes

    work = Path(tempfile.mkdtemp(prefix="oneshot-ros-eval-"))  # node logs, the current demo
    return ros_episodes(runner, args.model, args.time_scale, work, _imitator_params(args),
                        skip=done)


def _imitator_params(args) -> dict:
    """--imitator-param, with latency_compensation from --latency-compensation (one switch for
    the demos made here and the node's policy)."""
    params = dict(args.imitator_param)
    if args.latency_compensation:
        params["latency_compensation"] = True
    return params


def _world(factory, overrides: list[tuple[str, object]], most_blocks: int) -> dict:
    """The checkpoint's world config with --world overrides (checked: one line if bad, also
    when it has no room for the largest task's blocks)."""
    from oneshot_ros.config import from_dict
    from oneshot_ros.world.layout import check_room
    from oneshot_ros.world.world_config import WorldConfig

    world = {**factory.world_config(), **dict(overrides)}
    config = from_dict(WorldConfig, world, "--world")  # ConfigError: an InputError, one line
    check_room(config, most_blocks)  # LayoutError (one line) now, not after a progress bar
    return world


def _check_ros_flags(args) -> None:
    if args.imitator_param and "latency_compensation" in dict(args.imitator_param):
        raise InputError("--imitator-param latency_compensation=...: use --latency-compensation "
                         "(it also compensates the demonstrations made for the episodes)")
    if not args.ros:
        if args.imitator_param:
            raise InputError("--imitator-param needs --ros (it sets the imitator node's "
                             "parameters)")
        return
    unsupported = [flag for flag, value in (("--videos", args.videos),
                                            ("--attention-figure", args.attention_figure),
                                            ("--decoding mean", args.decoding != "argmax"))
                   if value]
    if unsupported:
        raise InputError(f"{', '.join(unsupported)} not available with --ros; run the "
                         "simulator eval (without --ros) for them")


def _append_rejected(out: Path, record: dict) -> None:
    with open(out / REJECTED_FILE, "a") as stream:
        stream.write(json.dumps(record) + "\n")


def _load_tasks(args) -> list[str]:
    from oneshot_ros.world.tasks import load_task_list, parse_task

    if args.task:
        tasks = [parse_task(task).string for task in args.task]
    elif not Path(args.tasks).is_file():
        raise InputError(f"--tasks {args.tasks}: no such file; use config/tasks/test.txt")
    else:
        tasks = [t.string for t in load_task_list(args.tasks)]
    if not tasks:
        raise InputError(f"--tasks {args.tasks} lists no tasks; write one task per line")
    if len(set(tasks)) != len(tasks):
        raise InputError("a task is given twice; list each task once")
    return tasks


def _select(tasks: list[str], per_stage: int | None,
            stages: tuple[int, int] | None = None) -> list[str]:
    """The tasks with `stages` (low, high) stages, the first `per_stage` of each stage count,
    in list order."""
    from oneshot_ros.world.tasks import parse_task

    if stages is not None:
        tasks = [t for t in tasks if stages[0] <= parse_task(t).n_stages <= stages[1]]
        if not tasks:
            raise InputError(f"--stages {stages[0]}-{stages[1]}: no listed task has that many "
                             "stages")
    if per_stage is None:
        return tasks
    taken: dict[int, int] = {}
    chosen = []
    for task in tasks:
        count = parse_task(task).n_stages
        if taken.get(count, 0) < per_stage:
            taken[count] = taken.get(count, 0) + 1
            chosen.append(task)
    return chosen


def _config(args):
    from oneshot_ros.demos.demonstrator import DEFAULT_NOISE_STD_M
    from oneshot_ros.evaluate.runner import EvalConfig
    from oneshot_ros.world.robot import ActionLayout

    noise = DEFAULT_NOISE_STD_M if args.demo_noise is None else args.demo_noise
    check_noise("--demo-noise", noise, ActionLayout.max_step_m)
    return EvalConfig(episodes_per_task=args.episodes, workers=args.workers,
                      ensemble=args.ensemble, decoding=args.decoding, demo_noise=noise,
                      demo_style=args.demo_style,
                      latency_compensation=args.latency_compensation,
                      max_steps=args.max_steps,
                      demo_baseline=not args.no_demo_baseline, videos=args.videos,
                      attention=args.attention_figure, out_dir=str(args.out),
                      progress=not (args.quiet or args.json))


def _settings(factory, config, ros: dict | bool = False) -> dict:
    """What decides an episode's result: a resumed --out must match all of it. `ros`: the
    imitator parameters of an eval over ROS, or False (not the time scale: an episode that
    kept up gives the same result at any speed)."""
    settings = {"model_sha256": factory.metadata.get("sha256"), "ensemble": config.ensemble,
                "decoding": config.decoding,
                "demo_noise": config.demo_noise, "demo_attempts": config.demo_attempts,
                "max_steps": config.max_steps, "demo_baseline": config.demo_baseline,
                "world_config": config.world_config or factory.world_config()}
    if config.demo_style != "scripted":  # (absent = scripted: earlier --out dirs resume)
        settings["demo_style"] = config.demo_style
    if config.latency_compensation:  # (absent = off, likewise)
        settings["latency_compensation"] = True
    frame_reach = factory.metadata.get("policy", {}).get("frame_reach", 0)
    if frame_reach:  # a policy setting outside the weights' sha256 (absent = 0, likewise)
        settings["frame_reach"] = frame_reach
    if ros is False:
        return settings
    return {**settings, "execution": "ros", "imitator_params": ros}


def _attention_figure(trace, out: Path) -> None:
    from oneshot_ros.evaluate.attention import plot_attention

    name = trace.task.replace(" ", "_")
    plot_attention(trace, out / f"fig4_attention-{name}.png")
    trace.save(out / f"attention-{name}.npz")


def _percent(value) -> str:
    return "   -" if value is None else f"{100 * value:3.0f}%"


def _table(summary: dict, out: Path) -> str:
    lines = [f"{summary['episodes']} episodes on {summary['tasks']} tasks: policy "
             f"{_percent(summary['success_rate'])}, demonstrator "
             f"{_percent(summary['demo_success_rate'])}; outcomes {summary['outcomes']}"]
    for split, group in summary["splits"].items():
        lines.append(f"{split} tasks   stages  episodes  policy  demo  paper BC")
        for row in group["table"]:
            lines.append(f"{'':13}{row['stages']:6d}  {row['episodes']:8d}  "
                         f"{_percent(row['success_rate'])}  {_percent(row['demo_success_rate'])}"
                         f"  {_percent(row['paper_bc'])}")
    agreement = summary.get("expert_agreement") or {}
    if agreement:  # where the policy leaves the expert (rollout.ExpertAgreement)
        lines.append("agreement with the expert's action, by stages placed: " + ", ".join(
            f"{k}: {_percent(v)}" for k, v in agreement.items()))
    lines.append(f"wrote {out}/episodes.jsonl, summary.json, fig3.png")
    return "\n".join(lines)
