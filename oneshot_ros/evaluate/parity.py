"""Execution parity: how far the arm moves per control step toward what was commanded.

    states, commands = pair_commands(events)    # arrival-ordered ("state"|"command", q (7,))
    ratio, n = move_ratio(states, commands, kin, torso_m)
    result = sim_expert_episode("ab", seed=0)   # the same measure in StackingEnv
    result = ros_result(events, status)         # over ROS (nodes.parity records them)

move ratio = sum over steps of (achieved gripper displacement . commanded direction) / sum of
|commanded displacement|: commanded = FK(joint command) - FK(measured joints it was computed
from), achieved = FK(next measured) - FK(measured), over steps commanding more than MIN_MOVE_M.
PyBullet's servo reaches ~70 % of a step within its period, so the ratio that matters is the
ROS path's over StackingEnv's on the same episode (1.0 = one execution model). Plain numpy.
"""

from __future__ import annotations

import numpy as np

from oneshot_ros.demos.demonstrator import ScriptedStacker
from oneshot_ros.demos.episode_loop import run_loop
from oneshot_ros.sim.env import StackingEnv
from oneshot_ros.world.kinematics import FetchKinematics
from oneshot_ros.world.world_config import WorldConfig

MIN_MOVE_M = 0.002  # m; shorter commanded moves (grasp, pauses) are left out


def move_ratio(q_states: list, q_commands: list, kin, torso_m: float) -> tuple[float, int]:
    """(ratio, steps counted); q_commands[k] (7,) or None was computed from q_states[k], and
    q_states[k + 1] is the state after it."""
    achieved_sum = commanded_sum = 0.0
    n = 0
    for k in range(min(len(q_commands), len(q_states) - 1)):
        if q_commands[k] is None:
            continue
        here = kin.fk(q_states[k], torso_m)[0]  # (3,)
        commanded = kin.fk(q_commands[k], torso_m)[0] - here
        size = float(np.linalg.norm(commanded))
        if size < MIN_MOVE_M:
            continue
        achieved = kin.fk(q_states[k + 1], torso_m)[0] - here
        achieved_sum += float(achieved @ commanded) / size
        commanded_sum += size
        n += 1
    return (achieved_sum / commanded_sum if commanded_sum else float("nan")), n


def pair_commands(events: list) -> tuple[list, list]:
    """Arrival-ordered ("state", q) / ("command", q) events -> the states from the one before
    the first command on, and for each the first command that followed it (None: none came
    before the next state)."""
    first = next((i for i, (kind, _) in enumerate(events) if kind == "command"), None)
    if first is None:
        return [], []
    states, commands = [], []
    for kind, q in events[max(first - 1, 0):]:
        if kind == "state":
            states.append(q)
            commands.append(None)
        elif commands and commands[-1] is None:
            commands[-1] = q
    return states, commands


def sim_expert_episode(task: str, seed: int, max_steps: int | None = None) -> dict:
    """The noise-free scripted demonstrator in StackingEnv: steps, success, move ratio."""
    env = StackingEnv()
    try:
        expert = ScriptedStacker(task, env.config, noise_std=0.0)
        obs = env.reset(task, seed)
        states, commands = [env.scene.arm.arm_positions()], []

        def choose(obs, n_placed):
            action, _ = expert.act(env.gripper_position(), env.gripper_state(),
                                   env.block_positions())
            return action, action

        def on_step(env):
            commands.append(env.joint_targets()[0])
            states.append(env.scene.arm.arm_positions())

        trajectory = run_loop(env, obs, max_steps or env.horizon, choose, on_step=on_step)
        ratio, n = move_ratio(states, commands, env.kin, env.config.torso_m)
        return {"steps": len(trajectory), "success": env.is_success(), "move_ratio": ratio,
                "moves": n}
    finally:
        env.close()


def ros_result(events: list, status: dict) -> dict:
    """The same measures from an episode over ROS: arrival-ordered state/command events and
    the sim driver's final ~/status (steps counted from the first command)."""
    states, commands = pair_commands(events)
    ratio, n = move_ratio(states, commands, FetchKinematics(), WorldConfig().torso_m)
    return {"steps": status["step"] - status["first_command_step"],
            "success": status["success"], "outcome": status["outcome"], "move_ratio": ratio,
            "moves": n, "missed_periods": status["missed_periods"],
            "late_commands": status["late_commands"]}
