"""PyBullet scene: our Fetch URDF, a table and the cubes, in the env's own BulletClient.

Physics only: kinematics come from world.kinematics. Grasping is by friction between the
finger pads and the cube; nothing ever glues a block to the hand.
"""

from __future__ import annotations

import numpy as np

from oneshot_ros.sim.quiet import BulletClient, pybullet, silenced_stdout
from oneshot_ros.world.robot import (
    ARM_JOINTS,
    EE_LINK,
    FINGER_JOINTS,
    HOME_ARM,
    JOINT_LIMITS,
    TORSO_JOINT,
    urdf_path,
)
from oneshot_ros.world.world_config import WorldConfig

BLOCK_COLOURS = (  # a..j, distinct and readable in renders
    (0.90, 0.10, 0.10), (0.10, 0.60, 0.95), (0.15, 0.75, 0.20), (0.98, 0.80, 0.10),
    (0.60, 0.20, 0.80), (1.00, 0.50, 0.00), (0.05, 0.80, 0.75), (0.95, 0.40, 0.70),
    (0.45, 0.30, 0.15), (0.95, 0.95, 0.95),
)


class CachedBulletClient(BulletClient):
    """BulletClient whose bound functions are built once, not on every attribute access.

    BulletClient.__getattr__ runs inspect.isbuiltin + functools.partial on EVERY call
    (c.stepSimulation, c.getJointStates, ...): ~100k times per 10-block episode, 3% of its wall
    time. The partial binds this client's id, which never changes, so it can be kept.
    """

    def __getattr__(self, name):
        attribute = super().__getattr__(name)
        if name != "disconnect":  # disconnect also resets the id: never cache it
            self.__dict__[name] = attribute
        return attribute


class FetchArm:
    """The robot body: joint indices by name, finger gear, motor commands, state reads."""

    def __init__(self, client: BulletClient, config: WorldConfig):
        self.client, self.config = client, config
        # No self-collision: the closed finger pads touch (real Fetch), which Bullet would
        # resolve by throwing the fingers apart; the arm never folds onto itself over a table.
        self.body = client.loadURDF(urdf_path(), useFixedBase=True)
        index = {client.getJointInfo(self.body, i)[1].decode(): i
                 for i in range(client.getNumJoints(self.body))}
        links = {client.getJointInfo(self.body, i)[12].decode(): i
                 for i in range(client.getNumJoints(self.body))}
        self.torso = index[TORSO_JOINT]
        self.arm = [index[n] for n in ARM_JOINTS]
        self.fingers = [index[n] for n in FINGER_JOINTS]
        self.ee_link = links[EE_LINK]
        # The URDF keeps the real joint damping (fingers 100 N·s/m on 0.08 kg), which Bullet
        # integrates explicitly: unstable at 240 Hz. Position motors provide the damping here.
        for j in index.values():
            client.changeDynamics(self.body, j, jointDamping=0.0)
        self._gear_fingers()
        for f in self.fingers:
            client.changeDynamics(self.body, f, lateralFriction=config.finger_friction)
        self._max_force = [JOINT_LIMITS[n].effort for n in ARM_JOINTS]
        self._max_vel = [JOINT_LIMITS[n].velocity for n in ARM_JOINTS]

    def _gear_fingers(self):
        # PyBullet's URDF loader ignores <mimic>: a gear row keeps both fingers equal.
        c = self.client.createConstraint(
            self.body, self.fingers[0], self.body, self.fingers[1],
            jointType=pybullet.JOINT_GEAR, jointAxis=[1, 0, 0],
            parentFramePosition=[0, 0, 0], childFramePosition=[0, 0, 0])
        self.client.changeConstraint(c, gearRatio=-1, erp=0.1, maxForce=50)

    def reset_joints(self, arm_q=HOME_ARM, gap_m: float | None = None):
        gap = self.config.open_gap_m if gap_m is None else gap_m
        self.client.resetJointState(self.body, self.torso, self.config.torso_m)
        for j, q in zip(self.arm, arm_q, strict=True):
            self.client.resetJointState(self.body, j, q)
        for f in self.fingers:
            self.client.resetJointState(self.body, f, gap / 2)
        self.command(np.asarray(arm_q), gap)

    def command(self, arm_q: np.ndarray, gap_m: float):
        """Position targets for the 7 arm joints and the finger gap (held until replaced)."""
        c = self.client
        c.setJointMotorControl2(self.body, self.torso, pybullet.POSITION_CONTROL,
                                targetPosition=self.config.torso_m, force=450.0)
        c.setJointMotorControlArray(self.body, self.arm, pybullet.POSITION_CONTROL,
                                    targetPositions=list(arm_q), forces=self._max_force)
        half = float(np.clip(gap_m, 0.0, 0.1)) / 2
        c.setJointMotorControlArray(self.body, self.fingers, pybullet.POSITION_CONTROL,
                                    targetPositions=[half, half],
                                    forces=[self.config.finger_force_n] * 2)

    def joint_states(self) -> np.ndarray:
        """(J, 2) position and velocity of every joint, in PyBullet index order."""
        c = self.client
        states = c.getJointStates(self.body, range(c.getNumJoints(self.body)))
        return np.array([[s[0], s[1]] for s in states])

    def set_joint_states(self, states: np.ndarray):
        for j, (q, qd) in enumerate(states):
            self.client.resetJointState(self.body, j, q, qd)

    def arm_positions(self) -> np.ndarray:
        return np.array([s[0] for s in self.client.getJointStates(self.body, self.arm)])

    def finger_positions(self) -> np.ndarray:
        return np.array([s[0] for s in self.client.getJointStates(self.body, self.fingers)])

    def torso_position(self) -> float:
        return self.client.getJointState(self.body, self.torso)[0]


