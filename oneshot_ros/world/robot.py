"""Fetch arm facts and the ONE definition of the observation and action layout.

Every other module (world, demonstrator, datasets, policy, ROS nodes) reads vector indices from
here; nothing else hard-codes them. Numbers are the real Fetch's (fetch_description, ros1 0.9.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

# --- joints (real Fetch names, URDF order) ---------------------------------------------------
TORSO_JOINT = "torso_lift_joint"
ARM_JOINTS = (
    "shoulder_pan_joint",
    "shoulder_lift_joint",
    "upperarm_roll_joint",
    "elbow_flex_joint",
    "forearm_roll_joint",
    "wrist_flex_joint",
    "wrist_roll_joint",
)
FINGER_JOINTS = ("l_gripper_finger_joint", "r_gripper_finger_joint")
ALL_JOINTS = (TORSO_JOINT, *ARM_JOINTS, *FINGER_JOINTS)
EE_LINK = "gripper_link"  # TCP, midway between the finger pads; +x is the approach direction
BASE_FRAME = "base_link"


@dataclass(frozen=True)
class JointLimit:
    lower: float  # rad or m; -inf for continuous joints
    upper: float
    velocity: float  # rad/s or m/s
    effort: float  # N·m or N


_INF = float("inf")
JOINT_LIMITS = {
    "torso_lift_joint": JointLimit(0.0, 0.38615, 0.1, 450.0),
    "shoulder_pan_joint": JointLimit(-1.6056, 1.6056, 1.256, 33.82),
    "shoulder_lift_joint": JointLimit(-1.221, 1.518, 1.454, 131.76),
    "upperarm_roll_joint": JointLimit(-_INF, _INF, 1.571, 76.94),
    "elbow_flex_joint": JointLimit(-2.251, 2.251, 1.521, 66.18),
    "forearm_roll_joint": JointLimit(-_INF, _INF, 1.571, 29.35),
    "wrist_flex_joint": JointLimit(-2.16, 2.16, 2.268, 25.7),
    "wrist_roll_joint": JointLimit(-_INF, _INF, 2.268, 7.36),
    "l_gripper_finger_joint": JointLimit(0.0, 0.05, 0.05, 60.0),
    "r_gripper_finger_joint": JointLimit(0.0, 0.05, 0.05, 60.0),
}

TORSO_UP_M = 0.38615  # torso fully up: a 0.72-0.75 m table is then inside the top-down workspace
# Gripper straight down, 0.20 m above a 0.75 m table (docs/robot.md, "ready-high").
READY_ARM = (0.0, -0.8434, 0.0, 1.4381, 0.0, 0.9761, 0.0)
# Home pose of the stacking world: the same TCP (0.65, 0, 0.95), pointing down, on the
# "elbow out and high" IK branch (upper arm rolled, elbow to the robot's right, above 1.05 m).
# Unlike READY_ARM's planar elbow-up branch (which runs into the shoulder_lift limit above
# 0.95 m for reach < 0.5 m), this branch tracks continuously over the whole table band
# (0.74-1.30 m, 0.40-0.70 m from the pan axis): no IK branch switch mid-episode.
HOME_ARM = (-0.5176, -0.0245, -1.3378, -1.3532, 1.5442, 1.8036, 0.8354)
FINGER_MAX_M = 0.05  # each finger travels 0..0.05 m
GRIPPER_MAX_GAP_M = 0.1  # Fetch API: gripper command = gap between pads, 0 = closed, 0.1 = open

BLOCK_LETTERS = "abcdefghij"
MIN_BLOCKS, MAX_BLOCKS = 2, 10


def urdf_path() -> str:
    """Path of our own primitive-shape Fetch URDF (authored from the real robot's numbers)."""
    return str(resources.files("oneshot_ros") / "assets" / "fetch.urdf")


# --- observation: the paper's o = (block xyz relative to gripper) x B, gripper state (2) --------
@dataclass(frozen=True)
class ObsLayout:
    """o ∈ R^(3B+2): block k = letter k at [3k, 3k+3), then the two finger positions (m).

    Block positions are (block centre − gripper_link origin) in base_link axes, in metres.
    Gripper state = (l_gripper_finger_joint, r_gripper_finger_joint): 0 closed … 0.05 open.
    """

    n_blocks: int

    BLOCK_DIM = 3
    GRIPPER_DIM = 2

    def __post_init__(self):
        if not MIN_BLOCKS <= self.n_blocks <= MAX_BLOCKS:
            raise ValueError(
                f"n_blocks={self.n_blocks}: tasks use {MIN_BLOCKS}..{MAX_BLOCKS} blocks"
            )

    @property
    def dim(self) -> int:
        return self.BLOCK_DIM * self.n_blocks + self.GRIPPER_DIM

    @property
    def gripper_slice(self) -> slice:
        return slice(self.BLOCK_DIM * self.n_blocks, self.dim)

    def build(self, rel_block_pos: np.ndarray, gripper_state: np.ndarray) -> np.ndarray:
        """(B, 3) relative positions + (2,) finger positions -> (3B+2,) float32 observation."""
        rel_block_pos = np.asarray(rel_block_pos, dtype=np.float32).reshape(self.n_blocks, 3)
        gripper_state = np.asarray(gripper_state, dtype=np.float32).reshape(self.GRIPPER_DIM)
        return np.concatenate([rel_block_pos.reshape(-1), gripper_state])

    def split(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(..., 3B+2) -> block positions (..., B, 3), gripper state (..., 2)."""
        obs = np.asarray(obs)
        if obs.shape[-1] != self.dim:
            raise ValueError(
                f"observation has {obs.shape[-1]} values; {self.n_blocks} blocks need {self.dim}"
            )
        blocks = obs[..., : self.BLOCK_DIM * self.n_blocks]
        return blocks.reshape(*obs.shape[:-1], self.n_blocks, 3), obs[..., self.gripper_slice]

    @staticmethod
    def n_blocks_of(obs_dim: int) -> int:
        n, rem = divmod(obs_dim - ObsLayout.GRIPPER_DIM, ObsLayout.BLOCK_DIM)
        if rem or not MIN_BLOCKS <= n <= MAX_BLOCKS:
            raise ValueError(f"observation size {obs_dim} is not 3*B+2 for B in 2..10")
        return n

    def describe(self) -> dict:
        return {"blocks": "xyz of block k (letter order) minus gripper_link, base_link axes, m",
                "gripper": list(FINGER_JOINTS), "dim": self.dim}


# --- action: end-effector displacement per control step + gripper open/close --------------------
@dataclass(frozen=True)
class ActionLayout:
    """a = (dx, dy, dz, grip) ∈ R^4.

    dx, dy, dz: gripper_link displacement per control step in base_link axes (m), each clipped to
    [-max_step_m, +max_step_m]. grip: > 0 opens, <= 0 closes (the policy's 2-way categorical maps
    to +1 / -1).
    """

    max_step_m: float = 0.015  # m; WorldConfig.max_step_m is the source of truth

    DX, DY, DZ, GRIP = 0, 1, 2, 3
    DIM = 4
    MOVE = slice(0, 3)
    OPEN, CLOSE = 1.0, -1.0

    def __post_init__(self):
        if not 0.0 < self.max_step_m <= 0.1:
            raise ValueError(f"max_step_m={self.max_step_m}: use a value in (0, 0.1] m")

    def validate(self, action) -> np.ndarray:
        """Return a clipped float64 copy; raise a clear error on wrong shape or NaN/inf."""
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (self.DIM,):
            raise ValueError(
                f"action has shape {a.shape}; expected ({self.DIM},) = (dx, dy, dz, grip)"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action {a.tolist()} contains NaN or inf; send finite numbers")
        a[self.MOVE] = np.clip(a[self.MOVE], -self.max_step_m, self.max_step_m)
        a[self.GRIP] = self.OPEN if a[self.GRIP] > 0 else self.CLOSE
        return a

    def describe(self) -> dict:
        return {"fields": ["dx", "dy", "dz", "grip"], "max_step_m": self.max_step_m,
                "grip": "> 0 open, <= 0 close", "frame": BASE_FRAME}
