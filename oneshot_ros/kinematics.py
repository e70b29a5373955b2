"""Fetch arm kinematics with Pinocchio on our URDF: FK of gripper_link and top-down IK.

Shared by the simulator, the scripted demonstrator and the ROS nodes (sim or real arm), so a
joint target means the same thing everywhere. PyBullet only does physics.
"""

from __future__ import annotations

import math

import numpy as np
import pinocchio as pin

from oneshot_ros.robot import (
    ARM_JOINTS,
    EE_LINK,
    HOME_ARM,
    JOINT_LIMITS,
    READY_ARM,
    TORSO_JOINT,
    urdf_path,
)


def down_rotation(yaw: float = 0.0) -> np.ndarray:
    """gripper_link orientation pointing straight down (+x = −z), fingers along yaw-rotated y."""
    c, s = np.cos(yaw), np.sin(yaw)
    rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    ry90 = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    return rz @ ry90


# Restart seeds for targets far from the current arm state: the ready pose, two elbow-up
# variants that reach high over the table, and fixed random draws (deterministic).
RESTART_SEEDS = (
    np.array(HOME_ARM),
    np.array(READY_ARM),
    np.array([0.0, -1.1, 0.0, 0.6, 0.0, 2.0, 0.0]),
    np.array([0.0, -0.4, 0.0, 1.9, 0.0, 0.1, 0.0]),
    *np.random.default_rng(0).uniform(-1.5, 1.5, size=(8, 7)),
)


ACCEPT_M = 1e-3  # position residual accepted as reached


class IKError(ValueError):
    """IK did not converge: the target is unreachable with the gripper pointing down."""


