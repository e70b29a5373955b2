"""control: the one action -> joint target path and state -> observation path, RateGate."""

import numpy as np
import pytest

from oneshot_ros.sim.env import StackingEnv
from oneshot_ros.world import control
from oneshot_ros.world.world_config import WorldConfig


@pytest.fixture(scope="module")
def env():
    env = StackingEnv()
    env.reset("ab", 2)
    yield env
    env.close()


def test_observe_matches_the_env_observation(env):
    arm = env.scene.arm
    obs = control.observe(env.kin, arm.arm_positions(), arm.torso_position(),
                          env.gripper_state(), env.block_positions())
    np.testing.assert_array_equal(obs, env.observation())


def test_action_to_command_and_back_recovers_the_displacement(env):
    arm, config = env.scene.arm, env.config
    q, torso = arm.arm_positions(), arm.torso_position()
    action = np.array([0.01, -0.005, -0.012, -1.0])
    command = control.action_to_command(env.kin, q, torso, action, config)
    assert command.gap_m == 0.0 and command.arm_q.shape == (7,)
    back = control.command_to_action(env.kin, q, torso, command.arm_q, command.gap_m, config)
    np.testing.assert_allclose(back, action, atol=1.5e-3)  # IK tolerance


def test_displacements_are_clipped_and_targets_clamped_to_the_workspace(env):
    arm, config = env.scene.arm, WorldConfig()
    q, torso = arm.arm_positions(), arm.torso_position()
    start = env.kin.fk(q, torso)[0]
    target = control.displacement_to_joint_target(env.kin, q, torso, [1.0, 0, -1.0], config)
    moved = env.kin.fk(target, torso)[0] - start
    assert np.all(np.abs(moved) <= config.max_step_m + 1.5e-3)


def test_rate_gate_holds_the_rate_under_fast_streams_and_follows_a_jittery_sim():
    gate = control.RateGate(0.05)
    assert sum(gate.due(k * 0.001) for k in range(5000)) in (100, 101)  # 1 kHz for 5 s
    rng = np.random.default_rng(0)
    gate = control.RateGate(0.05)
    assert sum(gate.due(k * 0.05 + rng.uniform(-0.01, 0.01)) for k in range(200)) == 200
    gate = control.RateGate(0.05)
    assert gate.due(100.0) and gate.due(0.0)  # a clock reset restarts the grid
