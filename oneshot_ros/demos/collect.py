"""Collect N successful demonstrations per task into a demonstration file: workers, shards, resume.

    report = collect(["ab cd", "abc"], demos_per_task=10, out="demos.h5", workers=2)

Work is split into units (task, slot), slot = 0..N-1. Slot j of task t tries the seeds
derive_seed(t, j, 0), derive_seed(t, j, 1), ... (a BLAKE2 hash, stable across runs, machines and
Python versions, unlike hash()) and keeps the first successful episode; after `max_attempts`
failures the slot is given up and reported. A unit depends on nothing but (task, slot), hence:

- any number of workers gives identical episodes (and, as results are written in unit order,
  the same file);
- `shard=(i, n)` keeps units i, i+n, i+2n, ...: n independent jobs (SLURM array, Kubernetes
  indexed job) write n files whose union is the unsharded collection; readers take them all;
- re-running into the same output skips every unit whose (task, seed) is already stored.

The episode producer is any picklable callable (task, seed, noise) -> Episode; the default,
EnvProducer, runs the scripted demonstrator in one StackingEnv per worker.
Workers are pool.ordered_results's `spawn`ed processes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from tqdm import tqdm

from oneshot_ros.data.episode import Episode
from oneshot_ros.data.storage import DemoWriter
from oneshot_ros.demos.demonstrator import run_episode
from oneshot_ros.errors import InputError
from oneshot_ros.utils.pool import ordered_results
from oneshot_ros.world.tasks import parse_task
from oneshot_ros.world.world_config import default_world_config

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # seeds tried per demonstration slot before the slot is given up
Producer = Callable[[str, int, float], Episode]


def derive_seed(task: str, slot: int, attempt: int) -> int:
    """Stable 31-bit seed of attempt `attempt` for demonstration slot `slot` of `task`."""
    digest = hashlib.blake2b(f"{task}|{slot}|{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF


@dataclass(frozen=True)
class WorkUnit:
    task: str  # canonical task string
    slot: int  # 0..demos_per_task-1

    def seeds(self, max_attempts: int) -> list[int]:
        return [derive_seed(self.task, self.slot, a) for a in range(max_attempts)]


@dataclass
class UnitResult:
    unit: WorkUnit
    episode: Episode | None  # the first successful episode, None if the slot was given up
    failures: list[str]  # outcome of every failed attempt, in order

    @property
    def attempts(self) -> int:
        return len(self.failures) + (self.episode is not None)


@dataclass
class TaskReport:
    written: int = 0  # new demonstrations in this run
    skipped: int = 0  # units already in the output (resume)
    attempts: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # outcome -> count
    given_up: int = 0  # slots without a success after max_attempts


@dataclass
class CollectReport:
    tasks: dict[str, TaskReport]
    wall_s: float = 0.0

    @property
    def written(self) -> int:
        return sum(r.written for r in self.tasks.values())

    @property
    def success_rate(self) -> float:
        """Demonstrator success rate over the attempts of this run."""
        attempts = sum(r.attempts for r in self.tasks.values())
        return self.written / attempts if attempts else 0.0


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' -> (i, n), 0 <= i < n."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise InputError(f"--shard {text!r}: write i/n, e.g. 0/4") from None
    if not 0 <= index < count:
        raise InputError(f"--shard {text!r}: need 0 <= i < n, e.g. 0/4 .. 3/4")
    return index, count


def plan(tasks: Iterable[str], demos_per_task: int,
         shard: tuple[int, int] = (0, 1)) -> list[WorkUnit]:
    """All units in a fixed order (task, then slot), then this shard's share of them."""
    if demos_per_task < 1:
        raise InputError(f"demos_per_task={demos_per_task}: collect at least 1 per task")
    names = [parse_task(str(t)).string for t in tasks]
    if not names:
        raise InputError("no tasks given; pass at least one task")
    if len(set(names)) != len(names):
        raise InputError("a task appears twice in the task list; list each task once")
    units = [WorkUnit(task, slot) for task in names for slot in range(demos_per_task)]
    index, count = shard
    return units[index::count]


def run_unit(unit: WorkUnit, producer: Producer, noise: float,
             max_attempts: int = MAX_ATTEMPTS, keep_failures: bool = False) -> UnitResult:
    """Try the unit's seeds in order until one episode succeeds (or, with `keep_failures`,
    keep the first episode whatever its outcome: DAgger's learner rollouts)."""
    failures = []
    for seed in unit.seeds(max_attempts):
        episode = producer(unit.task, seed, noise)
        if episode.seed != seed or episode.task != unit.task:
            raise RuntimeError(f"producer returned ({episode.task}, {episode.seed}) for "
                               f"({unit.task}, {seed})")
        if episode.success or keep_failures:
            return UnitResult(unit, episode, failures)
        failures.append(episode.outcome)
    return UnitResult(unit, None, failures)


