"""World speed: physics and control rates, real-time factor, where the time goes.

    python bench/bench_world.py [--episodes 3]

For 2, 6 and 10 blocks (one process, one core): stepSimulation/s, control steps/s, real-time
factor (simulated s per wall s) and the split between physics, IK (+FK), observation and the
scripted expert's decisions, measured over scripted episodes that build the towers; plus the wall
time of a scripted 4-stage episode. "world" real time excludes the expert (the agent), as the
MuJoCo figure (random actions) does; "+expert" includes it.
If gymnasium-robotics with mujoco<3.12 is installed, FetchPickAndPlace-v4 (MuJoCo, one block,
25 Hz) is measured in the same run and both real-time factors are printed side by side, with our
figures scaled to a reference machine on which the same MuJoCo env was measured (below):
this machine's speed drifts by +-25% between runs, and the ratio to MuJoCo does not.
"""

from __future__ import annotations

import argparse
import statistics
import time

from oneshot_ros.demos.demonstrator import ScriptedStacker, run_episode
from oneshot_ros.sim.env import StackingEnv
from oneshot_ros.world import control

TASKS = {2: "ab", 6: "abc def", 10: "abcde fghij"}  # 1, 4 and 8 stages
# FetchPickAndPlace-v4 real-time factor on the reference machine, by mujoco version
# (measured there with random actions, median of 5 x 10,000 steps).
REFERENCE_MUJOCO_RTF = {"3.3.7": 51.0, "3.11.0": 61.0}


class Timers:
    """Wraps the env's physics, IK and observation calls with perf_counter accumulators."""

    def __init__(self, env: StackingEnv):
        self.t = {"physics": 0.0, "ik": 0.0, "observation": 0.0, "expert": 0.0}
        self.physics_steps = 0
        client = env.scene.client
        step_sim, to_command, observe = client.stepSimulation, control.action_to_command, \
            env.observation

        def timed_step():
            t0 = time.perf_counter()
            step_sim()
            self.t["physics"] += time.perf_counter() - t0
            self.physics_steps += 1

        def timed_command(*args, **kwargs):
            t0 = time.perf_counter()
            out = to_command(*args, **kwargs)
            self.t["ik"] += time.perf_counter() - t0
            return out

        def timed_observe():
            t0 = time.perf_counter()
            out = observe()
            self.t["observation"] += time.perf_counter() - t0
            return out

        act = ScriptedStacker.act

        def timed_act(stacker, *args, **kwargs):
            t0 = time.perf_counter()
            out = act(stacker, *args, **kwargs)
            self.t["expert"] += time.perf_counter() - t0
            return out

        client.stepSimulation = timed_step
        control.action_to_command = timed_command
        env.observation = timed_observe
        ScriptedStacker.act = timed_act
        self._restore = lambda: (setattr(control, "action_to_command", to_command),
                                 setattr(ScriptedStacker, "act", act))

    def close(self):
        self._restore()


def bench_blocks(n_blocks: int, episodes: int) -> dict:
    env = StackingEnv()
    timers = Timers(env)
    control_steps, wall, succ, recorded = 0, 0.0, 0, []
    for seed in range(episodes):
        t0 = time.perf_counter()
        ep = run_episode(env, TASKS[n_blocks], seed)
        wall += time.perf_counter() - t0
        control_steps += ep.length
        succ += ep.success
        recorded.append((seed, ep.actions))
    timers.close()
    replay_wall = _replay_wall(recorded, TASKS[n_blocks])
    sim_s = control_steps / env.config.control_hz
    share = {k: 100 * v / wall for k, v in timers.t.items()}
    world_wall = wall - timers.t["expert"]  # the world alone, as the MuJoCo figure is measured
    env.close()
    return {"blocks": n_blocks, "physics_steps_s": timers.physics_steps / wall,
            "control_steps_s": control_steps / wall, "rtf": sim_s / wall,
            "world_rtf": sim_s / world_wall, "replay_rtf": sim_s / replay_wall, "share": share,
            "success": f"{succ}/{episodes}"}


