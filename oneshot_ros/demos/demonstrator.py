"""ScriptedStacker: the closed-loop scripted demonstrator (and DAgger's expert labeller).

Every call to `act` decides from the CURRENT scene (gripper position, finger state, block
positions) alone, so it can take over from any state another policy reached, including after a
drop. The phase is recomputed every step:

    stage   = first placement in build order (towers left to right, each bottom-up) that does
              not hold geometrically, or whose block is still in the hand
    phases  = approach (rise to a safe height, traverse, stop above the block)
              -> descend -> grasp (close) -> lift -> carry (at a safe height) -> place
              (lower until the block is just above its support) -> release -> retreat

Sideways motion happens only at a safe height: preferably CLEARANCE_M above every standing
block; where that is above the arm's reach at either end of the move (beside a tower of 8-9
blocks), or above the world's `carry_ceiling_m` (when set), as high as the arm reaches there or
the ceiling, but still MIN_CLEARANCE_M above every block near the path. Descents (descend,
place) re-centre xy at full gain every step, so a long way down does not drift out of
alignment. Noise: i.i.d. Gaussian noise with std `noise_std` (m per step) is added to dx, dy, dz
of the EXECUTED action (never to the gripper command); the noise-free action is the training
label. Because the machine is closed-loop, the next step corrects what the noise did.
"""

from __future__ import annotations

import numpy as np

from oneshot_ros.data.episode import Episode
from oneshot_ros.demos.episode_loop import SETTLE_STEPS, controller_scene, run_loop
from oneshot_ros.demos.human_style import HORIZON_FACTOR, HumanStyle
from oneshot_ros.world import layout
from oneshot_ros.world.grasp import GRASP_OFFSET_M, Scene, held_block
from oneshot_ros.world.robot import ActionLayout
from oneshot_ros.world.success import SUCCESS
from oneshot_ros.world.tasks import Task, parse_task
from oneshot_ros.world.world_config import WorldConfig

DEFAULT_NOISE_STD_M = 0.002  # m per control step on dx, dy, dz (max step is 0.015)
CLEARANCE_M = 0.05  # carried block bottom / fingertips above the highest standing block
MIN_CLEARANCE_M = 0.015  # ... above the blocks near the path, when CLEARANCE_M is out of reach
CORRIDOR_M = 0.12  # a block this close (xy) to a sideways move is near its path
REACH_MARGIN_M = 0.01  # stay this far below the reachable height (layout.clamp_target)
ALIGN_TOL_M = 0.006  # xy alignment before descending
XY_CORRECTION_M = 0.006  # largest xy correction per step while descending
RELEASE_GAP_M = 0.006  # block bottom above its support top when the fingers open