class EnvProducer:
    """The default producer: the scripted demonstrator in one StackingEnv per worker.

    StackingEnv.reset rebuilds its world, so every episode is a function of (world config,
    task, seed, noise) alone, whatever ran before in the worker; the env is built lazily, once.
    """

    def __init__(self, world_config: dict | None = None, style: str = "scripted"):
        self.world_config = dict(world_config or {})
        self.style = style  # demonstrator.DEMO_STYLES: "human" = a teleoperator's timing
        self._env = None

    def __getstate__(self):  # sent to spawned workers: the config, never a live Bullet client
        return {"world_config": self.world_config, "style": self.style, "_env": None}

    def __call__(self, task: str, seed: int, noise: float) -> Episode:
        if self._env is None:
            # PyBullet and Pinocchio load here, on first use, not when `oneshot-ros --help`
            # imports this module (commands/collect reads MAX_ATTEMPTS)
            from oneshot_ros.sim.env import make_env

            self._env = make_env(self.world_config)
        return run_episode(self._env, task, seed, noise, style=self.style)


@dataclass(frozen=True)
class UnitRunner:
    """A pool worker: run_unit with this run's producer and settings."""

    producer: Producer
    noise: float
    max_attempts: int
    keep_failures: bool = False

    def __call__(self, unit: WorkUnit) -> UnitResult:
        return run_unit(unit, self.producer, self.noise, self.max_attempts, self.keep_failures)


# --- the collection loop ---------------------------------------------------------------------
def collect(tasks: Iterable[str], demos_per_task: int, out: str | Path,
            world_config: dict | None = None, producer: Producer | None = None,
            workers: int = 1, noise: float = 0.0, shard: tuple[int, int] = (0, 1),
            max_attempts: int = MAX_ATTEMPTS, progress: bool = True,
            keep_failures: bool = False) -> CollectReport:
    """Collect into `out` (created or resumed); returns per-task counts. See module docstring.

    `keep_failures`: store each slot's first episode whatever its outcome (learner rollouts).
    """
    if workers < 1 or max_attempts < 1:
        raise InputError(f"workers={workers}, max_attempts={max_attempts}: both must be >= 1")
    world_config = default_world_config() if world_config is None else world_config
    producer = producer or EnvProducer(world_config)
    units = plan(tasks, demos_per_task, shard)
    report = CollectReport({u.task: TaskReport() for u in units})
    start = time.perf_counter()
    with DemoWriter(out, world_config) as writer:
        _check_noise(writer, out, noise)
        todo = _skip_done(units, writer.keys(), max_attempts, report)
        bar = tqdm(total=len(todo), desc=f"collect {Path(out).name}", unit="demo",
                   disable=not progress, smoothing=0.1)
        with bar:
            runner = partial(UnitRunner, producer, noise, max_attempts, keep_failures)
            for result in ordered_results(todo, runner, workers):
                _record(result, writer, report.tasks[result.unit.task])
                bar.update(1)
                bar.set_postfix(success=f"{report.success_rate:.0%}", refresh=False)
    report.wall_s = time.perf_counter() - start
    return report


def _check_noise(writer: DemoWriter, out, noise: float) -> None:
    stored = writer.noise_levels()
    if stored and stored != {float(noise)}:
        raise InputError(f"{out} holds demonstrations with noise {sorted(stored)}; resume with "
                         f"--noise {sorted(stored)[0]} or write to a new --out")


def _skip_done(units: list[WorkUnit], done: set, max_attempts: int,
               report: CollectReport) -> list[WorkUnit]:
    todo = []
    for unit in units:
        if any((unit.task, seed) in done for seed in unit.seeds(max_attempts)):
            report.tasks[unit.task].skipped += 1
        else:
            todo.append(unit)
    return todo


def _record(result: UnitResult, writer: DemoWriter, task_report: TaskReport) -> None:
    task_report.attempts += result.attempts
    for outcome in result.failures:
        task_report.failures[outcome] = task_report.failures.get(outcome, 0) + 1
    if result.episode is None:
        task_report.given_up += 1
        log.warning("%s slot %d: no success in %d attempts (%s)", result.unit.task,
                    result.unit.slot, result.attempts, ", ".join(result.failures))
        return
    writer.append(result.episode, attempts=result.attempts)
    task_report.written += 1
