"""Fetch arm kinematics with Pinocchio on our URDF: FK of gripper_link and top-down IK.

Shared by the simulator, the scripted demonstrator and the ROS nodes (sim or real arm), so a
joint target means the same thing everywhere. PyBullet only does physics.
"""

from __future__ import annotations

import math

import numpy as np
import pinocchio as pin

from oneshot_ros.world.robot import (
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

# The arm's posture in the null space of the gripper pose (its one redundant degree of freedom,
# the elbow's swivel about the shoulder-wrist line), nudged every control step (ik_down
# obstacles=...): clear of obstacles, off the joint limits, else back towards HOME_ARM.
ARM_AXIS_LINKS = ("upperarm_roll_link", "elbow_flex_link", "forearm_roll_link",
                  "wrist_flex_link")  # link origins along the arm's axis, shoulder to wrist
CLEARANCE_M = 0.22  # axis to block centre; contact at ~0.09 (link radius + cube half-diagonal)
LIMIT_MARGIN_RAD = 0.3  # joints closer than this to a limit are pushed back
LIMIT_WEIGHT = 0.3  # m of clearance a radian inside the margin is worth
HOME_WEIGHT = 0.02  # m of clearance a radian away from HOME_ARM is worth
SWIVEL_GAIN = 8.0  # rad of null-space step per m (of the weighted clearance gradient)
MAX_SWIVEL_RAD = 0.08  # per call (control step)


class IKError(ValueError):
    """IK did not converge: the target is unreachable with the gripper pointing down."""


class FetchKinematics:
    """FK/IK for torso + 7 arm joints. Continuous joints use Pinocchio's (cos, sin) encoding
    internally; the public API speaks plain joint angles in ARM_JOINTS order."""

    def __init__(self, urdf: str | None = None):
        self.model = pin.buildModelFromUrdf(urdf or urdf_path())
        self.data = self.model.createData()
        self.ee_frame = self.model.getFrameId(EE_LINK)
        self._axis_frames = [self.model.getFrameId(n) for n in ARM_AXIS_LINKS]
        self._home = np.array(HOME_ARM)
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
                max_iters: int = 100, restarts: bool = True, obstacles=None,
                max_swivel_rad: float = MAX_SWIVEL_RAD) -> np.ndarray:
        """Arm angles placing gripper_link at `target` (base_link, m) pointing straight down.

        Damped least squares from `q_seed` (the current arm state keeps solutions continuous),
        clipped to the joint limits every iteration; if that basin fails and `restarts` is set,
        restarts from fixed seeds. Raises IKError when no seed gets within ACCEPT_M. The control
        loop passes restarts=False: a restart can land on another IK branch, i.e. a sudden swing
        of the whole arm, and costs ~0.1 s; holding the previous target is safer.

        obstacles (N, 3), e.g. the blocks' centres (the control loop passes them): the first
        iteration also moves the arm by at most max_swivel_rad in the null space of the gripper
        pose, away from obstacles closer than CLEARANCE_M to the arm's axis (ARM_AXIS_LINKS and
        the midpoints between them), away from joint limits, and otherwise slowly back towards
        HOME_ARM. Called every control step, this keeps the upper arm and forearm off standing
        towers while the gripper goes exactly where it is told (the remaining iterations
        converge on the target as without it). Without the limit and home terms the swivel
        parked the shoulder at its limit above tall towers and the IK failed from there on.
        """
        target = np.asarray(target, dtype=np.float64)
        if target.shape != (3,) or not np.all(np.isfinite(target)):
            raise ValueError(f"IK target must be 3 finite numbers (m), got {target}")
        r_goal = down_rotation(yaw)
        best_err = np.inf
        if obstacles is not None:
            obstacles = np.asarray(obstacles, dtype=np.float64).reshape(-1, 3)
        avoid = (obstacles, max_swivel_rad) if obstacles is not None and len(obstacles) else None
        for seed in (q_seed, *RESTART_SEEDS) if restarts else (q_seed,):
            q, err = self._solve(target, r_goal, seed, torso, tol_m, max_iters, avoid)
            pos_err = np.linalg.norm(err[:3])
            if pos_err <= ACCEPT_M and np.linalg.norm(err[3:]) <= 0.01:
                return q
            best_err = min(best_err, pos_err)
        raise IKError(
            f"IK target {np.round(target, 3).tolist()} unreachable with the gripper pointing "
            f"down (residual {best_err * 1000:.1f} mm); keep targets inside the workspace "
            "(docs/robot.md, Workspace)"
        )

    def _solve(self, target, r_goal, q_seed, torso, tol_m, max_iters, avoid=None):
        """Damped least squares with joint-limit clipping; returns (q, final (6,) error).
        avoid: (obstacles (N, 3), max swivel rad) or None, see ik_down.

        Runs every control step (~3 iterations): written with plain ufuncs and dot products
        (the same arithmetic as np.clip / np.linalg.norm, without their per-call overhead)."""
        lower, upper = self._lower, self._upper
        q = np.minimum(np.maximum(np.asarray(q_seed, dtype=np.float64), lower), upper)
        err = self._ik_error(q, torso, target, r_goal)
        for k in range(max_iters):
            pos, rot = err[:3], err[3:]
            reached = math.sqrt(pos.dot(pos)) < tol_m and math.sqrt(rot.dot(rot)) < 1e-3
            if reached and (k > 0 or avoid is None):  # with obstacles, always one swivel step
                break
            jac = self._jacobian()  # (6, 7)
            jjt = jac @ jac.T + self._damping  # (6, 6)
            step = jac.T @ np.linalg.solve(jjt, err)  # (7,)
            if k == 0 and avoid is not None:
                step += self._swivel_away(q, jac, jjt, *avoid)
            q = np.minimum(np.maximum(q + np.minimum(np.maximum(step, -0.3), 0.3), lower), upper)
            err = self._ik_error(q, torso, target, r_goal)
        return q, err

    def _swivel_away(self, q, jac, jjt, obstacles, max_rad: float) -> np.ndarray:
        """(7,) joint step raising the posture objective (clearance of the arm's axis from
        obstacles, distance from joint limits, closeness to HOME_ARM), projected into the null
        space of the gripper Jacobian (the gripper does not move, to first order), at most
        max_rad long. Needs the kinematics of q (computeJointJacobians +
        updateFramePlacements, as _ik_error(q) leaves them)."""
        grad = self._clearance_gradient(obstacles)
        grad += HOME_WEIGHT * (self._home - q)
        grad += LIMIT_WEIGHT * (np.maximum(LIMIT_MARGIN_RAD - (q - self._lower), 0.0)
                                - np.maximum(LIMIT_MARGIN_RAD - (self._upper - q), 0.0))
        null = grad - jac.T @ np.linalg.solve(jjt, jac @ grad)  # (7,)
        step = SWIVEL_GAIN * null
        norm = math.sqrt(step.dot(step))
        return step * (max_rad / norm) if norm > max_rad else step

    def _clearance_gradient(self, obstacles) -> np.ndarray:
        """(7,) gradient (m/rad) of the summed clearance the arm's axis lacks from obstacles
        (CLEARANCE_M); zeros, without any Jacobian, when every obstacle is clear."""
        frames = self._axis_frames
        points = np.array([self.data.oMf[f].translation for f in frames])  # (F, 3)
        # midpoints: a point on a segment moves with the average of its ends' velocities
        points = np.concatenate([points, 0.5 * (points[1:] + points[:-1])])  # (P, 3)
        offsets = points[:, None, :] - obstacles[None, :, :]  # (P, N, 3)
        dist = np.sqrt(np.einsum("pnk,pnk->pn", offsets, offsets))  # (P, N)
        missing = np.maximum(CLEARANCE_M - dist, 0.0)  # (P, N) m of clearance missing
        if not missing.any():
            return np.zeros(len(self._arm_v))
        jacs = np.array([pin.getFrameJacobian(self.model, self.data, f,
                                              pin.ReferenceFrame.LOCAL_WORLD_ALIGNED)[:3]
                         for f in frames])[:, :, self._arm_v]  # (F, 3, 7)
        jacs = np.concatenate([jacs, 0.5 * (jacs[1:] + jacs[:-1])])  # (P, 3, 7)
        away = offsets * (missing / np.maximum(dist, 1e-6))[:, :, None]  # (P, N, 3)
        return np.einsum("pk,pkj->j", away.sum(axis=1), jacs)

    def _ik_error(self, q, torso, target, r_goal) -> np.ndarray:
        """(6,) position error and orientation error (log map), world frame; also runs FK."""
        # computeJointJacobians runs the forward pass itself: one kinematics pass, not two
        pin.computeJointJacobians(self.model, self.data, self._pin_q(q, torso))
        pin.updateFramePlacements(self.model, self.data)
        pose = self.data.oMf[self.ee_frame]
        return np.concatenate([target - pose.translation, pin.log3(r_goal @ pose.rotation.T)])
