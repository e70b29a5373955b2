"""Behavioral cloning of the one-shot policy (Duan et al. §3.3).

    oneshot-ros train --config config/train/bc.yaml --data data/train.h5 --out models/bc_stack
    torchrun --nproc_per_node 2 -m oneshot_ros.cli train ...      # DDP, one process per GPU/core

Each iteration samples `tasks_per_batch` tasks WITH replacement; per task one conditioning demo
(temporal dropout inside the model) and `pairs_per_task` (observation, expert action) pairs from
ANOTHER demo of the same task. Adamax, lr 1e-3. Validation loss on held-out demos, optional
rollout success on a few tasks, checkpoints (model.safetensors + config.json, plus
train_state.safetensors/json for --resume), metrics.jsonl and a learning-curve plot.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from oneshot_ros import __version__
from oneshot_ros.data.batch import collate
from oneshot_ros.data.dataset import LEARNER_SOURCES, PairedDemoDataset, split_by_demo
from oneshot_ros.data.storage import DemoReader
from oneshot_ros.errors import InputError
from oneshot_ros.policy import attention, checkpoint
from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.policy.modeling import OneShotPolicy
from oneshot_ros.train import state
from oneshot_ros.train.distributed import DistributedContext, unwrap, wrap_model
from oneshot_ros.train.step import (
    TrainingDivergedError,
    bc_loss,
    bc_step,
    check_finite,
    eval_metrics,
    make_optimizer,
)
from oneshot_ros.world.tasks import parse_task

log = logging.getLogger(__name__)
METRICS_FILE, CURVES_FILE = "metrics.jsonl", "curves.png"
# What a run writes into its --out (checkpoint, resumable state, metrics, plot)
RUN_FILES = (checkpoint.WEIGHTS_FILE, checkpoint.CONFIG_FILE, state.TENSORS, state.META,
             METRICS_FILE, CURVES_FILE)
DataPaths = str | Path | list[str | Path]  # one .h5 file, a shard directory, or several
# (model, training tasks, rollout_tasks, rollout_episodes, world config) -> success rate
RolloutCheck = Callable[[OneShotPolicy, list[str], int, int, dict], float]


@dataclass(frozen=True)
class TrainConfig:
    iterations: int = 20000  # optimizer steps
    tasks_per_batch: int = 16  # N tasks per iteration, sampled with replacement
    pairs_per_task: int = 32  # M (obs, action) pairs per task, sharing one demo embedding
    lr: float = 1e-3  # Adamax (Duan et al. §3.3)
    max_grad_norm: float = 10.0
    val_fraction: float = 0.1  # whole demos per task held out for the validation loss
    max_stages: int = 0  # train only on tasks with at most this many stages; 0 = all
    min_stages: int = 1  # ... and at least this many (focus a resumed run on later stages)
    val_every: int = 250  # iterations
    val_batches: int = 8
    checkpoint_every: int = 500  # iterations
    seed: int = 0
    torch_threads: int = 0  # 0: leave torch's default
    time_budget_s: float = 0.0  # stop (and checkpoint) after this much wall time; 0 = no limit
    rollout_every: int = 0  # iterations between rollout checks; 0 = off
    rollout_tasks: int = 2  # the first N training tasks with the fewest stages
    rollout_episodes: int = 2  # greedy episodes per task (fresh demo + unseen layout each)
    compile_scores: bool = False  # fused attention scores via torch.compile (~2.5x on CPU)
    init_from: str = ""  # start from this checkpoint's weights (fine-tuning, fresh optimizer)
    # fraction of conditioning demos re-timed as a person paces them (data.retime); validation
    # keeps the scripted timing so its curve stays comparable
    demo_retime: float = 0.0
    # source steps per output step of a re-timed demo, re-drawn per segment (data.retime): the
    # default stretches a demo 1.5-2.2x; human-style demos run 2.3-3.5x the scripted length
    demo_retime_speed: tuple[float, float] = (0.4, 1.0)
    # weight of the stage-attention loss (train/step.py stage_attention): the snapshot policy's
    # attention supervised with the demonstrator's logged stage ends; 0 = off (the paper)
    stage_attention_weight: float = 0.0
    policy: PolicyConfig = field(default_factory=PolicyConfig)

    def __post_init__(self):
        for name in ("iterations", "tasks_per_batch", "pairs_per_task", "val_every",
                     "val_batches", "checkpoint_every", "rollout_tasks", "rollout_episodes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: use a positive integer")
        for name in ("max_stages", "seed", "torch_threads", "rollout_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)}: use 0 or a positive integer")
        if not (math.isfinite(self.lr) and self.lr > 0):  # NaN fails every comparison
            raise ValueError(f"lr={self.lr}: use a positive finite learning rate, e.g. 0.001")
        if not self.max_grad_norm > 0:  # inf is allowed: no clipping
            raise ValueError(f"max_grad_norm={self.max_grad_norm}: use a positive norm, e.g. 10")
        if not self.time_budget_s >= 0:
            raise ValueError(f"time_budget_s={self.time_budget_s}: use seconds >= 0 (0: no "
                             "limit)")
        if self.min_stages < 1 or (self.max_stages and self.min_stages > self.max_stages):
            raise ValueError(f"min_stages={self.min_stages}: use 1 .. max_stages "
                             f"({self.max_stages or 'no limit'})")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction={self.val_fraction}: use a value in [0, 1)")
        if not 0.0 <= self.demo_retime <= 1.0:
            raise ValueError(f"demo_retime={self.demo_retime}: use a fraction in [0, 1]")
        if not (math.isfinite(self.stage_attention_weight) and self.stage_attention_weight >= 0):
            raise ValueError(f"stage_attention_weight={self.stage_attention_weight}: use a "
                             "weight >= 0 (0: off)")
        if self.stage_attention_weight and self.policy.variant != "snapshot":
            raise ValueError(f"stage_attention_weight={self.stage_attention_weight} needs "
                             f"policy.variant: snapshot (got {self.policy.variant!r}): only "
                             "its demo frames are one per stage")
        speed = tuple(float(v) for v in self.demo_retime_speed)
        if len(speed) != 2 or not 0.0 < speed[0] <= speed[1] <= 1.0:
            raise ValueError(f"demo_retime_speed={list(self.demo_retime_speed)}: use [low, high] "
                             "with 0 < low <= high <= 1, e.g. [0.4, 1.0]")
        object.__setattr__(self, "demo_retime_speed", speed)


class TaskSampler:
    """Iteration k -> a batch: N tasks with replacement, one conditioning demo each."""

    def __init__(self, dataset: PairedDemoDataset, n_tasks: int, seed: int, rank: int = 0):
        self.dataset, self.n_tasks, self.seed, self.rank = dataset, n_tasks, seed, rank
        self.by_task: dict[str, list[int]] = {}
        for item, demo_index in enumerate(dataset.conditioning):
            self.by_task.setdefault(dataset.demos[demo_index]["task"], []).append(item)
        self.tasks = sorted(self.by_task)

    def batch(self, iteration: int) -> dict[str, torch.Tensor]:
        """Iteration -1 is the weight-norm initialisation batch."""
        rng = np.random.default_rng([self.seed, self.rank, iteration + 1])
        self.dataset.set_epoch((iteration + 1) * 1000 + self.rank)  # fresh pairs every iteration
        tasks = rng.choice(len(self.tasks), size=self.n_tasks, replace=True)
        items = [rng.choice(self.by_task[self.tasks[t]]) for t in tasks]
        return collate([self.dataset[int(i)] for i in items])


def load_datasets(data: DataPaths, cfg: TrainConfig):
    """-> (train PairedDemoDataset, validation dataset or None, DemoReader).

    Learner rollouts (DAgger, `source="dagger"`) only ever train: validation stays on the
    demonstrations, so its curve is comparable across DAgger rounds.
    """
    reader = DemoReader(data)
    train_idx, val_idx = split_by_demo(reader, cfg.val_fraction)
    rollouts = [i for i in val_idx if reader.meta(i)["source"] in LEARNER_SOURCES]
    if rollouts:
        train_idx, val_idx = sorted(train_idx + rollouts), sorted(set(val_idx) - set(rollouts))
    if cfg.max_stages or cfg.min_stages > 1:
        top = cfg.max_stages or 10**6
        keep = {t for t in reader.tasks if cfg.min_stages <= parse_task(t).n_stages <= top}
        if not keep:
            raise InputError(f"stages {cfg.min_stages}..{cfg.max_stages or 'any'}: no task in "
                             f"{data} has that many stages; widen min_stages/max_stages")
        train_idx = [i for i in train_idx if reader.meta(i)["task"] in keep]
        val_idx = [i for i in val_idx if reader.meta(i)["task"] in keep]
    _check_pairable(reader, train_idx)
    stage_ends = cfg.policy.needs_stage_ends
    train = PairedDemoDataset.from_reader(reader, train_idx, pairs_per_task=cfg.pairs_per_task,
                                          seed=cfg.seed, with_stage_ends=stage_ends,
                                          retime_probability=cfg.demo_retime,
                                          retime_speed=cfg.demo_retime_speed)
    val = None
    if val_idx and _pairable(reader, val_idx):
        val = PairedDemoDataset.from_reader(reader, val_idx, pairs_per_task=cfg.pairs_per_task,
                                            seed=cfg.seed + 1, with_stage_ends=stage_ends)
    return train, val, reader


def _pairable(reader: DemoReader, indices: list[int]) -> bool:
    """Whether PairedDemoDataset has an item: a task with 2 demos, one of them a successful
    demonstration to condition on."""
    metas = [reader.meta(i) for i in indices]
    counts = Counter(m["task"] for m in metas)
    return any(counts[m["task"]] >= 2 for m in metas
               if m["success"] and m["source"] not in LEARNER_SOURCES)


def _check_pairable(reader: DemoReader, indices: list[int]) -> None:
    """Refused before any demo is read, in one line (the dataset would raise a bare error)."""
    if not _pairable(reader, indices):
        paths = " ".join(str(p) for p in reader.paths)
        tasks = len({reader.meta(i)["task"] for i in indices})
        raise InputError(f"--data {paths}: no task has 2 demonstrations, one of them successful "
                         f"({len(indices)} demos of {tasks} tasks); collect at least 2 per task "
                         "(`oneshot-ros collect --demos-per-task 2`)")


def train(cfg: TrainConfig, data: DataPaths, out: str | Path, resume: bool = False,
          ctx: DistributedContext | None = None, progress: bool = True,
          rollout_check: RolloutCheck | None = None) -> dict:
    """Run behavioral cloning; returns the final metrics. Only rank 0 writes files.

    `rollout_check` scores the model every cfg.rollout_every iterations (the commands pass
    evaluate.training_check.rollout_success); required when rollout_every is set.
    """
    if cfg.rollout_every and rollout_check is None:
        raise ValueError(f"rollout_every={cfg.rollout_every} needs a rollout_check, e.g. "
                         "evaluate.training_check.rollout_success")
    ctx = ctx or DistributedContext()
    out = Path(out)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    attention.use_compiled_scores(cfg.compile_scores)
    torch.manual_seed(cfg.seed)
    train_ds, val_ds, reader = load_datasets(data, cfg)
    sampler = TaskSampler(train_ds, cfg.tasks_per_batch, cfg.seed, ctx.rank)
    model = OneShotPolicy(cfg.policy)
    start, wall_before = 0, 0.0
    if resume:
        start, wall_before = state.load_into(out, model, cfg)
        _truncate_metrics(out / METRICS_FILE, start)  # rows after the checkpoint are redone
    elif cfg.init_from:
        _init_from(model, cfg)
    else:
        model.initialize(sampler.batch(-1))  # data-dependent weight-norm init (Salimans 2016)
    wrapped = wrap_model(model, ctx)
    optimizer = make_optimizer(wrapped, cfg.lr)
    if resume:
        state.load_optimizer(out, optimizer)
    provenance = _provenance(cfg, data, reader, train_ds, ctx)
    metrics_file = out / METRICS_FILE
    val_batches = [TaskSampler(val_ds, cfg.tasks_per_batch, cfg.seed + 7).batch(k)
                   for k in range(cfg.val_batches)] if val_ds else []
    t0, samples_per_iter = time.perf_counter(), cfg.tasks_per_batch * cfg.pairs_per_task
    bar = tqdm(range(start, cfg.iterations), initial=start, total=cfg.iterations,
               desc="train", unit="it", disable=not (progress and ctx.is_main))
    record: dict = {}
    for it in bar:
        torch.manual_seed(_step_seed(cfg.seed, ctx.rank, it))  # temporal dropout: exact resume
        batch = {k: v.to(ctx.device) for k, v in sampler.batch(it).items()}
        try:
            record = {"iteration": it + 1,
                      **bc_step(wrapped, optimizer, batch, cfg.max_grad_norm,
                                  cfg.stage_attention_weight)}
        except TrainingDivergedError as err:
            raise _diverged(err, it + 1, "before the optimizer step", out, cfg) from None
        elapsed = time.perf_counter() - t0
        record["samples_s"] = (it + 1 - start) * samples_per_iter * ctx.world_size / elapsed
        if val_batches and ((it + 1) % cfg.val_every == 0 or it + 1 == cfg.iterations):
            scores = [eval_metrics(wrapped, {k: v.to(ctx.device) for k, v in b.items()})
                      for b in val_batches]
            for name in scores[0]:
                record[f"val_{name}"] = float(np.mean([sc[name] for sc in scores]))
        if cfg.rollout_every and (it + 1) % cfg.rollout_every == 0 and ctx.is_main:
            record["rollout_success"] = rollout_check(unwrap(wrapped), train_ds.tasks,
                                                      cfg.rollout_tasks, cfg.rollout_episodes,
                                                      reader.world_config)
        bar.set_postfix(loss=f"{record['loss']:.3f}", samples_s=f"{record['samples_s']:.0f}")
        record["wall_s"] = wall_before + elapsed
        out_of_time = _out_of_time(cfg, record["wall_s"], ctx)
        if ctx.is_main:
            _append_jsonl(metrics_file, record)
            if (it + 1) % cfg.checkpoint_every == 0 or it + 1 == cfg.iterations or out_of_time:
                _check_saveable(unwrap(wrapped), batch, it + 1, out, cfg)
                provenance.update(iterations=it + 1, wall_s=record["wall_s"])
                checkpoint.save(unwrap(wrapped), out, provenance)
                state.save(out, optimizer, it + 1, record["wall_s"], cfg)
        if out_of_time:
            log.info("time budget of %.0f s used up at iteration %d", cfg.time_budget_s, it + 1)
            break
    if ctx.is_main:
        plot_curves(metrics_file, out / CURVES_FILE)
    return record


def _check_saveable(model: OneShotPolicy, batch: dict, iteration: int, out: Path,
                    cfg: TrainConfig) -> None:
    """The step was finite, but the weights it made may not be (or may overflow on the next
    forward pass): a checkpoint is only written when they and their loss are finite. The
    unwrapped model: a DDP forward on rank 0 alone would wait for the other ranks."""
    try:
        check_finite({f"weight {name}": value for name, value in model.named_parameters()})
        with torch.no_grad():
            check_finite({"loss with the new weights": bc_loss(model, batch)})
    except TrainingDivergedError as err:
        raise _diverged(err, iteration, "after the optimizer step", out, cfg) from None


def _diverged(err: TrainingDivergedError, iteration: int, when: str, out: Path,
              cfg: TrainConfig) -> TrainingDivergedError:
    return TrainingDivergedError(
        f"training diverged at iteration {iteration}: {err} {when}; nothing of it was saved "
        f"({_last_checkpoint(out)}); lower lr (now {cfg.lr:g}) or check the data with "
        "`oneshot-ros info`")


def _last_checkpoint(out: Path) -> str:
    iteration = saved_iteration(out)
    if iteration is None:
        return f"no checkpoint in {out}"
    return f"{out} keeps the checkpoint of iteration {iteration}"


def run_files(out: str | Path) -> list[Path]:
    """The files of a training run in `out`, with any temporary copy a killed run left."""
    names = [name for run_file in RUN_FILES for name in (run_file, run_file + ".tmp")]
    return [Path(out) / name for name in names if (Path(out) / name).is_file()]


def saved_iteration(out: str | Path) -> int | None:
    """The iteration of the resumable checkpoint in `out`, if there is one."""
    try:
        return int(json.loads((Path(out) / state.META).read_text())["iteration"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _step_seed(seed: int, rank: int, iteration: int) -> int:
    """torch's seed for iteration `iteration`: its random draws do not depend on a resume."""
    return int(np.random.SeedSequence([seed, rank, iteration]).generate_state(1)[0])


