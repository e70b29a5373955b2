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

from oneshot_ros.data.storage import DemoWriter
from oneshot_ros.evaluate.runner import (
    EnvRunner,
    EpisodeResult,
    EvalUnit,
    demo_baseline,
    unit_start,
)
from oneshot_ros.sim.env import make_env


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
    record, demo = unit_start(env, unit, cfg)
    if demo is None:
        return EpisodeResult({**record, "valid": True})
    # a new file per episode: never busy (a recorder never holds it)
    with DemoWriter(demo_path, dataclasses.asdict(env.config)) as writer:
        writer.append(demo)
    record.update(ros.run(unit.task, unit.seed, demo_path, cfg.max_steps))
    record.update(demo_baseline(env, unit, cfg))
    return EpisodeResult(record)
