"""`oneshot-ros eval --ros`: the eval protocol's units, seeds and demos, run through the nodes.

    for result in ros_episodes(runner, model_dir, time_scale, work_dir, skip=done): ...

Units, episode seeds and conditioning demonstrations are EnvRunner's (the same demo on the same
layout as the simulator eval, written to a new HDF5 file per episode); nodes.ros_eval runs the
episode in the sim_driver and imitator processes. Records have the simulator eval's fields plus
the driver's command timing and `valid` (the caller sets invalid ones aside). The nodes load
only here, so `oneshot-ros eval` without --ros never imports rclpy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

from oneshot_ros import rollout
from oneshot_ros.data.storage import DemoWriter
from oneshot_ros.evaluate.metrics import NO_DEMO, split_of
from oneshot_ros.evaluate.runner import EnvRunner, EpisodeResult, EvalUnit
from oneshot_ros.sim.env import make_env
from oneshot_ros.tasks import parse_task


def ros_episodes(runner: EnvRunner, model_dir: str | Path, time_scale: float,
                 work_dir: str | Path, imitator_params: dict | None = None,
                 skip: Iterable[tuple[str, int]] = ()) -> Iterator[EpisodeResult]:
    """Results in unit order, one episode at a time (each holds two node processes)."""
    from oneshot_ros.nodes.ros_eval import RosEpisodes

    cfg, done = runner.config, set(skip)
    todo = [u for u in runner.units() if (u.task, u.index) not in done]
    if not todo:
        return
    env = make_env(cfg.world_config)
    work = Path(work_dir)
    ros = RosEpisodes(work, model_dir, time_scale, cfg.ensemble, cfg.world_config,
                      imitator_params)
    bar = tqdm(total=len(todo), desc="eval --ros", unit="ep", disable=not cfg.progress)
    successes = 0
    try:
        with ros, bar:
            for n, unit in enumerate(todo, start=1):
                result = _episode(ros, env, unit, work / f"demo-{n:05d}.h5", cfg)
                (work / f"demo-{n:05d}.h5").unlink(missing_ok=True)  # loaded: not needed
                successes += bool(result.record["success"])
                bar.update(1)
                bar.set_postfix(success=f"{successes / n:.0%}", refresh=False)
                yield result
    finally:
        env.close()


def _episode(ros, env, unit: EvalUnit, demo_path: Path, cfg) -> EpisodeResult:
    task = parse_task(unit.task)
    record = {"task": unit.task, "stages": task.n_stages, "blocks": task.n_blocks,
              "split": split_of(unit.task), "index": unit.index, "seed": unit.seed}
    try:
        demo = rollout.conditioning_demo(env, unit.task, unit.demo_seeds(cfg.demo_attempts),
                                         cfg.demo_noise, cfg.demo_style)
    except rollout.NoDemonstration:
        record.update(demo_seed=None, success=None, outcome=NO_DEMO, steps=0, n_placed=0,
                      valid=True)
        return EpisodeResult(record)
    record["demo_seed"], record["demo_length"] = demo.seed, demo.length
    # a new file per episode: never busy, and the imitator's log line names this load
    with DemoWriter(demo_path, dataclasses.asdict(env.config)) as writer:
        writer.append(demo)
    record.update(ros.run(unit.task, unit.seed, demo_path, cfg.max_steps))
    if cfg.demo_baseline:
        baseline = rollout.demonstrator_episode(env, unit.task, unit.seed, cfg.demo_noise)
        record.update({f"demo_{k}": baseline[k] for k in ("success", "outcome", "steps")})
    return EpisodeResult(record)
