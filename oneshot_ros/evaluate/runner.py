"""EnvRunner: evaluate a one-shot policy the paper's way (§5.1), separately from training.

    runner = EnvRunner(["ab cd", "abc"], EvalConfig(episodes_per_task=10, workers=2))
    metrics = runner.run("models/bc")                 # -> evaluate.metrics.summarize(...)
    for result in runner.episodes("models/bc"): ...   # streaming, in unit order

For every task, episode k (a unit (task, k)) starts from the layout `eval_seed(task, k,
"episode")` and is conditioned on a FRESH scripted demonstration of the same task from another
layout, `eval_seed(task, k, "demo", attempt)`, attempt = 0, 1, ... until the demonstrator
succeeds. The policy acts greedily (its ensemble averaged) until success or the horizon; the
scripted demonstrator then runs on the same episode seed (the paper's "Demo" bar).

Seeds: evaluation seeds have bit 31 set (2**31 <= seed < 2**32); collection seeds are
`collect.derive_seed(...) & 0x7FFF_FFFF` < 2**31, so an evaluated layout can never be a
training layout, by construction rather than by luck of the hash. Every episode is a function of
its unit alone (fresh world on reset, temporal-dropout draws seeded by the episode seed, one torch
thread), so results are identical whatever the number of workers and whatever ran before.

The policy is a checkpoint directory or any picklable factory `() -> Imitator` (workers are
`spawn`ed processes, each with its own env and its own Imitator).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from oneshot_ros.demos import rollout
from oneshot_ros.demos.demonstrator import DEFAULT_NOISE_STD_M, DEMO_STYLES
from oneshot_ros.demos.replay import replay
from oneshot_ros.evaluate.attention import AttentionTrace
from oneshot_ros.evaluate.metrics import NO_DEMO, split_of, summarize
from oneshot_ros.policy import checkpoint
from oneshot_ros.policy.configuration import DECODE_MODES
from oneshot_ros.policy.imitator import Imitator, NonFiniteActionError
from oneshot_ros.sim.env import make_env
from oneshot_ros.utils.pool import ordered_results
from oneshot_ros.utils.video import write_video
from oneshot_ros.world.tasks import parse_task

EVAL_SEED_BIT = 1 << 31  # set in every evaluation seed, never in a collection seed
DEMO_ATTEMPTS = 10  # demo seeds tried per episode before it is reported as NO_DEMO
VIDEO_FPS = 10.0  # rendered every 2nd control step at 20 Hz: real time
PolicySource = str | Path | Callable[[], object]


def eval_seed(task: str, index: int, role: str, attempt: int = 0) -> int:
    """Stable seed in [2**31, 2**32) for episode `index` of `task`; role "episode" or "demo"."""
    digest = hashlib.blake2b(f"eval|{role}|{task}|{index}|{attempt}".encode(),
                             digest_size=8).digest()
    return EVAL_SEED_BIT | (int.from_bytes(digest, "little") & 0x7FFF_FFFF)


@dataclass(frozen=True)
class EvalConfig:
    episodes_per_task: int = 10  # paper: 100 configurations per task
    workers: int = 1  # spawned processes; 1 runs in this process
    ensemble: int | None = None  # demo downsamplings averaged; None: the checkpoint's
    decoding: str = "argmax"  # ActionHead.decode mode: "argmax" (paper) or "mean"
    demo_noise: float = DEFAULT_NOISE_STD_M  # m per step, conditioning demos and "Demo" bar
    demo_style: str = "scripted"  # conditioning demos: "scripted" or "human" (teleop timing)
    demo_attempts: int = DEMO_ATTEMPTS
    max_steps: int | None = None  # policy steps per episode; None: the task's horizon
    demo_baseline: bool = True  # also run the scripted demonstrator on every episode seed
    videos: int = 0  # render episode 0 of the first `videos` tasks (needs out_dir)
    attention: int = 0  # record Fig. 4 attention for episode 0 of the first `attention` tasks
    out_dir: str | None = None  # where videos are written
    world_config: dict = field(default_factory=dict)  # WorldConfig overrides (checkpoint's)
    # every controller (policy, demonstrator) acts on the scene its commands in flight will
    # leave and displaces the last command (world/command_prediction.py); off: as trained
    latency_compensation: bool = False
    progress: bool = True

    def __post_init__(self):
        for name in ("episodes_per_task", "workers", "demo_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: use at least 1")
        if self.ensemble is not None and self.ensemble < 1:
            raise ValueError(f"ensemble={self.ensemble}: use at least 1 member, e.g. 10")
        if self.demo_style not in DEMO_STYLES:
            raise ValueError(f"demo_style={self.demo_style!r}: use one of {DEMO_STYLES}")
        if self.decoding not in DECODE_MODES:
            raise ValueError(f"decoding={self.decoding!r}: use one of {DECODE_MODES}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps={self.max_steps}: use at least 1 step, or None")
        if self.videos and not self.out_dir:
            raise ValueError("videos need an output directory: set out_dir (--out)")


@dataclass(frozen=True)
class EvalUnit:
    task: str  # canonical task string
    index: int  # episode 0..episodes_per_task-1 of the task
    task_position: int  # the task's position in the task list (videos, attention)

    @property
    def seed(self) -> int:
        return eval_seed(self.task, self.index, "episode")

    def demo_seeds(self, attempts: int) -> Iterator[int]:
        """Demo layouts in order; never the episode's own layout."""
        seeds = (eval_seed(self.task, self.index, "demo", a) for a in itertools.count())
        return itertools.islice((s for s in seeds if s != self.seed), attempts)


