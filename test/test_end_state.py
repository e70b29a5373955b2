"""How a policy episode ends (demos/end_state.py): real PyBullet episodes of fixed-action
policies, each ending in one of the kinds, and the failure analysis that counts them."""

import numpy as np
import pytest
import torch

from oneshot_ros.demos.end_state import HOVER_MM
from oneshot_ros.evaluate import failures


class _FixedPolicy:
    """Stands in for an Imitator: the same action at every step."""

    def __init__(self, action):
        self.action, self.generator = np.asarray(action, dtype=np.float64), torch.Generator()

    def set_demo(self, demo_obs, stage_ends=None):
        pass

    def act(self, obs):
        return self.action.copy(), {}


@pytest.fixture(scope="module")
def episode():
    from oneshot_ros.demos import rollout
    from oneshot_ros.sim.env import StackingEnv

    env = StackingEnv()
    demo = rollout.conditioning_demo(env, "ab", [1], noise=0.002)

    def run(action, steps=400):
        return rollout.policy_episode(env, _FixedPolicy(action), "ab", 3, demo, max_steps=steps)

    yield run
    env.close()


@pytest.mark.parametrize("action, kind, hand", [
    ([0.0, 0.0, 0.015, 1.0], "rising at the reach limit", "open"),  # up for ever
    ([0.0, 0.0, 0.0, -1.0], "closed on nothing", "closed"),  # shut on the air, still
    ([0.0, 0.0, 0.0, 1.0], "hovering", "open"),  # open, still
    ([0.0, 0.0005, 0.0, 1.0], "moving", "open"),  # 0.5 mm a step sideways: 0.1 m in 200
])
def test_each_ending_is_told_from_the_world(episode, action, kind, hand):
    record = episode(action)
    end = record["end_state"]
    assert not record["success"] and end["steps"] == 200
    assert (end["kind"], end["hand"]) == (kind, hand)
    assert end["commanded_dz_mm"] == pytest.approx(1000 * action[2])
    if kind == "rising at the reach limit":
        assert end["at_reach_limit"] > 0.9
    if kind == "moving":
        assert end["moved_mm"] > 2 * HOVER_MM



def test_the_analysis_counts_how_failures_end():
    def rec(success, kind=None):
        r = {"task": "ab", "stages": 1, "success": success, "n_placed": int(success),
             "steps": 100, "outcome": "success" if success else "recoverable_failure"}
        if kind:
            r["end_state"] = {"kind": kind}
        return r

    records = [rec(False, "hovering"), rec(False, "rising at the reach limit"),
               rec(False, "hovering"), rec(True, "moving"), rec(False)]  # last: older record
    analysis = failures.analyze(records)
    assert analysis["endings"] == {"hovering": 2, "rising at the reach limit": 1}
    assert "| hovering | 2 |" in failures.markdown(analysis)
    assert failures.analyze([rec(False)])["endings"] == {}