class ScriptedStacker:
    def __init__(self, task: str | Task, config: WorldConfig | None = None,
                 noise_std: float = DEFAULT_NOISE_STD_M, seed: int = 0):
        self.task = task if isinstance(task, Task) else parse_task(task)
        self.config = config or WorldConfig()
        self.layout = ActionLayout(self.config.max_step_m)
        self.noise_std = float(noise_std)
        if not 0.0 <= self.noise_std <= self.config.max_step_m:
            raise ValueError(f"noise_std={noise_std} m: use 0..{self.config.max_step_m}")
        self.rng = np.random.default_rng(seed)
        self.phase = "start"

    # --- public API -------------------------------------------------------------------------
    def act(self, gripper_pos, gripper_state, block_pos) -> tuple[np.ndarray, np.ndarray]:
        """(executed action with noise, noise-free expert action), both (4,)."""
        scene = Scene(np.asarray(gripper_pos, float), np.asarray(gripper_state, float),
                      np.asarray(block_pos, float).reshape(-1, 3))
        expert = self.expert_action(scene)
        executed = expert.copy()
        if self.noise_std > 0:
            executed[self.layout.MOVE] += self.rng.normal(0.0, self.noise_std, 3)
        return self.layout.validate(executed), expert

    def expert_action(self, scene: Scene) -> np.ndarray:
        held = held_block(scene, self.config)
        stage = self._current_stage(scene, held)
        if stage is None:
            self.phase = "retreat"
            return self._move(scene, self._above(scene.gripper[:2], scene), open_=True)
        block, support = stage
        if held is not None and held != block:
            self.phase = "release_wrong"
            return self._action(np.zeros(3), open_=True)
        if held == block:
            return self._carry_and_place(scene, block, support)
        return self._approach_and_grasp(scene, block)

    # --- scene reading ----------------------------------------------------------------------
    def _resting_on(self, scene: Scene, upper: int, lower: int) -> bool:
        p, cfg = scene.blocks, self.config
        xy = np.linalg.norm(p[upper, :2] - p[lower, :2]) < cfg.place_tolerance_xy_m
        return bool(xy and abs(p[upper, 2] - p[lower, 2] - cfg.block_size_m)
                    < cfg.place_tolerance_z_m)

    def _current_stage(self, scene: Scene, held: int | None) -> tuple[int, int] | None:
        for block, support in self.task.placements:
            if block == held or not self._resting_on(scene, block, support):
                return block, support
        return None

    def _safe_z(self, scene: Scene, xy_to, exclude: int | None = None) -> float:
        """gripper_link height for moving sideways from the gripper to `xy_to`.

        Preferred: the fingertips (or the carried cube, `exclude`) CLEARANCE_M above the highest
        standing block. Near a tall tower that height can exceed the arm's reach at the radius
        of either end of the move (layout.clamp_target), and a target the arm cannot reach
        would stall the machine; so it is capped at the reachable height, but never below
        MIN_CLEARANCE_M above every block within CORRIDOR_M of the straight path. The reach
        depends on the gripper's distance from the arm's base, which a policy observing blocks
        relative to the gripper cannot see; `carry_ceiling_m` (a height above the table, read
        off any block on it) caps the preferred height the same way at every radius.
        """
        others = np.delete(scene.blocks, [] if exclude is None else [exclude], axis=0)
        tops = others[:, 2] + self.config.block_size_m / 2  # (B',)
        hang = self.config.block_size_m if exclude is not None else 0.031  # below gripper_link
        lift = hang + GRASP_OFFSET_M
        preferred = tops.max() + CLEARANCE_M + lift
        near = _distance_to_segment(others[:, :2], scene.gripper[:2], xy_to) < CORRIDOR_M
        floor = tops[near].max(initial=self.config.table_height_m) + MIN_CLEARANCE_M + lift
        reach = min(self._reach_z(scene.gripper[:2]), self._reach_z(xy_to)) - REACH_MARGIN_M
        return max(floor, min(preferred, reach, self._ceiling_z))

    @property
    def _ceiling_z(self) -> float:
        """The configured carry ceiling as a gripper_link height (inf when off)."""
        ceiling = self.config.carry_ceiling_m
        return self.config.table_height_m + ceiling if ceiling > 0 else np.inf

    def _reach_z(self, xy) -> float:
        """Highest gripper_link target the control loop accepts above `xy` (its clamp)."""
        return float(layout.clamp_target(self.config, np.array([xy[0], xy[1], 10.0]))[2])

    def _above(self, xy, scene: Scene, exclude: int | None = None) -> np.ndarray:
        return np.array([xy[0], xy[1], self._safe_z(scene, xy, exclude)])

    # --- phases -----------------------------------------------------------------------------
    def _approach_and_grasp(self, scene: Scene, block: int) -> np.ndarray:
        target = scene.blocks[block]
        xy_err = np.linalg.norm(target[:2] - scene.gripper[:2])
        grasp_z = target[2] + GRASP_OFFSET_M
        open_now = scene.fingers.mean() > 0.9 * self.config.open_gap_m / 2
        if xy_err > ALIGN_TOL_M * 2 or (xy_err > ALIGN_TOL_M and not open_now):
            return self._traverse(scene, target[:2], None, True, ("approach", "approach"))
        if scene.gripper[2] - grasp_z > 0.004:
            if not open_now:  # e.g. after a drop: open before going down over the block
                self.phase = "open"
                return self._action(np.zeros(3), open_=True)
            self.phase = "descend"
            goal = np.array([target[0], target[1], grasp_z])
            return self._descend(scene, goal, open_=True)
        self.phase = "grasp"
        return self._move(scene, np.array([target[0], target[1], grasp_z]), open_=False)

    def _carry_and_place(self, scene: Scene, block: int, support: int) -> np.ndarray:
        carried, under = scene.blocks[block], scene.blocks[support]
        offset = scene.gripper - carried  # keep the grasp offset: aim the BLOCK, not the hand
        xy_err = np.linalg.norm(under[:2] - carried[:2])
        release_z = under[2] + self.config.block_size_m + RELEASE_GAP_M
        if xy_err > ALIGN_TOL_M:
            return self._traverse(scene, under[:2] + offset[:2], block, False, ("lift", "carry"))
        if carried[2] - release_z > 0.003:
            self.phase = "place"
            goal = np.array([*(under[:2] + offset[:2]), release_z + offset[2]])
            return self._descend(scene, goal, open_=False)
        self.phase = "release"
        return self._action(np.zeros(3), open_=True)

    def _traverse(self, scene: Scene, xy, exclude: int | None, open_: bool,
                  phases: tuple[str, str]) -> np.ndarray:
        """Rise vertically to the safe height, then move sideways at it (phases: rise, move)."""
        safe = self._safe_z(scene, xy, exclude)
        if scene.gripper[2] < safe - 0.01:
            self.phase = phases[0]
            return self._move(scene, np.array([*scene.gripper[:2], safe + 0.01]), open_=open_)
        self.phase = phases[1]
        return self._move(scene, np.array([xy[0], xy[1], safe]), open_=open_)

    def _speed(self, scene: Scene, goal_z: float) -> float:
        """Slow down over the last 4 cm of a descent, for precise grasps and placements."""
        return self.config.max_step_m * (0.35 if scene.gripper[2] - goal_z < 0.04 else 0.8)

    def _descend(self, scene: Scene, goal: np.ndarray, open_: bool) -> np.ndarray:
        """Lower towards `goal` at _speed and re-centre xy at full gain every step.

        Scaling the whole displacement to the descent speed would leave xy a few per cent of
        each step: over a long descent (e.g. from above a tall tower) the injected noise then
        drifts past the alignment tolerance and the machine climbs back up to re-align.
        """
        delta = goal - scene.gripper  # (3,)
        xy_norm = np.linalg.norm(delta[:2])
        if xy_norm > XY_CORRECTION_M:
            delta[:2] *= XY_CORRECTION_M / xy_norm
        speed = self._speed(scene, goal[2])
        delta[2] = np.clip(delta[2], -speed, speed)
        return self._action(delta, open_)

    def _move(self, scene: Scene, goal: np.ndarray, open_: bool,
              speed: float | None = None) -> np.ndarray:
        delta = goal - scene.gripper
        limit = speed if speed is not None else 0.8 * self.config.max_step_m
        dist = np.linalg.norm(delta)
        if dist > limit:
            delta *= limit / dist
        return self._action(delta, open_)

    def _action(self, delta: np.ndarray, open_: bool) -> np.ndarray:
        grip = self.layout.OPEN if open_ else self.layout.CLOSE
        return np.array([*delta, grip], dtype=np.float64)