@dataclass
class EpisodeResult:
    record: dict  # one line of episodes.jsonl
    attention: AttentionTrace | None = None


class ModelFactory:
    """Picklable `() -> Imitator` for a checkpoint directory; checks the checkpoint at once."""

    def __init__(self, model_dir: str | Path, ensemble: int | None = None,
                 decoding: str = "argmax"):
        self.model_dir, self.ensemble, self.decoding = str(model_dir), ensemble, decoding
        _, self.metadata = checkpoint.load(model_dir)  # CheckpointError (ValueError) if bad

    def __call__(self):
        return Imitator.from_checkpoint(self.model_dir, ensemble=self.ensemble, seed=0,
                                        decoding=self.decoding)

    def world_config(self) -> dict:
        """The world the policy was trained in, if the training run recorded it."""
        provenance = self.metadata.get("provenance", {})
        return dict(provenance.get("world_config") or provenance.get("world") or {})


class EnvRunner:
    def __init__(self, tasks: Iterable[str], config: EvalConfig | None = None):
        self.tasks = [parse_task(str(t)).string for t in tasks]
        if not self.tasks:
            raise ValueError("no tasks to evaluate; pass a task list with at least one task")
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError("a task appears twice in the task list; list each task once")
        self.config = config or EvalConfig()

    def units(self) -> list[EvalUnit]:
        n = self.config.episodes_per_task
        return [EvalUnit(task, k, p) for p, task in enumerate(self.tasks) for k in range(n)]

    def run(self, policy: PolicySource) -> dict:
        """Evaluate every unit; returns the metrics (evaluate.metrics.summarize)."""
        return summarize([result.record for result in self.episodes(policy)])

    def episodes(self, policy: PolicySource, skip: Iterable[tuple[str, int]] = ()
                 ) -> Iterator[EpisodeResult]:
        """Results in unit order, leaving out the (task, index) pairs in `skip` (resume)."""
        factory, config = self._factory(policy), self.config
        if not config.world_config and isinstance(factory, ModelFactory):
            config = _replace(config, world_config=factory.world_config())
        done = set(skip)
        todo = [u for u in self.units() if (u.task, u.index) not in done]
        bar = tqdm(total=len(todo), desc="eval", unit="ep", disable=not config.progress)
        successes = 0
        with bar:
            make_worker = partial(_Worker, factory, config)
            for n, result in enumerate(ordered_results(todo, make_worker, config.workers),
                                       start=1):
                successes += bool(result.record["success"])
                bar.update(1)
                bar.set_postfix(success=f"{successes / n:.0%}", refresh=False)
                yield result

    def _factory(self, policy: PolicySource) -> Callable[[], object]:
        if isinstance(policy, str | Path):
            return ModelFactory(policy, self.config.ensemble, self.config.decoding)
        if not callable(policy):
            raise ValueError(f"policy {policy!r}: pass a model directory or a factory")
        return policy


def _replace(config: EvalConfig, **changes) -> EvalConfig:
    import dataclasses

    return dataclasses.replace(config, **changes)


