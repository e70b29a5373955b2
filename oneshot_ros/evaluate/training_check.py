"""Greedy rollout success of a model in training (TrainConfig.rollout_every), by the runner.

The commands hand `rollout_success` to train.bc.train (and through train.dagger.dagger), so
training never imports evaluation: train and evaluate sit side by side in one layer.
"""

from __future__ import annotations

from functools import partial

from oneshot_ros.evaluate.runner import EnvRunner, EvalConfig
from oneshot_ros.policy.imitator import Imitator
from oneshot_ros.policy.modeling import OneShotPolicy
from oneshot_ros.world.tasks import parse_task


def rollout_success(model: OneShotPolicy, tasks: list[str], n_tasks: int, episodes: int,
                    world_config: dict) -> float:
    """Success rate of `episodes` greedy episodes on each of the `n_tasks` training tasks with
    the fewest stages (fresh demonstration, unseen layout each)."""
    chosen = sorted(tasks, key=lambda t: (parse_task(t).n_stages, t))[:n_tasks]
    eval_cfg = EvalConfig(episodes_per_task=episodes, workers=1, demo_baseline=False,
                          world_config=world_config, progress=False)
    metrics = EnvRunner(chosen, eval_cfg).run(partial(Imitator, model))
    return float(metrics["success_rate"])