def _distance_to_segment(points: np.ndarray, a, b) -> np.ndarray:
    """(N,) xy distance of points (N, 2) to the segment a-b."""
    a, b = np.asarray(a, float)[:2], np.asarray(b, float)[:2]
    ab = b - a
    t = np.clip((points - a) @ ab / max(ab @ ab, 1e-12), 0.0, 1.0)  # (N,)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


DEMO_STYLES = ("scripted", "human")


def run_episode(env, task: str | Task, seed: int, noise: float = DEFAULT_NOISE_STD_M,
                max_steps: int | None = None, settle_steps: int = SETTLE_STEPS,
                on_step=None, style: str = "scripted", compensate: bool = False) -> Episode:
    """Reset `env` to (task, seed) and let the demonstrator act until success or the horizon.

    The episode loop (episode_loop.run_loop) ends `settle_steps` after the goal first holds;
    stage_ends[k] is the step at which the k-th stage (build order) first held. style "human":
    the executed actions get a teleoperator's timing (human_style.HumanStyle: slower, held
    velocities, pauses, key-press grips) and the horizon is HORIZON_FACTOR times longer; the
    labels stay the noise-free expert's. compensate: latency compensation (episode_loop):
    the demonstrator acts on the scene its commands in flight will leave.
    """
    task = task if isinstance(task, Task) else parse_task(task)
    if style not in DEMO_STYLES:
        raise ValueError(f"style={style!r}: use one of {DEMO_STYLES}")
    obs = env.reset(task, seed)
    expert = ScriptedStacker(task, env.config, noise, seed=seed + 7919)
    human = HumanStyle(env.config, np.random.default_rng(seed + 104_729)) \
        if style == "human" else None
    horizon = max_steps or env.horizon * (HORIZON_FACTOR if human else 1)

    def choose(obs, n_placed):
        scene = controller_scene(env, compensate)  # true blocks: the demonstrator sees them
        executed, label = expert.act(scene.gripper, scene.fingers, scene.blocks)
        if human is not None:
            executed = human(executed)
        return executed.astype(np.float32), label  # what the dataset stores: replay is exact

    visited = run_loop(env, obs, horizon, choose, settle_steps, on_step, compensate=compensate)
    outcome = env.outcome()
    return Episode(task.string, seed, noise, np.array(visited.obs), np.array(visited.executed),
                   np.array(visited.labels), outcome == SUCCESS, outcome, visited.stage_ends)