# --- one episode, in a worker ----------------------------------------------------------------
class _Worker:
    """One env and one Imitator on one torch thread, reused for every unit this process runs
    (one thread in every worker and in-process: identical results whatever `workers`)."""

    def __init__(self, factory: Callable[[], object], config: EvalConfig):
        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)
        self.config = config
        self.env = make_env(config.world_config)
        self.imitator = factory()

    def close(self) -> None:
        """In-process runs: close the env, give torch its threads back."""
        self.env.close()
        torch.set_num_threads(self._threads)

    def __call__(self, unit: EvalUnit) -> EpisodeResult:
        cfg = self.config
        record, demo = unit_start(self.env, unit, cfg)
        if demo is None:
            return EpisodeResult(record)
        trace = self._trace(unit, demo)
        frames = (_Frames(demo, cfg.world_config, cfg.latency_compensation)
                  if unit.index == 0 and unit.task_position < cfg.videos else None)
        hook = _hooks(trace, frames)
        try:
            record.update(rollout.policy_episode(self.env, self.imitator, unit.task, unit.seed,
                                                 demo, cfg.max_steps, hook,
                                                 compensate=cfg.latency_compensation))
        except NonFiniteActionError as err:  # say which episode (it may come from a worker)
            raise NonFiniteActionError(f"task {unit.task!r} episode {unit.index}: {err}") \
                from None
        if frames is not None:
            record["video"] = frames.write(Path(cfg.out_dir), unit)
        record.update(demo_baseline(self.env, unit, cfg))
        return EpisodeResult(record, trace)

    def _trace(self, unit: EvalUnit, demo) -> AttentionTrace | None:
        if unit.index != 0 or unit.task_position >= self.config.attention:
            return None
        return AttentionTrace(unit.task, unit.seed, list(demo.stage_ends), demo.length)


def unit_start(env, unit: EvalUnit, cfg: EvalConfig) -> tuple[dict, object]:
    """(the unit's record so far, its conditioning demonstration); the demo is None, and the
    record complete, when the demonstrator failed on every demo seed (NO_DEMO)."""
    task = parse_task(unit.task)
    record = {"task": unit.task, "stages": task.n_stages, "blocks": task.n_blocks,
              "split": split_of(unit.task), "index": unit.index, "seed": unit.seed}
    try:
        demo = rollout.conditioning_demo(env, unit.task, unit.demo_seeds(cfg.demo_attempts),
                                         cfg.demo_noise, cfg.demo_style,
                                         cfg.latency_compensation)
    except rollout.NoDemonstration:
        record.update(demo_seed=None, success=None, outcome=NO_DEMO, steps=0, n_placed=0)
        return record, None
    record["demo_seed"], record["demo_length"] = demo.seed, demo.length
    record["demo_stage_ends"] = [int(s) for s in demo.stage_ends]
    return record, demo


def demo_baseline(env, unit: EvalUnit, cfg: EvalConfig) -> dict:
    """The scripted demonstrator on the episode's layout (the "Demo" bar), if configured."""
    if not cfg.demo_baseline:
        return {}
    baseline = rollout.demonstrator_episode(env, unit.task, unit.seed, cfg.demo_noise,
                                            cfg.latency_compensation)
    return {f"demo_{k}": baseline[k] for k in ("success", "outcome", "steps")}


class _Frames:
    """The conditioning demonstration (re-simulated), a dimmed pause, then the policy's episode;
    every 2nd control step."""

    def __init__(self, demo, world_config: dict, compensate: bool = False):
        self.frames, self.n = [], 0
        replay(demo, world_config, every=2, on_frame=self.frames.append, compensate=compensate)
        self.frames += [(self.frames[-1] * 0.35).astype(np.uint8)] * int(VIDEO_FPS)

    def __call__(self, env, attention) -> None:
        if self.n % 2 == 0:
            self.frames.append(env.render())
        self.n += 1

    def write(self, out_dir: Path, unit: EvalUnit) -> str:
        name = f"videos/{unit.task.replace(' ', '_')}-{unit.index}.mp4"
        write_video(self.frames, out_dir / name, fps=VIDEO_FPS)
        return name


def _hooks(*hooks) -> rollout.StepHook | None:
    active = [h for h in hooks if h is not None]
    if not active:
        return None
    return lambda env, attention: [h(env, attention) for h in active]