def _init_from(model: OneShotPolicy, cfg: TrainConfig) -> None:
    """Fine-tuning: the weights of `cfg.init_from`, whose policy config must match ours
    (frame selection and ensemble size may differ: PolicyConfig.same_weights_as)."""
    saved, _ = checkpoint.load(cfg.init_from)
    if not cfg.policy.same_weights_as(saved.config):
        raise InputError(f"init_from {cfg.init_from}: its policy config differs from this "
                         "run's; set the same `policy:` keys in the training config")
    model.load_state_dict(saved.state_dict())


def _out_of_time(cfg: TrainConfig, wall_s: float, ctx: DistributedContext) -> bool:
    """All ranks stop together: rank 0's clock decides."""
    flag = torch.tensor([cfg.time_budget_s > 0 and wall_s >= cfg.time_budget_s], dtype=torch.int)
    if ctx.enabled:
        torch.distributed.broadcast(flag, src=0)
    return bool(flag.item())


def _provenance(cfg: TrainConfig, data: DataPaths, reader: DemoReader, train_ds, ctx) -> dict:
    return {"trainer": "bc", "package_version": __version__,
            "data": [str(p) for p in reader.paths], "data_demos": len(reader),
            "train_demos": len(train_ds.demos),
            "train_tasks": len(train_ds.tasks), "world_config": reader.world_config,
            "train_config": _plain(cfg), "world_size": ctx.world_size,
            "device": str(ctx.device)}


