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
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from oneshot_ros.commands._args import (
    check_noise,
    check_output_dir,
    non_negative_int,
    positive_int,
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
    parser.add_argument("--max-steps", type=positive_int,
                        help="policy steps per episode (default: the task's horizon)")
    parser.add_argument("--demo-noise", type=float, default=None,
                        help="demonstrator action noise, m per step (default: collect's)")
    parser.add_argument("--videos", type=non_negative_int, default=0, metavar="K",
                        help="render episode 0 of the first K tasks to --out/videos/")
    parser.add_argument("--attention-figure", type=non_negative_int, nargs="?", const=1, default=0,
                        metavar="K", help="Fig. 4 attention maps for episode 0 of the first K "
                        "tasks (default K=1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from oneshot_ros.evaluate.report import EvalDir
    from oneshot_ros.evaluate.runner import EnvRunner, ModelFactory

    tasks = _select(_load_tasks(args), args.max_tasks_per_stage)
    check_output_dir("--out", args.out)
    config = _config(args)
    factory = ModelFactory(args.model, args.ensemble, args.decoding)  # bad dir: one-line error
    runner = EnvRunner(tasks, config)
    out = EvalDir(args.out, _settings(factory, config))
    start = time.perf_counter()
    for result in runner.episodes(factory, skip=out.done()):
        out.append(result.record)
        if result.attention is not None:
            _attention_figure(result.attention, Path(args.out))
    units = [(u.task, u.index) for u in runner.units()]
    extra = {"model": str(Path(args.model).resolve()), "settings": _settings(factory, config),
             "wall_s": round(time.perf_counter() - start, 3)}
    summary = out.write_summary(units, extra)
    print(json.dumps(summary) if args.json else _table(summary, Path(args.out)))
    return 0


def _load_tasks(args) -> list[str]:
    from oneshot_ros.tasks import load_task_list, parse_task

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


def _select(tasks: list[str], per_stage: int | None) -> list[str]:
    """The first `per_stage` tasks of each stage count, in list order."""
    from oneshot_ros.tasks import parse_task

    if per_stage is None:
        return tasks
    taken: dict[int, int] = {}
    chosen = []
    for task in tasks:
        stages = parse_task(task).n_stages
        if taken.get(stages, 0) < per_stage:
            taken[stages] = taken.get(stages, 0) + 1
            chosen.append(task)
    return chosen


def _config(args):
    from oneshot_ros.demonstrator import DEFAULT_NOISE_STD_M
    from oneshot_ros.evaluate.runner import EvalConfig
    from oneshot_ros.robot import ActionLayout

    noise = DEFAULT_NOISE_STD_M if args.demo_noise is None else args.demo_noise
    check_noise("--demo-noise", noise, ActionLayout.max_step_m)
    return EvalConfig(episodes_per_task=args.episodes, workers=args.workers,
                      ensemble=args.ensemble, decoding=args.decoding, demo_noise=noise,
                      max_steps=args.max_steps,
                      demo_baseline=not args.no_demo_baseline, videos=args.videos,
                      attention=args.attention_figure, out_dir=str(args.out),
                      progress=not (args.quiet or args.json))


def _settings(factory, config) -> dict:
    """What decides an episode's result: a resumed --out must match all of it."""
    return {"model_sha256": factory.metadata.get("sha256"), "ensemble": config.ensemble,
            "decoding": config.decoding,
            "demo_noise": config.demo_noise, "demo_attempts": config.demo_attempts,
            "max_steps": config.max_steps, "demo_baseline": config.demo_baseline,
            "world_config": config.world_config or factory.world_config()}


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