class FetchKinematics:
    """FK/IK for torso + 7 arm joints. Continuous joints use Pinocchio's (cos, sin) encoding
    internally; the public API speaks plain joint angles in ARM_JOINTS order."""

    def __init__(self, urdf: str | None = None):
        self.model = pin.buildModelFromUrdf(urdf or urdf_path())
        self.data = self.model.createData()
        self.ee_frame = self.model.getFrameId(EE_LINK)
        self._torso = self._joint(TORSO_JOINT)
        self._arm = [self._joint(n) for n in ARM_JOINTS]
        self._lower = np.array([JOINT_LIMITS[n].lower for n in ARM_JOINTS])
        self._upper = np.array([JOINT_LIMITS[n].upper for n in ARM_JOINTS])
        # _pin_q's index arrays (it runs ~10 times per control step)
        self._neutral = pin.neutral(self.model)
        self._revolute = np.array([k for k, j in enumerate(self._arm) if j.nq == 1], dtype=int)
        self._continuous = np.array([k for k, j in enumerate(self._arm) if j.nq == 2], dtype=int)
        self._revolute_q = np.array([self._arm[k].idx_q for k in self._revolute], dtype=int)
        self._continuous_q = np.array([self._arm[k].idx_q for k in self._continuous], dtype=int)
        self._arm_v = np.array([j.idx_v for j in self._arm], dtype=int)  # Jacobian columns
        self._damping = 1e-4 * np.eye(6)  # DLS damping (m², rad²)

    def _joint(self, name: str):
        if not self.model.existJointName(name):
            raise ValueError(f"URDF has no joint {name!r}; use the oneshot_ros Fetch URDF")
        return self.model.joints[self.model.getJointId(name)]

    def _pin_q(self, q_arm: np.ndarray, torso: float) -> np.ndarray:
        q = self._neutral.copy()
        q[self._torso.idx_q] = torso
        q[self._revolute_q] = q_arm[self._revolute]
        continuous = q_arm[self._continuous]
        q[self._continuous_q] = np.cos(continuous)  # continuous joint: (cos, sin)
        q[self._continuous_q + 1] = np.sin(continuous)
        return q

    def fk(self, q_arm, torso: float) -> tuple[np.ndarray, np.ndarray]:
        """gripper_link position (3,) and rotation (3, 3) in base_link."""
        q_arm = np.asarray(q_arm, dtype=np.float64)
        if q_arm.shape != (len(ARM_JOINTS),) or not np.all(np.isfinite(q_arm)):
            raise ValueError(f"q_arm must be 7 finite joint angles in ARM_JOINTS order: {q_arm}")
        pin.framesForwardKinematics(self.model, self.data, self._pin_q(q_arm, torso))
        pose = self.data.oMf[self.ee_frame]
        return pose.translation.copy(), pose.rotation.copy()

    def _jacobian(self) -> np.ndarray:
        """(6, 7) world-aligned Jacobian of gripper_link w.r.t. the arm joint velocities."""
        jac = pin.getFrameJacobian(self.model, self.data, self.ee_frame,
                                   pin.ReferenceFrame.LOCAL_WORLD_ALIGNED)
        return jac[:, self._arm_v]

    def ik_down(self, target, q_seed, torso: float, yaw: float = 0.0, tol_m: float = 1e-4,
                max_iters: int = 100, restarts: bool = True) -> np.ndarray:
        """Arm angles placing gripper_link at `target` (base_link, m) pointing straight down.

        Damped least squares from `q_seed` (the current arm state keeps solutions continuous),
        clipped to the joint limits every iteration; if that basin fails and `restarts` is set,
        restarts from fixed seeds. Raises IKError when no seed gets within ACCEPT_M. The control
        loop passes restarts=False: a restart can land on another IK branch, i.e. a sudden swing
        of the whole arm, and costs ~0.1 s; holding the previous target is safer.
        """
        target = np.asarray(target, dtype=np.float64)
        if target.shape != (3,) or not np.all(np.isfinite(target)):
            raise ValueError(f"IK target must be 3 finite numbers (m), got {target}")
        r_goal = down_rotation(yaw)
        best_err = np.inf
        for seed in (q_seed, *RESTART_SEEDS) if restarts else (q_seed,):
            q, err = self._solve(target, r_goal, seed, torso, tol_m, max_iters)
            pos_err = np.linalg.norm(err[:3])
            if pos_err <= ACCEPT_M and np.linalg.norm(err[3:]) <= 0.01:
                return q
            best_err = min(best_err, pos_err)
        raise IKError(
            f"IK target {np.round(target, 3).tolist()} unreachable with the gripper pointing "
            f"down (residual {best_err * 1000:.1f} mm); keep targets inside the workspace "
            "(fetch_arm_kinematics.md §8)"
        )

    def _solve(self, target, r_goal, q_seed, torso, tol_m, max_iters):
        """Damped least squares with joint-limit clipping; returns (q, final (6,) error).

        Runs every control step (~3 iterations): written with plain ufuncs and dot products
        (the same arithmetic as np.clip / np.linalg.norm, without their per-call overhead)."""
        lower, upper = self._lower, self._upper
        q = np.minimum(np.maximum(np.asarray(q_seed, dtype=np.float64), lower), upper)
        err = self._ik_error(q, torso, target, r_goal)
        for _ in range(max_iters):
            pos, rot = err[:3], err[3:]
            if math.sqrt(pos.dot(pos)) < tol_m and math.sqrt(rot.dot(rot)) < 1e-3:
                break
            jac = self._jacobian()  # (6, 7)
            step = jac.T @ np.linalg.solve(jac @ jac.T + self._damping, err)  # (7,)
            q = np.minimum(np.maximum(q + np.minimum(np.maximum(step, -0.3), 0.3), lower), upper)
            err = self._ik_error(q, torso, target, r_goal)
        return q, err

    def _ik_error(self, q, torso, target, r_goal) -> np.ndarray:
        """(6,) position error and orientation error (log map), world frame; also runs FK."""
        # computeJointJacobians runs the forward pass itself: one kinematics pass, not two
        pin.computeJointJacobians(self.model, self.data, self._pin_q(q, torso))
        pin.updateFramePlacements(self.model, self.data)
        pose = self.data.oMf[self.ee_frame]
        return np.concatenate([target - pose.translation, pin.log3(r_goal @ pose.rotation.T)])
