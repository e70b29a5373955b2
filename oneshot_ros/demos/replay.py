"""Re-simulate a stored demonstration: reset(task, seed) and the stored executed actions."""

from __future__ import annotations

import numpy as np

from oneshot_ros.data.episode import Episode
from oneshot_ros.demos.episode_loop import controller_observation, step_env
from oneshot_ros.errors import InputError
from oneshot_ros.sim.env import make_env


def replay(episode: Episode, world_config: dict, every: int = 1,
           on_frame=None, compensate: bool = False) -> float:
    """Step a fresh env through `episode`; calls on_frame(env.render()) every `every` steps.

    Returns the largest |re-simulated - stored| observation value (m): 0 when the world and the
    code are the ones that recorded it (collection uses a fresh env per episode too).
    `compensate`: the episode was made with latency compensation (episode_loop.run_loop).
    """
    if every < 1:
        raise InputError(f"every={every}: render every k >= 1 steps")
    env = make_env(world_config)
    try:
        obs, error = env.reset(episode.task, episode.seed), 0.0
        for step, action in enumerate(episode.actions):
            obs = controller_observation(env, obs, compensate)
            error = max(error, _difference(obs, episode.obs[step], step))
            if on_frame is not None and step % every == 0:
                on_frame(env.render())
            obs, _ = step_env(env, action, compensate)
        if on_frame is not None:
            on_frame(env.render())  # the final state
        return error
    finally:
        env.close()


def _difference(simulated: np.ndarray, stored: np.ndarray, step: int) -> float:
    """Largest |simulated - stored|; refuses NaN/inf (max() would silently report 0 for NaN)."""
    if not np.isfinite(stored).all():
        raise InputError(f"the stored observation at step {step} holds NaN or inf; the "
                         "demonstration is damaged, there is nothing to compare against")
    difference = float(np.max(np.abs(simulated - stored)))
    return difference if np.isfinite(difference) else float("inf")  # a diverged simulation
