"""Pinocchio FK/IK on our URDF against the real Fetch's numbers and PyBullet's link poses."""

import numpy as np
import pytest

from oneshot_ros.sim.quiet import BulletClient, pybullet
from oneshot_ros.world.kinematics import FetchKinematics, IKError
from oneshot_ros.world.robot import ARM_JOINTS, JOINT_LIMITS, READY_ARM, TORSO_JOINT, TORSO_UP_M

# gripper_link of the official Fetch description (fetch_fk_vectors.json, 1e-4 m reachable)
REFERENCE_FK = [
    ((0.0, 0, 0, 0, 0, 0, 0, 0), (1.1281, 0.0, 0.78601)),
    ((0.38615, 0, -0.8434, 0, 1.4381, 0, 0.9761, 0), (0.650007, 0.0, 0.949998)),
    ((0.0, 1.32, 1.4, -0.2, 1.72, 0, 1.66, 0), (0.050403, -0.12756, 0.737277)),
    ((0.241381, 1.275533, 0.903603, -1.725699, -0.899651, 2.345916, -2.137254, 2.017314),
     (0.176124, 0.60866, 0.67425)),
    ((0.307788, -0.102967, -0.390994, -1.391487, -1.103577, -0.344921, 0.019648, 0.335963),
     (0.7547, 0.475734, 1.431029)),
]


@pytest.fixture(scope="module")
def kin():
    return FetchKinematics()


def random_arm(rng):
    lo = np.array([max(JOINT_LIMITS[n].lower, -np.pi) for n in ARM_JOINTS])
    hi = np.array([min(JOINT_LIMITS[n].upper, np.pi) for n in ARM_JOINTS])
    return rng.uniform(lo, hi), rng.uniform(0.0, TORSO_UP_M)


@pytest.mark.parametrize("joints,expected", REFERENCE_FK)
def test_fk_matches_real_fetch(kin, joints, expected):
    pos, rot = kin.fk(np.array(joints[1:]), joints[0])
    assert np.allclose(pos, expected, atol=1e-4)
    assert np.allclose(rot @ rot.T, np.eye(3), atol=1e-9)


def test_fk_matches_pybullet_link_poses(kin):
    client = BulletClient(connection_mode=pybullet.DIRECT)
    body = client.loadURDF(kin_urdf(), useFixedBase=True)
    index = {client.getJointInfo(body, i)[1].decode(): i for i in range(client.getNumJoints(body))}
    link = {client.getJointInfo(body, i)[12].decode(): i for i in range(client.getNumJoints(body))}
    rng = np.random.default_rng(0)
    for _ in range(20):
        q, torso = random_arm(rng)
        client.resetJointState(body, index[TORSO_JOINT], torso)
        for name, value in zip(ARM_JOINTS, q, strict=True):
            client.resetJointState(body, index[name], value)
        state = client.getLinkState(body, link["gripper_link"], computeForwardKinematics=True)
        pos, rot = kin.fk(q, torso)
        bullet_rot = np.array(client.getMatrixFromQuaternion(state[5])).reshape(3, 3)
        assert np.linalg.norm(pos - np.array(state[4])) < 1e-4  # sub-millimetre
        assert np.allclose(rot, bullet_rot, atol=1e-5)
    client.disconnect()


def kin_urdf():
    from oneshot_ros.world.robot import urdf_path
    return urdf_path()


def test_ik_reaches_random_workspace_targets_within_limits(kin):
    rng = np.random.default_rng(1)
    for _ in range(25):
        r, bearing = rng.uniform(0.42, 0.68), rng.uniform(-0.5, 0.5)
        target = np.array([0.0327 + r * np.cos(bearing), r * np.sin(bearing),
                           rng.uniform(0.76, 1.15)])
        q = kin.ik_down(target, READY_ARM, TORSO_UP_M)
        pos, rot = kin.fk(q, TORSO_UP_M)
        assert np.linalg.norm(pos - target) < 1e-3
        assert rot[:, 0] @ np.array([0, 0, -1.0]) > np.cos(np.radians(1))  # pointing down
        for name, value in zip(ARM_JOINTS, q, strict=True):
            assert JOINT_LIMITS[name].lower - 1e-9 <= value <= JOINT_LIMITS[name].upper + 1e-9


def test_ik_unreachable_target_raises(kin):
    with pytest.raises(IKError, match="unreachable"):
        kin.ik_down([2.0, 0.0, 0.8], READY_ARM, TORSO_UP_M)


def test_bad_inputs_are_rejected(kin):
    with pytest.raises(ValueError, match="finite"):
        kin.ik_down([np.nan, 0, 1], READY_ARM, TORSO_UP_M)
    with pytest.raises(ValueError, match="7 finite"):
        kin.fk(np.zeros(6), 0.0)


def _axis_clearance(kin, q, obstacle) -> float:
    """Distance (m) from `obstacle` to the nearest origin of the arm-axis links."""
    from oneshot_ros.world.kinematics import ARM_AXIS_LINKS

    kin.fk(q, TORSO_UP_M)  # updates kin.data's frames
    points = [kin.data.oMf[kin.model.getFrameId(n)].translation for n in ARM_AXIS_LINKS]
    return min(float(np.linalg.norm(p - obstacle)) for p in points)


def test_ik_swivels_the_arm_off_an_obstacle_and_keeps_the_gripper_on_target(kin):
    """A block right under the elbow (the top of a tall tower beside the grasp): the control
    loop's repeated IK calls move the elbow away while the gripper holds its pose."""
    from oneshot_ros.world.robot import HOME_ARM

    q = np.array(HOME_ARM)
    gripper, _ = kin.fk(q, TORSO_UP_M)
    kin.fk(q, TORSO_UP_M)
    elbow = kin.data.oMf[kin.model.getFrameId("elbow_flex_link")].translation.copy()
    obstacle = elbow - [0.0, 0.0, 0.08]  # a cube centre 8 cm below the elbow: touching
    before = _axis_clearance(kin, q, obstacle)
    for _ in range(40):  # 2 s of control steps with the same gripper target
        q = kin.ik_down(gripper, q, TORSO_UP_M, max_iters=30, restarts=False,
                        obstacles=[obstacle])
        pos, rot = kin.fk(q, TORSO_UP_M)
        assert np.linalg.norm(pos - gripper) < 1e-3  # the gripper does not move
        assert rot[:, 0] @ np.array([0, 0, -1.0]) > np.cos(np.radians(1))
    assert _axis_clearance(kin, q, obstacle) > before + 0.05
    for name, value in zip(ARM_JOINTS, q, strict=True):
        assert JOINT_LIMITS[name].lower - 1e-9 <= value <= JOINT_LIMITS[name].upper + 1e-9

