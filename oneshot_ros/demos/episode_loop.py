"""The one episode loop: act, step, note when each stage first holds, stop once settled.

    trace = run_loop(env, obs, horizon, choose)  # choose(obs, n_placed) -> executed, label
    scene = controller_scene(env, compensate=True)  # what a controller acts on (grasp.Scene)

The scripted demonstrator (demonstrator.run_episode), evaluation rollouts and DAgger's learner
rollouts (rollout.policy_episode) all run this loop, so they settle and count stages alike:
an episode ends SETTLE_STEPS after the goal first holds (the towers must still stand), or at the
horizon; stage_ends[k] is the step at which the k-th stage (build order) first held.

compensate (latency compensation, world/command_prediction.py): every controller of the loop
sees the scene its commands in flight will leave, and each action is applied from the last
command rather than the measured joints. Off: the loop is exactly the uncompensated one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from oneshot_ros.world import command_prediction
from oneshot_ros.world.grasp import Scene
from oneshot_ros.world.success import MANIPULATION

SETTLE_STEPS = 5  # steps after the goal first holds before the episode is judged
FAILURE_CHECK_STEPS = 20  # how often a rollout checks for an irrecoverable failure

# (observation, stages placed so far) -> (action to execute (4,), noise-free expert label (4,))
Chooser = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


class EpisodeTrace:
    """What an episode visited: observations, executed actions, expert labels, stage ends."""

    def __init__(self):
        self.obs: list[np.ndarray] = []  # (3B+2,) the observation each action was chosen on
        self.executed: list[np.ndarray] = []  # (4,) the action the env received
        self.labels: list[np.ndarray] = []  # (4,) the noise-free expert's action there
        self.stage_ends: list[int] = []  # step at which each stage first held

    def __len__(self) -> int:
        return len(self.obs)

    def add(self, obs, executed, label, step: int, n_placed: int) -> None:
        self.obs.append(obs)
        self.executed.append(executed)
        self.labels.append(label)
        while len(self.stage_ends) < n_placed:
            self.stage_ends.append(step)


def run_loop(env, obs: np.ndarray, horizon: int, choose: Chooser,
             settle_steps: int = SETTLE_STEPS, on_step: Callable[[object], None] | None = None,
             stop_on_manipulation: bool = False,
             trace: EpisodeTrace | None = None, compensate: bool = False) -> EpisodeTrace:
    """Run `env` (just reset, `obs` its observation) for at most `horizon` steps.

    on_step(env) runs after every step. `stop_on_manipulation`: every FAILURE_CHECK_STEPS
    steps, end early once a block has fallen off the table (irrecoverable, paper B.4).
    `compensate`: choose from the predicted observation (perceived blocks, as the policy
    sees them) and step from the last command; the trace keeps the predicted observations
    (what each action was chosen on).
    """
    trace = EpisodeTrace() if trace is None else trace
    done_at, n_placed = None, 0
    for step in range(horizon):
        obs = controller_observation(env, obs, compensate)
        executed, label = choose(obs, n_placed)
        previous_obs = obs
        obs, info = step_env(env, executed, compensate)
        n_placed = info["n_placed"]
        trace.add(previous_obs, executed, label, step, n_placed)
        if on_step is not None:
            on_step(env)
        if info["success"] and done_at is None:
            done_at = step
        if done_at is not None and step - done_at >= settle_steps:
            break
        if (stop_on_manipulation and step % FAILURE_CHECK_STEPS == 0
                and env.outcome() == MANIPULATION):
            break
    return trace


def controller_observation(env, measured_obs: np.ndarray, compensate: bool) -> np.ndarray:
    """(3B+2,) what the policy acts on: `measured_obs` (env's own), or the predicted one."""
    if not compensate:
        return measured_obs
    return command_prediction.observation(controller_scene(env, True, perceived=True))


def step_env(env, action, compensate: bool) -> tuple[np.ndarray, dict]:
    """env.step, from the last command when compensating (env-likes without it still work)."""
    return env.step(action, from_command=True) if compensate else env.step(action)


def controller_scene(env, compensate: bool, perceived: bool = False) -> Scene:
    """What a controller acts on in StackingEnv `env`: the measured scene or, compensating
    latency, the one its commands in flight will leave. `perceived`: the blocks as perception
    reports them (the policy's view), else the true ones (the scripted demonstrator's)."""
    blocks = env.perceived_block_positions() if perceived else env.block_positions()  # (B, 3)
    measured = Scene(env.gripper_position(), env.gripper_state(), blocks)
    if not compensate:
        return measured
    _, gap_m = env.joint_targets()
    return command_prediction.predict_scene(measured, env.commanded_gripper_position(), gap_m,
                                            env.config)
