"""StackingEnv: the Fetch arm and 2-10 cubes on a table, controlled by (dx, dy, dz, grip).

    env = StackingEnv()
    obs = env.reset("ab cd", seed=0)          # (3B+2,) float32, see robot.ObsLayout
    obs, info = env.step([0.01, 0, 0, 1])     # end-effector displacement (m) + open(>0)/close
    env.is_success(), env.outcome()

A control step: FK of the measured joints (Pinocchio) + clipped displacement -> target clamped to
the workspace -> top-down IK seeded at the measured joints -> PyBullet position control for
physics_hz / control_hz physics steps. The same displacement -> joint-target path runs in the ROS
imitator, so sim and real arm see identical commands.

A real arm's controller (latency, tracking lag, velocity limit: sim/actuation.py) and perception
(block-pose noise and dropped frames: sim/perception.py) are WorldConfig settings, off by
default; with them on, the policy observes the perceived blocks, and get_state() snapshots leave
out the commands in flight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oneshot_ros.config import from_dict
from oneshot_ros.sim.actuation import Actuation
from oneshot_ros.sim.perception import Perception
from oneshot_ros.sim.quiet import pybullet
from oneshot_ros.sim.scene import Scene
from oneshot_ros.world import control, layout, success
from oneshot_ros.world.kinematics import FetchKinematics
from oneshot_ros.world.robot import ARM_JOINTS, FINGER_JOINTS, HOME_ARM, TORSO_JOINT
from oneshot_ros.world.tasks import Task, parse_task
from oneshot_ros.world.world_config import WorldConfig


@dataclass
class SimState:
    """The complete physical state: plain arrays, valid in any StackingEnv with the same config.

    get_state() re-materialises the world from the snapshot it returns (rebuild + restore), so
    the trajectory after get_state() and after any later reset_to(state) are bit-identical.
    """

    task: str
    seed: int
    step: int
    arm_target: np.ndarray  # (7,) commanded joint targets
    gap_target: float  # m
    joints: np.ndarray  # (J, 2) position, velocity of every robot joint (PyBullet order)
    blocks: np.ndarray  # (B, 13) position (3), quaternion xyzw (4), linear (3), angular (3) vel


class StackingEnv:
    def __init__(self, config: WorldConfig | None = None):
        self.config = config or WorldConfig()
        self.scene = Scene(self.config)
        self.kin = FetchKinematics()
        self.actions = self.config.action_layout
        self.actuation = Actuation(self.config)
        self.perception = Perception(self.config)
        self.task: Task | None = None
        self.seed = 0
        self.n_steps = 0
        self._arm_target = np.array(HOME_ARM)
        self._gap_target = self.config.open_gap_m
        self._measured: dict = {}  # reads of the current physics state; cleared when it changes

    # --- episode control ----------------------------------------------------------------------
    def reset(self, task: str | Task, seed: int) -> np.ndarray:
        self.task = task if isinstance(task, Task) else parse_task(task)
        self.seed, self.n_steps = int(seed), 0
        rng = np.random.default_rng(self.seed)
        self.scene.build()  # history-independent episodes (~40 ms)
        self.scene.set_blocks(self.task.n_blocks)
        self.scene.place_blocks(layout.sample_start(self.config, self.task.n_blocks, rng))
        self.scene.arm.reset_joints(HOME_ARM)
        self._arm_target, self._gap_target = np.array(HOME_ARM), self.config.open_gap_m
        for _ in range(int(self.config.settle_s * self.config.physics_hz)):
            self.scene.client.stepSimulation()
        self.refresh()
        self.actuation.reset(self._arm_target, self._gap_target)
        self.perception.reset(self.seed, self.block_positions())
        return self.observation()

    @property
    def horizon(self) -> int:
        return self.config.horizon(self._require_task().n_stages)

    def step(self, action, from_command: bool = False) -> tuple[np.ndarray, dict]:
        """Apply one control step; returns (obs, info). Bad actions raise ValueError.

        from_command: displace the gripper from the last commanded joint targets instead of the
        measured joints (latency compensation, world/command_prediction.py: a command still in
        flight is not issued again)."""
        self._require_task()
        if from_command:
            origin, gripper = self._arm_target, self.commanded_gripper_position()
        else:
            origin, gripper = self._arm_q(), self.gripper_position()
        command = control.action_to_command(self.kin, origin, self._torso(), action,
                                            self.config, gripper=gripper,
                                            blocks=self._block_poses()[0])
        info = {"ik_failed": command.arm_q is None}
        if command.arm_q is not None:  # IK failed: hold the previous joint target
            self._arm_target = command.arm_q
        self._gap_target = command.gap_m
        self.advance()
        view = self._goal_view()  # one set of contact queries per step, shared below
        info["success"], info["n_placed"] = success.is_success(view), success.n_placed_prefix(view)
        return self.observation(), info

    def command_joints(self, arm_q, gap_m: float):
        """Joint-level command (the ROS sim driver's path): 7 arm targets + finger gap (m)."""
        arm_q = np.asarray(arm_q, dtype=np.float64)
        if arm_q.shape != (len(ARM_JOINTS),) or not np.all(np.isfinite(arm_q)):
            raise ValueError(f"arm command must be 7 finite joint positions, got {arm_q}")
        self._arm_target = arm_q.copy()
        self._gap_target = float(np.clip(gap_m, 0.0, 0.1))

    def joint_targets(self) -> tuple[np.ndarray, float]:
        """The joint command in force: (7,) arm targets and the finger gap (m). After reset
        it holds the home pose, which is what a driver must keep commanding until the first
        command arrives (another pose moves the arm onto another IK branch)."""
        return self._arm_target.copy(), self._gap_target

    def advance(self):
        """Run one control period of physics with the current joint targets."""
        step, arm = self.scene.client.stepSimulation, self.scene.arm
        if not self.actuation.active:
            arm.command(self._arm_target, self._gap_target)
            for _ in range(self.config.substeps):
                step()
        else:  # a real arm's controller: the setpoint changes every physics step
            self.actuation.command(self._arm_target, self._gap_target)
            for _ in range(self.config.substeps):
                arm.command(*self.actuation.substep())
                step()
        self.refresh()
        self.perception.update(self.block_positions())
        self.n_steps += 1

    # --- reading the world ----------------------------------------------------------------------
    def observation(self) -> np.ndarray:
        self._require_task()
        return control.observe(self.kin, self._arm_q(), self._torso(), self.gripper_state(),
                               self.perceived_block_positions(),
                               gripper=self.gripper_position())

    def block_positions(self) -> np.ndarray:
        return self._block_poses()[0].copy()

    def perceived_block_positions(self) -> np.ndarray:
        """(B, 3) what perception reports (the truth unless block_pose_noise_m/dropout)."""
        if not self.perception.active:
            return self.block_positions()
        return self.perception.observed.copy()

    def gripper_position(self) -> np.ndarray:
        return self._read("gripper", lambda: self.kin.fk(self._arm_q(), self._torso())[0]).copy()

    def commanded_gripper_position(self) -> np.ndarray:
        """(3,) FK of the arm's joint command in force: where the gripper goes once the
        commands in flight have landed (the measured position when they have)."""
        return self.kin.fk(self._arm_target, self._torso())[0]  # not cached: command_joints

    def gripper_state(self) -> np.ndarray:
        return self._read("fingers", self.scene.arm.finger_positions).copy()

    def refresh(self):
        """Forget the cached reads of the physics state. step/advance/reset/reset_to do this
        themselves; call it after moving bodies directly through `env.scene`."""
        self._measured.clear()

    # One physics state is read by the expert, the command, the observation and the success
    # check of a step: read it once (pure functions of the state, so results are identical).
    def _read(self, key: str, compute):
        if key not in self._measured:
            self._measured[key] = compute()
        return self._measured[key]

    def _arm_q(self) -> np.ndarray:
        return self._read("arm", self.scene.arm.arm_positions)

    def _torso(self) -> float:
        return self._read("torso", self.scene.arm.torso_position)

    def _block_poses(self) -> tuple[np.ndarray, np.ndarray]:
        return self._read("blocks", self.scene.block_poses)

    def joint_positions(self) -> dict[str, float]:
        arm = self.scene.arm
        names = (TORSO_JOINT, *ARM_JOINTS, *FINGER_JOINTS)
        values = [arm.torso_position(), *arm.arm_positions(), *arm.finger_positions()]
        return dict(zip(names, map(float, values), strict=True))

    def is_success(self) -> bool:
        return success.is_success(self._goal_view())

    def outcome(self) -> str:
        return success.classify(self._goal_view())

    def n_placed(self) -> int:
        """Stages done in build order (the prefix of task.placements that holds)."""
        return success.n_placed_prefix(self._goal_view())

    def _goal_view(self) -> success.GoalView:
        pos, quat = self._block_poses()
        return success.GoalView(self._require_task(), self.config, pos, quat,
                                self._read("touching", self._fingers_touching))

    def _fingers_touching(self) -> set[int]:
        """Blocks in contact with a finger pad: one contact query per finger link."""
        arm, c = self.scene.arm, self.scene.client
        index = {body: k for k, body in enumerate(self.scene.blocks)}
        return {index[contact[2]] for f in arm.fingers
                for contact in c.getContactPoints(bodyA=arm.body, linkIndexA=f)
                if contact[2] in index}

    def _require_task(self) -> Task:
        if self.task is None:
            raise RuntimeError("call reset(task, seed) before using the environment")
        return self.task

    # --- snapshots and rendering ----------------------------------------------------------------
    def get_state(self) -> SimState:
        task = self._require_task()
        state = SimState(task.string, self.seed, self.n_steps, self._arm_target.copy(),
                         self._gap_target, self.scene.arm.joint_states(),
                         self.scene.block_states())
        self._materialise(state)  # contact caches are not part of the state: drop them here too
        return state

    def reset_to(self, state: SimState) -> np.ndarray:
        """Put the world exactly into `state` (from get_state of an env with this config)."""
        task = parse_task(state.task)
        if state.blocks.shape != (task.n_blocks, 13):
            raise ValueError(f"state has {len(state.blocks)} blocks but task {task} needs "
                             f"{task.n_blocks}; pass a state from get_state()")
        self.task, self.seed, self.n_steps = task, state.seed, state.step
        self._materialise(state)
        return self.observation()

    def _materialise(self, state: SimState):
        self.scene.build()
        self.scene.set_blocks(len(state.blocks))
        self.scene.set_block_states(state.blocks)
        self.scene.arm.set_joint_states(state.joints)
        self._arm_target, self._gap_target = state.arm_target.copy(), state.gap_target
        self.scene.arm.command(self._arm_target, self._gap_target)
        self.refresh()
        self.actuation.reset(self._arm_target, self._gap_target)
        self.perception.reset(state.seed + state.step, self.block_positions())

    def render(self, width: int | None = None, height: int | None = None) -> np.ndarray:
        """(H, W, 3) uint8 RGB from the CPU (TinyRenderer) camera, looking at the table."""
        w, h = width or self.config.render_width, height or self.config.render_height
        c = self.scene.client
        view = c.computeViewMatrixFromYawPitchRoll(
            cameraTargetPosition=[0.6, 0.0, self.config.table_height_m + 0.12],
            distance=1.25, yaw=60, pitch=-30, roll=0, upAxisIndex=2)
        proj = c.computeProjectionMatrixFOV(fov=50, aspect=w / h, nearVal=0.05, farVal=5.0)
        img = c.getCameraImage(w, h, view, proj, renderer=pybullet.ER_TINY_RENDERER)
        return np.asarray(img[2], dtype=np.uint8).reshape(h, w, 4)[:, :, :3]

    def close(self):
        self.scene.close()


def make_env(world_config: dict) -> StackingEnv:
    """StackingEnv for a stored world config (a dict of WorldConfig fields)."""
    return StackingEnv(from_dict(WorldConfig, world_config, "world config"))
