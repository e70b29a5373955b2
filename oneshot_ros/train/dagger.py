"""DAgger for the one-shot policy (Duan et al. §3.3, appendix B.5; Ross et al. 2011).

    oneshot-ros dagger --model models/bc_all_stages --data demos.h5 \
        --tasks config/tasks/train.txt --rounds 4 --out models/dagger_all_stages

Round r (0, 1, ...):
1. Rollouts: the policy of the round (round 0: --model; later: the checkpoint in --out) runs
   `rollouts_per_task` episodes of every task, each conditioned on a fresh scripted
   demonstration of the task from another layout. At every step the noise-free scripted
   demonstrator labels the state (it acts from any state); the env executes the expert's action
   with probability beta_r = beta * beta_decay**r, else the policy's (the mixture policy of
   DAgger). Every episode, success or not, is appended to `<out>/dagger_rollouts.h5` with
   `source="dagger"` (the demonstration file format).
2. Training: behavioral cloning on the aggregate (--data + all rollouts so far) continues the
   run in --out (round 0 starts from --model's weights) up to (r + 1) * iterations_per_round.
   Rollouts are pairs only: they never condition the policy, nor enter the validation split.

Determinism and resume: rollout slot j of a task in round r is collection slot
r * rollouts_per_task + j (collect.py seeds, < 2**31, never an evaluation layout), and its
conditioning demo and ensemble draws are seeded by the slot's seed; workers run one torch thread.
A round's rollouts therefore do not depend on --workers, and an interrupted round resumes: the
rollout file skips slots it holds, training resumes from its checkpoint (train/state.py).
`<out>/dagger.json` logs each finished round.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from oneshot_ros.data.episode import Episode
from oneshot_ros.data.storage import DemoReader
from oneshot_ros.demos import rollout
from oneshot_ros.demos.collect import collect, derive_seed
from oneshot_ros.demos.demonstrator import DEFAULT_NOISE_STD_M
from oneshot_ros.demos.episode_loop import EpisodeTrace
from oneshot_ros.errors import InputError
from oneshot_ros.policy.imitator import Imitator
from oneshot_ros.sim.env import make_env
from oneshot_ros.train import state
from oneshot_ros.train.bc import DataPaths, RolloutCheck, TrainConfig, train
from oneshot_ros.world.tasks import parse_task

ROLLOUTS_FILE, LOG_FILE = "dagger_rollouts.h5", "dagger.json"
SOURCE = "dagger"
DEMO_ATTEMPTS = 10


@dataclass(frozen=True)
class DaggerConfig:
    rounds: int = 4
    rollouts_per_task: int = 2  # learner episodes per task and round
    beta: float = 0.5  # round 0: probability of executing the expert's action at a step
    beta_decay: float = 0.5  # beta_r = beta * beta_decay**r
    iterations_per_round: int = 1000  # BC iterations on the aggregate after each round
    ensemble: int | None = None  # demo downsamplings averaged in rollouts; None: checkpoint's
    demo_noise: float = DEFAULT_NOISE_STD_M  # conditioning demos, m per step
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        for name in ("rounds", "rollouts_per_task", "iterations_per_round"):
            if getattr(self, name) < 1:
                raise InputError(f"dagger {name}={getattr(self, name)}: use a positive integer")
        if not (0.0 <= self.beta <= 1.0 and 0.0 <= self.beta_decay <= 1.0):
            raise InputError(f"dagger beta={self.beta}, beta_decay={self.beta_decay}: "
                             "use values in [0, 1]")

    def beta_of(self, round_index: int) -> float:
        return self.beta * self.beta_decay ** round_index


def demo_seed(task: str, seed: int, attempt: int) -> int:
    """Layout of the conditioning demo of the rollout (task, seed): < 2**31, != seed."""
    digest = hashlib.blake2b(f"dagger|demo|{task}|{seed}|{attempt}".encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF


class DaggerProducer:
    """Picklable producer (task, seed, noise) -> a labelled learner rollout (collect)."""

    def __init__(self, model_dir: str | Path, beta: float, world_config: dict,
                 ensemble: int | None = None, demo_noise: float = DEFAULT_NOISE_STD_M):
        self.model_dir, self.beta, self.world_config = str(model_dir), float(beta), world_config
        self.ensemble, self.demo_noise = ensemble, demo_noise
        self._env = self._imitator = None

    def __getstate__(self):  # to spawned workers: settings only, never a live env or model
        return {**self.__dict__, "_env": None, "_imitator": None}

    def __call__(self, task: str, seed: int, noise: float) -> Episode:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the same floats in every worker and in-process
        try:
            env, imitator = self._load()
            seeds = [s for s in (demo_seed(task, seed, a) for a in range(DEMO_ATTEMPTS))
                     if s != seed]
            demo = rollout.conditioning_demo(env, task, seeds, self.demo_noise)
            coin = np.random.default_rng([seed, 1])
            trace = EpisodeTrace()
            record = rollout.policy_episode(
                env, imitator, task, seed, demo, trace=trace,
                mix=lambda action, expert: expert if coin.random() < self.beta else action)
        finally:
            torch.set_num_threads(threads)
        return Episode(task, seed, noise, np.array(trace.obs),
                       np.array(trace.executed, dtype=np.float32),
                       np.array(trace.labels), record["success"], record["outcome"],
                       trace.stage_ends, source=SOURCE)

    def _load(self):
        if self._env is None:
            self._env = make_env(self.world_config)
            self._imitator = Imitator.from_checkpoint(self.model_dir, ensemble=self.ensemble,
                                                      seed=0)
        return self._env, self._imitator


def dagger(cfg: DaggerConfig, model: str | Path, data: DataPaths, tasks: list[str],
           out: str | Path, workers: int = 1, progress: bool = True,
           rollout_check: RolloutCheck | None = None) -> dict:
    """Run (or resume) cfg.rounds rounds into `out`; returns the log (dagger.json).

    `rollout_check`: train.bc.train's, for a training config with rollout_every set."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_paths = [data] if isinstance(data, str | Path) else list(data)
    with DemoReader(data_paths) as reader:
        world_config = reader.world_config
    history = _read_log(out)
    for r in range(len(history["rounds"]), cfg.rounds):
        start = time.perf_counter()
        policy = model if r == 0 else out
        beta = cfg.beta_of(r)
        producer = DaggerProducer(policy, beta, world_config, cfg.ensemble, cfg.demo_noise)
        collect(tasks, (r + 1) * cfg.rollouts_per_task, out / ROLLOUTS_FILE,
                world_config=world_config, producer=producer, workers=workers,
                max_attempts=1, progress=progress, keep_failures=True)
        rollouts = _round_success(out / ROLLOUTS_FILE, r, cfg.rollouts_per_task, tasks)
        resume = (out / state.META).is_file()
        train_cfg = replace(cfg.train, iterations=(r + 1) * cfg.iterations_per_round,
                            init_from="" if resume else str(model))
        final = train(train_cfg, [*data_paths, out / ROLLOUTS_FILE], out, resume=resume,
                      progress=progress, rollout_check=rollout_check)
        history["rounds"].append({"round": r, "policy": str(policy), "beta": beta,
                                  "rollouts": rollouts["episodes"],
                                  "rollout_success": rollouts["success_rate"],
                                  "iterations": train_cfg.iterations,
                                  "val_loss": final.get("val_loss"),
                                  "wall_s": time.perf_counter() - start})
        _write_log(out, history)
    return history


def _round_success(path: Path, round_index: int, per_task: int, tasks: list[str]) -> dict:
    """Episodes and success rate of round `round_index`'s slots in the rollout file."""
    slots = range(round_index * per_task, (round_index + 1) * per_task)
    wanted = {(parse_task(t).string, derive_seed(parse_task(t).string, j, 0))
              for t in tasks for j in slots}
    with DemoReader(path) as reader:
        hits = [bool(reader.meta(i)["success"]) for i in range(len(reader))
                if (reader.meta(i)["task"], reader.meta(i)["seed"]) in wanted]
    return {"episodes": len(hits), "success_rate": float(np.mean(hits)) if hits else 0.0}


def _read_log(out: Path) -> dict:
    path = out / LOG_FILE
    return json.loads(path.read_text()) if path.is_file() else {"rounds": []}


def _write_log(out: Path, history: dict) -> None:
    tmp = out / (LOG_FILE + ".tmp")
    tmp.write_text(json.dumps(history, indent=1))
    tmp.replace(out / LOG_FILE)