class Scene:
    """One DIRECT BulletClient holding the arm, a static table and up to 10 cubes."""

    def __init__(self, config: WorldConfig):
        self.config = config
        with silenced_stdout():
            self.client = CachedBulletClient(connection_mode=pybullet.DIRECT)
        self.build()

    def build(self):
        """(Re)create the world from nothing: no contact cache or solver warm start survives,
        so an episode depends only on (task, seed), never on the episodes before it."""
        c, config = self.client, self.config
        c.resetSimulation()
        c.setGravity(0, 0, -9.81)
        c.setPhysicsEngineParameter(fixedTimeStep=1.0 / config.physics_hz,
                                    numSolverIterations=config.solver_iterations,
                                    solverResidualThreshold=config.solver_residual_threshold)
        self.table = self._make_table()
        self.arm = FetchArm(c, config)
        self.blocks: list[int] = []

    def _make_table(self) -> int:
        cfg, c = self.config, self.client
        (x0, x1), (y0, y1) = cfg.table_x_m, cfg.table_y_m
        half = [(x1 - x0) / 2, (y1 - y0) / 2, 0.02]
        shape = c.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half)
        visual = c.createVisualShape(pybullet.GEOM_BOX, halfExtents=half,
                                     rgbaColor=[0.72, 0.58, 0.42, 1])
        # Table and cubes are maximal-coordinate rigid bodies, not one-link multibodies:
        # Bullet's rigid-body solver path makes 10-block physics ~1.3x faster with towers as
        # steady (bench/tower_stability.py). Both or neither: rigid cubes on a multibody
        # table creep ~5 mm/s and 5-cube towers fell in 4 of 10.
        body = c.createMultiBody(0, shape, visual,
                                 [(x0 + x1) / 2, (y0 + y1) / 2, cfg.table_height_m - 0.02],
                                 useMaximalCoordinates=True)
        c.changeDynamics(body, -1, lateralFriction=cfg.block_friction)
        return body

    def set_blocks(self, n_blocks: int):
        """(Re)create exactly n cubes (bodies are reused across resets of the same size)."""
        c, cfg = self.client, self.config
        while len(self.blocks) > n_blocks:
            c.removeBody(self.blocks.pop())
        half = [cfg.block_size_m / 2] * 3
        while len(self.blocks) < n_blocks:
            k = len(self.blocks)
            shape = c.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half)
            visual = c.createVisualShape(pybullet.GEOM_BOX, halfExtents=half,
                                         rgbaColor=[*BLOCK_COLOURS[k], 1])
            body = c.createMultiBody(cfg.block_mass_kg, shape, visual, [0, 0, -1],
                                     useMaximalCoordinates=True)  # see _make_table
            # Idle cubes may sleep (Bullet wakes them on contact): 10-block physics 1.6x faster
            c.changeDynamics(body, -1, lateralFriction=cfg.block_friction,
                             activationState=pybullet.ACTIVATION_STATE_ENABLE_SLEEPING)
            self.blocks.append(body)

    def place_blocks(self, positions: np.ndarray):
        for body, pos in zip(self.blocks, positions, strict=True):
            self.client.resetBasePositionAndOrientation(body, list(pos), [0, 0, 0, 1])
            self.client.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0])

    def block_states(self) -> np.ndarray:
        """(B, 13): position, quaternion xyzw, linear and angular velocity of every cube."""
        c = self.client
        rows = [[*sum(c.getBasePositionAndOrientation(b), ()), *sum(c.getBaseVelocity(b), ())]
                for b in self.blocks]
        return np.array(rows, dtype=np.float64).reshape(len(self.blocks), 13)

    def set_block_states(self, states: np.ndarray):
        for body, s in zip(self.blocks, states, strict=True):
            self.client.resetBasePositionAndOrientation(body, s[0:3].tolist(), s[3:7].tolist())
            self.client.resetBaseVelocity(body, s[7:10].tolist(), s[10:13].tolist())

    def block_poses(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions (B, 3) and quaternions xyzw (B, 4) in base_link (= world)."""
        poses = [self.client.getBasePositionAndOrientation(b) for b in self.blocks]
        return np.array([p for p, _ in poses]), np.array([q for _, q in poses])

    def close(self):
        self.client.disconnect()
