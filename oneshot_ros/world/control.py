"""The ONE action -> joint command path and the ONE state -> observation path.

    q_target = displacement_to_joint_target(kin, q_arm, torso_m, delta, config)   # (7,)
    command = action_to_command(kin, q_arm, torso_m, action, config, blocks=b)  # arm + gap
    obs = observe(kin, q_arm, torso_m, fingers, blocks)                        # (3B+2,)

StackingEnv.step, the scripted-expert node and the imitator node all call these, so an action
means the same joint target in simulation, over ROS and on the real arm; the demo recorder and
the ROS nodes build observations exactly like StackingEnv.observation. No rclpy, no PyBullet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oneshot_ros.world import layout, success
from oneshot_ros.world.kinematics import FetchKinematics, IKError
from oneshot_ros.world.robot import GRIPPER_MAX_GAP_M, ObsLayout
from oneshot_ros.world.tasks import Task
from oneshot_ros.world.world_config import WorldConfig


@dataclass
class JointCommand:
    arm_q: np.ndarray | None  # (7,) joint targets; None = IK failed, hold the previous target
    gap_m: float  # finger gap between the pads, m (0 closed ... open_gap_m)


def displacement_to_joint_target(kin: FetchKinematics, q_arm, torso_m: float, delta,
                                 config: WorldConfig, gripper=None,
                                 blocks=None) -> np.ndarray:
    """FK of the measured joints + clipped displacement -> workspace clamp -> top-down IK.

    q_arm (7,) measured arm joints, delta (3,) gripper_link displacement in base_link (m), each
    axis clipped to config.max_step_m. The IK is seeded at the measured joints so consecutive
    targets stay on one solution branch. Raises IKError for an unreachable target.
    `gripper`: FK(q_arm) when the caller already has it (saves one FK per step).
    `blocks` (B, 3) block centres: the IK keeps the upper arm and forearm clear of them through
    the elbow's swivel (FetchKinematics.ik_down obstacles), the gripper's target unchanged.
    """
    q_arm = np.asarray(q_arm, dtype=np.float64)
    delta = np.clip(np.asarray(delta, dtype=np.float64), -config.max_step_m, config.max_step_m)
    gripper = kin.fk(q_arm, torso_m)[0] if gripper is None else gripper  # (3,)
    target = layout.clamp_target(config, gripper + delta)
    # Targets are <= 2.6 cm from the current pose: DLS converges in a few iterations; a failure
    # (unreachable) holds the previous target instead of jumping to another IK branch.
    return kin.ik_down(target, q_arm, torso_m, max_iters=30, restarts=False, obstacles=blocks)


def grip_to_gap(grip: float, config: WorldConfig) -> float:
    """ActionLayout grip (> 0 open, <= 0 close) -> commanded finger gap (m)."""
    return config.open_gap_m if grip > 0 else 0.0


def gap_to_grip(gap_m: float, config: WorldConfig) -> float:
    """Commanded finger gap (m) -> ActionLayout grip: open when above half the open gap."""
    layout_ = config.action_layout
    return layout_.OPEN if gap_m > 0.5 * config.open_gap_m else layout_.CLOSE


def action_to_command(kin: FetchKinematics, q_arm, torso_m: float, action,
                      config: WorldConfig, gripper=None, blocks=None) -> JointCommand:
    """(dx, dy, dz, grip) -> joint targets + gap; arm_q is None when the IK fails (hold).

    `gripper`: FK(q_arm) position if the caller already computed it; `blocks` (B, 3): block
    centres the arm keeps clear of (every caller that sees the blocks passes them)."""
    actions = config.action_layout
    a = actions.validate(action)  # (4,) clipped, grip in {OPEN, CLOSE}
    try:
        arm_q = displacement_to_joint_target(kin, q_arm, torso_m, a[actions.MOVE], config,
                                             gripper, blocks)
    except IKError:
        arm_q = None
    return JointCommand(arm_q, grip_to_gap(a[actions.GRIP], config))


def command_to_action(kin: FetchKinematics, q_arm, torso_m: float, arm_q_cmd, gap_m: float,
                      config: WorldConfig) -> np.ndarray:
    """Inverse of action_to_command for recording: (4,) = FK(command) - FK(measured), grip."""
    actions = config.action_layout
    delta = kin.fk(arm_q_cmd, torso_m)[0] - kin.fk(q_arm, torso_m)[0]  # (3,)
    gap = float(np.clip(gap_m, 0.0, GRIPPER_MAX_GAP_M))
    return actions.validate([*delta, gap_to_grip(gap, config)])


def observe(kin: FetchKinematics, q_arm, torso_m: float, fingers, blocks,
            gripper=None) -> np.ndarray:
    """Measured joints + block centres (B, 3) -> observation (3B+2,) as StackingEnv builds it.

    `gripper`: FK(q_arm) position if the caller already computed it."""
    blocks = np.asarray(blocks, dtype=np.float64).reshape(-1, 3)
    if gripper is None:
        gripper = kin.fk(np.asarray(q_arm, dtype=np.float64), torso_m)[0]  # (3,)
    return ObsLayout(len(blocks)).build(blocks - gripper, fingers)


def scene_outcome(task: Task, config: WorldConfig, blocks, quats, gripper,
                  fingers) -> tuple[int, str]:
    """(stages placed in build order, outcome) judged from block poses like StackingEnv.

    Without contact sensing (a real robot), a block counts as touched when the fingers are
    closed below the open gap and the block centre is within one block size of gripper_link.
    """
    blocks = np.asarray(blocks, dtype=np.float64).reshape(-1, 3)
    closed = float(np.mean(fingers)) < 0.45 * config.open_gap_m
    near = np.linalg.norm(blocks - np.asarray(gripper), axis=1) < config.block_size_m
    touched = set(np.flatnonzero(near).tolist()) if closed else set()
    view = success.GoalView(task, config, blocks, np.asarray(quats), touched)
    return success.n_placed_prefix(view), success.classify(view)


class RateGate:
    """Act on at most one input per control period, paced by the inputs' own stamps.

    Periods form a grid starting at the first stamp; an input acts when it is the first one
    within half a period of the next grid time. So a controller runs in step with a simulator at
    any speed (sim-time stamps, jitter up to half a period) and at exactly the configured rate
    under a faster stream (a 1 kHz /joint_states). Stamps in seconds.
    """

    def __init__(self, period_s: float):
        if not period_s > 0:
            raise ValueError(f"period_s={period_s}: use a positive control period in seconds")
        self.period_s = period_s
        self._due_s: float | None = None

    def due(self, stamp_s: float) -> bool:
        p = self.period_s
        if self._due_s is None or stamp_s < self._due_s - 10 * p:  # first input or clock reset
            self._due_s = stamp_s
        if stamp_s >= self._due_s + 0.5 * p:  # inputs missed whole periods: skip ahead
            self._due_s += np.floor((stamp_s - self._due_s + 0.5 * p) / p) * p
        if stamp_s < self._due_s - 0.5 * p:
            return False
        self._due_s += p
        return True
