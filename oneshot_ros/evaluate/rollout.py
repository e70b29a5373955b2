"""One evaluation episode: a fresh demonstration, the policy's rollout, the demonstrator's own.

    demo = conditioning_demo(env, "ab cd", demo_seeds, noise=0.002)   # retries failed demos
    record = policy_episode(env, imitator, "ab cd", seed, demo)       # greedy, until success
    record = demonstrator_episode(env, "ab cd", seed, noise=0.002)    # the paper's "Demo" bar

Every function resets `env` itself (StackingEnv rebuilds its world on reset, so an episode is a
function of (world config, task, seed) alone, whatever ran before in the process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from oneshot_ros.data.episode import MANIPULATION, Episode
from oneshot_ros.demonstrator import run_episode

SETTLE_STEPS = 5  # steps after the goal first holds before judging (as demonstrator.run_episode)
FAILURE_CHECK_STEPS = 20  # how often a rollout checks for an irrecoverable failure

StepHook = Callable[[object, dict], None]  # (env, attention dict) after every policy step


class NoDemonstration(RuntimeError):
    """The scripted demonstrator failed on every demo seed it was given."""


def conditioning_demo(env, task: str, seeds: Iterable[int], noise: float) -> Episode:
    """The first successful scripted demonstration among `seeds` (tried in order)."""
    outcomes = []
    for seed in seeds:
        demo = run_episode(env, task, seed, noise)
        if demo.success:
            return demo
        outcomes.append(f"{seed}: {demo.outcome}")
    raise NoDemonstration(f"task {task!r}: no successful demonstration ({'; '.join(outcomes)})")


def policy_episode(env, imitator, task: str, seed: int, demo: Episode,
                   max_steps: int | None = None, on_step: StepHook | None = None) -> dict:
    """Greedy rollout of `imitator` conditioned on `demo`, until success (+ settling) or horizon.

    The ensemble's temporal-dropout draws are seeded by the episode seed, so the episode does not
    depend on which worker ran it or on the episodes before it.
    """
    obs = env.reset(task, seed)
    imitator.generator.manual_seed(seed)
    imitator.set_demo(demo.obs, demo.stage_ends)
    horizon = max_steps or env.horizon
    done_at, steps = None, 0
    for step in range(horizon):
        action, attention = imitator.act(obs)  # (4,), {"temporal": ..., "block": ...}
        obs, info = env.step(action)
        steps = step + 1
        if on_step is not None:
            on_step(env, attention)
        if info["success"] and done_at is None:
            done_at = step
        if done_at is not None and step - done_at >= SETTLE_STEPS:
            break
        if step % FAILURE_CHECK_STEPS == 0 and env.outcome() == MANIPULATION:
            break  # a block fell off the table: irrecoverable (paper B.4), stop early
    return _result(env, steps, horizon)


def demonstrator_episode(env, task: str, seed: int, noise: float) -> dict:
    """The scripted demonstrator on the same start layout: the paper's "Demo" bar."""
    episode = run_episode(env, task, seed, noise, settle_steps=SETTLE_STEPS)
    return _result(env, episode.length, env.horizon)


def _result(env, steps: int, horizon: int) -> dict:
    outcome = env.outcome()
    return {"success": outcome == "success", "outcome": outcome, "steps": steps,
            "horizon": horizon, "n_placed": env.n_placed()}
