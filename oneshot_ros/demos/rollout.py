"""Policy rollouts for evaluation and DAgger: a fresh demonstration, the policy's episode, the
demonstrator's own on the same layout (all through episode_loop.run_loop).

    demo = conditioning_demo(env, "ab cd", demo_seeds, noise=0.002)   # retries failed demos
    record = policy_episode(env, imitator, "ab cd", seed, demo)       # greedy, until success
    record = demonstrator_episode(env, "ab cd", seed, noise=0.002)    # the paper's "Demo" bar

A policy episode also says where the policy left the expert: in every state it visits, the
noise-free scripted demonstrator's action is computed (it acts from any state, as DAgger's
labeller) and compared with the policy's; `expert_agreement` gives, per number of stages already
placed, the fraction of steps on which they agreed (see ExpertAgreement).

Every function resets `env` itself (StackingEnv rebuilds its world on reset, so an episode is a
function of (world config, task, seed) alone, whatever ran before in the process).
`compensate` (each function): latency compensation for every controller of the episode (the
policy, the demonstrator, the agreement's expert; episode_loop.run_loop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from oneshot_ros.data.episode import Episode
from oneshot_ros.demos.demonstrator import ScriptedStacker, run_episode
from oneshot_ros.demos.end_state import EndState
from oneshot_ros.demos.episode_loop import EpisodeTrace, controller_scene, run_loop

StepHook = Callable[[object, dict], None]  # (env, attention dict) after every policy step


AGREE_COS = np.cos(np.radians(45.0))  # moves within 45 degrees of the expert's agree
STILL_M = 0.002  # moves shorter than this (m per step) count as standing still


class ExpertAgreement:
    """Per stages-placed count: how often the policy's action agrees with the expert's.

    Agreement on a step: the same gripper command, and moves within 45 degrees of each other
    (or both shorter than 2 mm). The expert is the noise-free ScriptedStacker, asked in the
    state the policy is in, so a low number at stage k says the policy lost its way there
    (compensating latency: in the state the policy's commands in flight will leave).
    """

    def __init__(self, env, compensate: bool = False):
        self.env, self.compensate = env, compensate
        self.expert = ScriptedStacker(env.task, env.config, noise_std=0.0)
        self.agreed: dict[int, int] = {}
        self.steps: dict[int, int] = {}

    def observe(self, action: np.ndarray, n_placed: int) -> np.ndarray:
        """`action` (4,) the policy is about to execute in the env's current state -> the
        expert's noise-free action (4,) in that state (DAgger's label)."""
        expert = self.expert.expert_action(controller_scene(self.env, self.compensate))  # (4,)
        self.steps[n_placed] = self.steps.get(n_placed, 0) + 1
        self.agreed[n_placed] = self.agreed.get(n_placed, 0) + agrees(action, expert)
        return expert

    def fractions(self) -> dict[str, float]:
        return {str(k): self.agreed[k] / self.steps[k] for k in sorted(self.steps)}


def agrees(action: np.ndarray, expert: np.ndarray) -> bool:
    """Same open/close command and a move in the same direction (ActionLayout order)."""
    if (action[3] > 0) != (expert[3] > 0):
        return False
    a, e = np.asarray(action[:3], float), np.asarray(expert[:3], float)
    na, ne = np.linalg.norm(a), np.linalg.norm(e)
    if na < STILL_M or ne < STILL_M:
        return bool(na < STILL_M and ne < STILL_M)
    return bool(a @ e >= AGREE_COS * na * ne)


class NoDemonstration(RuntimeError):
    """The scripted demonstrator failed on every demo seed it was given."""


def conditioning_demo(env, task: str, seeds: Iterable[int], noise: float,
                      style: str = "scripted", compensate: bool = False) -> Episode:
    """The first successful demonstration among `seeds` (tried in order); style "human": with
    a teleoperator's timing (demonstrator.run_episode)."""
    outcomes = []
    for seed in seeds:
        demo = run_episode(env, task, seed, noise, style=style, compensate=compensate)
        if demo.success:
            return demo
        outcomes.append(f"{seed}: {demo.outcome}")
    raise NoDemonstration(f"task {task!r}: no successful demonstration ({'; '.join(outcomes)})")


Mixer = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (policy, expert) -> executed action


def policy_episode(env, imitator, task: str, seed: int, demo: Episode,
                   max_steps: int | None = None, on_step: StepHook | None = None,
                   mix: Mixer | None = None, trace: EpisodeTrace | None = None,
                   compensate: bool = False) -> dict:
    """Greedy rollout of `imitator` conditioned on `demo`, until success (+ settling) or horizon.

    The ensemble's temporal-dropout draws are seeded by the episode seed, so the episode does not
    depend on which worker ran it or on the episodes before it. DAgger passes `mix` (which of
    the policy's and the expert's actions to execute) and `trace` (filled step by step).
    """
    obs = env.reset(task, seed)
    imitator.generator.manual_seed(seed)
    imitator.set_demo(demo.obs, demo.stage_ends)
    horizon = max_steps or env.horizon
    agreement = ExpertAgreement(env, compensate)
    end = EndState()
    attention = [None]  # the latest step's attention dict, for on_step

    def choose(obs, n_placed):
        action, attention[0] = imitator.act(obs)  # (4,), {"temporal": ..., "block": ...}
        expert = agreement.observe(action, n_placed)
        executed = action if mix is None else mix(action, expert)
        end.observe(env, executed, compensate)
        return executed, expert

    hook = None if on_step is None else (lambda env: on_step(env, attention[0]))
    visited = run_loop(env, obs, horizon, choose, on_step=hook, stop_on_manipulation=True,
                       trace=trace, compensate=compensate)
    return {**_result(env, len(visited), horizon), "expert_agreement": agreement.fractions(),
            "stage_ends": list(visited.stage_ends),  # step at which each stage first held
            "end_state": end.summary(env)}  # how the hand spent the last steps


def demonstrator_episode(env, task: str, seed: int, noise: float,
                         compensate: bool = False) -> dict:
    """The scripted demonstrator on the same start layout: the paper's "Demo" bar."""
    episode = run_episode(env, task, seed, noise, compensate=compensate)
    return _result(env, episode.length, env.horizon)


def _result(env, steps: int, horizon: int) -> dict:
    outcome = env.outcome()
    return {"success": outcome == "success", "outcome": outcome, "steps": steps,
            "horizon": horizon, "n_placed": env.n_placed()}