def _replay_wall(recorded, task: str, repeats: int = 3) -> float:
    """Wall time of reset + the recorded actions in a fresh env, no timers: the world alone
    (episodes depend only on (task, seed), so this re-simulates them exactly). Best of
    `repeats`: the replay is deterministic, so the fastest run is the least disturbed one."""
    env = StackingEnv()
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for seed, actions in recorded:
            env.reset(task, seed)
            for action in actions:
                env.step(action)
        walls.append(time.perf_counter() - t0)
    env.close()
    return min(walls)


def bench_four_stage(episodes: int) -> float:
    env = StackingEnv()
    walls = []
    for seed in range(episodes):
        t0 = time.perf_counter()
        run_episode(env, "ab cd ef gh", seed)
        walls.append(time.perf_counter() - t0)
    env.close()
    return statistics.median(walls)


def bench_mujoco_fetch(steps: int = 2000, repeats: int = 3) -> tuple[float, str] | None:
    """-> (real-time factor, best of `repeats` runs as for our replays; mujoco version),
    or None when gymnasium-robotics is missing."""
    try:
        import gymnasium as gym
        import gymnasium_robotics
        import mujoco
    except ImportError:
        return None
    gym.register_envs(gymnasium_robotics)
    env = gym.make("FetchPickAndPlace-v4")
    env.reset(seed=0)
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            _, _, term, trunc, _ = env.step(env.action_space.sample())
            if term or trunc:
                env.reset()
        walls.append(time.perf_counter() - t0)
    return steps * 0.04 / min(walls), mujoco.__version__  # 25 Hz: 0.04 s of sim per step


def print_comparison(rows: list[dict], measured: tuple[float, str]) -> None:
    mujoco_rtf, version = measured
    ours = {r["blocks"]: r["replay_rtf"] for r in rows}
    print(f"real-time factor (world): FetchPickAndPlace-v4 (MuJoCo {version}, 1 block) "
          f"{mujoco_rtf:.1f}x | oneshot_ros 2 blocks {ours[2]:.1f}x, 10 blocks {ours[10]:.1f}x "
          f"| ratio 10 blocks / MuJoCo {ours[10] / mujoco_rtf:.2f}")
    reference = REFERENCE_MUJOCO_RTF.get(version)
    if reference is None:
        print(f"no reference figure for mujoco {version}: pin mujoco 3.11.0 to scale")
        return
    scale = reference / mujoco_rtf
    print(f"scaled to the reference machine (MuJoCo {reference:.0f}x there, x{scale:.2f}): "
          + ", ".join(f"{n} blocks {rtf * scale:.1f}x" for n, rtf in ours.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=3)
    args = ap.parse_args()
    print("real-time x: replay = reset + the episodes' recorded actions, untimed inside, best "
          "of 3 (the world alone, as the MuJoCo figure); world = the timed run minus the "
          "expert's time; +expert = with the scripted demonstrator's decisions")
    print("blocks  stepSimulation/s  control steps/s  real-time x replay  world  +expert  "
          "physics/IK/obs/expert/other %  ok")
    rows = [bench_blocks(n, args.episodes) for n in TASKS]
    for r in rows:
        s = r["share"]
        other = 100 - s["physics"] - s["ik"] - s["observation"] - s["expert"]
        print(f"{r['blocks']:>6}  {r['physics_steps_s']:16.0f}  {r['control_steps_s']:15.0f}  "
              f"{r['replay_rtf']:18.1f}  {r['world_rtf']:5.1f}  {r['rtf']:7.1f}  "
              f"{s['physics']:.0f}/{s['ik']:.0f}/"
              f"{s['observation']:.0f}/{s['expert']:.0f}/{other:.0f}  {r['success']}")
    print(f"scripted 4-stage episode (ab cd ef gh), median wall: "
          f"{bench_four_stage(args.episodes):.2f} s")
    mujoco = bench_mujoco_fetch()
    if mujoco is None:
        print("gymnasium-robotics not installed: pip install gymnasium-robotics 'mujoco<3.12'")
    else:
        print_comparison(rows, mujoco)


if __name__ == "__main__":
    main()