def _plain(cfg: TrainConfig) -> dict:
    from dataclasses import asdict
    return json.loads(json.dumps(asdict(cfg), default=list))


def _truncate_metrics(path: Path, iteration: int) -> None:
    if path.exists():
        rows = [line for line in path.read_text().splitlines()
                if line and json.loads(line)["iteration"] <= iteration]
        path.write_text("".join(row + "\n" for row in rows))


def _append_jsonl(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def plot_curves(metrics_file: Path, out_png: Path) -> Path | None:
    """Training loss (smoothed) and validation loss against iterations."""
    if not metrics_file.exists():
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in metrics_file.read_text().splitlines() if line]
    its = np.array([r["iteration"] for r in rows])
    loss = np.array([r["loss"] for r in rows])
    window = max(1, len(loss) // 50)
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
    errors = [(r["iteration"], r["val_move_err_mm"]) for r in rows if "val_move_err_mm" in r]
    fig, axes = plt.subplots(1, 2 if errors else 1, figsize=(11 if errors else 6, 3.5),
                             squeeze=False)
    ax = axes[0, 0]
    ax.plot(its[window - 1:], smooth, label="train loss")
    val = [(r["iteration"], r["val_loss"]) for r in rows if "val_loss" in r]
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation loss")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (summed cross-entropy or L2)")
    ax.legend(loc="upper right")
    rollouts = [(r["iteration"], r["rollout_success"]) for r in rows if "rollout_success" in r]
    if rollouts:
        ax2 = ax.twinx()
        ax2.plot(*zip(*rollouts, strict=True), "s-", color="tab:green", label="rollout success")
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("rollout success")
        ax2.legend(loc="center right")
    if errors:  # the same number for every action head
        axes[0, 1].plot(*zip(*errors, strict=True), "o-", color="tab:red")
        axes[0, 1].set_xlabel("iteration")
        axes[0, 1].set_ylabel("validation |action - expert|, mm per axis")
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return out_png
