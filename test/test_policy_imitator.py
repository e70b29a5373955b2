"""Imitator: demo embedded once per episode, ensemble of dropout draws, act() outputs."""

import numpy as np
import pytest
import torch
from policy_data import random_batch, tiny_config

from oneshot_ros.policy import checkpoint
from oneshot_ros.policy.action_head import ActionHead
from oneshot_ros.policy.imitator import Imitator, NonFiniteActionError
from oneshot_ros.policy.modeling import OneShotPolicy
from oneshot_ros.world.robot import ActionLayout


@pytest.fixture
def imitator(tmp_path):
    torch.manual_seed(0)
    model = OneShotPolicy(tiny_config(ensemble_size=4, temporal_dropout_p=0.8))
    model.initialize(random_batch()[0])
    checkpoint.save(model, tmp_path)
    return Imitator.from_checkpoint(tmp_path, seed=0)


def test_act_returns_an_action_and_attention(imitator):
    rng = np.random.default_rng(0)
    with pytest.raises(RuntimeError, match="set_demo"):
        imitator.act(np.zeros(11))
    imitator.set_demo(rng.normal(scale=0.2, size=(40, 11)))
    action, attention = imitator.act(rng.normal(scale=0.2, size=11))
    assert action.shape == (4,) and action.dtype == np.float64
    assert abs(action[3]) == 1.0 and np.all(np.abs(action[:3]) <= ActionLayout.max_step_m + 1e-9)
    assert attention["temporal"].shape == (2, 2, 40)  # (t_lstm, H, T)
    np.testing.assert_allclose(attention["temporal"].sum(-1), 1.0, atol=1e-5)
    assert attention["block"].shape == (2, 2, 3)  # (queries, H, B)
    with pytest.raises(ValueError, match=r"3 blocks, so pass \(11,\)"):
        imitator.act(np.zeros(14))


def test_act_refuses_non_finite_outputs_instead_of_a_full_speed_move():
    """NaN logits decoded by argmax gave an extreme bin: a maximal move of the arm."""
    model = OneShotPolicy(tiny_config())
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float("nan"))  # what training on one NaN sample leaves
    imitator = Imitator(model)
    imitator.set_demo(np.zeros((20, 8)))
    with pytest.raises(NonFiniteActionError, match="NaN or inf"):
        imitator.act(np.zeros(8))


def test_ensemble_members_use_different_dropout_draws(imitator):
    imitator.set_demo(np.random.default_rng(1).normal(size=(40, 11)))
    index = imitator._time_index  # (E, T~) = (4, 8)
    assert index.shape == (4, 8)
    assert len({tuple(row.tolist()) for row in index}) > 1


def test_act_matches_the_training_network(imitator, tmp_path):
    """Folded weights + FastPolicy == the plain training network, member by member."""
    model, _ = checkpoint.load(tmp_path)
    demo = np.random.default_rng(2).normal(scale=0.2, size=(30, 11)).astype(np.float32)
    obs = np.random.default_rng(3).normal(scale=0.2, size=11).astype(np.float32)
    imitator.set_demo(demo)
    action, attention = imitator.act(obs)
    generator = torch.Generator().manual_seed(0)  # the imitator's seed: the same dropout draws
    demo_t = torch.from_numpy(demo).expand(4, -1, -1)
    block_mask = torch.ones(4, 3, dtype=torch.bool)
    with torch.no_grad():
        embedding = model.embed_demo(demo_t, torch.ones(4, 30, dtype=torch.bool), block_mask,
                                     generator=generator)
        cache = model.prepare(embedding, block_mask)
        reference, ref_attention = model.act_logits(cache, torch.from_numpy(obs).expand(4, 1, -1))
    head = ActionHead.from_config(model.config)
    expected = head.decode(head.ensemble(head.distribution(reference[:, 0])))
    np.testing.assert_allclose(action, expected.double().numpy(), atol=1e-6)
    block = ref_attention["block"][:, 0].permute(0, 1, 3, 2).mean(0)  # (2, H, B)
    np.testing.assert_allclose(attention["block"], block.numpy(), atol=1e-5)


def test_imitator_leaves_the_training_model_usable():
    """The inference copy is folded without touching the caller's weight-normed model."""
    torch.manual_seed(0)
    model = OneShotPolicy(tiny_config())
    batch, _ = random_batch()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    Imitator(model)
    model(batch)  # still has its weight-norm parametrization
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_action_head_bins_decodes_and_averages():
    head = ActionHead("categorical", n_bins=5, max_step_m=0.03)  # centres -.03 -.015 0 .015 .03
    bins, grip = head.targets(torch.tensor([[0.2, -0.008, 0.007, -1.0], [0.0, 0.0, -0.03, 0.5]]))
    assert bins.tolist() == [[4, 1, 2], [2, 2, 0]] and grip.tolist() == [0, 1]
    one_hot = torch.zeros(2, 17)
    one_hot[0, [4, 5 + 1, 10 + 2, 15]] = 1.0  # bins 4, 1, 2 and "close"
    one_hot[1, [2, 5 + 2, 10 + 0, 16]] = 1.0
    decoded = head.decode(head.ensemble(one_hot))  # average of two members
    assert decoded.shape == (4,)
    members = head.decode(one_hot)
    torch.testing.assert_close(members[0], torch.tensor([0.03, -0.015, 0.0, -1.0]))
    l2 = ActionHead("l2", n_bins=5, max_step_m=0.03)
    out = l2.decode(torch.tensor([2.0, -0.5, 0.0, 0.3]))
    torch.testing.assert_close(out, torch.tensor([0.03, -0.015, 0.0, 1.0]))


def test_mean_decoding_keeps_small_corrections_that_argmax_rounds_to_zero():
    head = ActionHead("categorical", n_bins=5, max_step_m=0.03)  # centres -.03 -.015 0 .015 .03
    probs = torch.zeros(17)
    probs[[2, 3]] = torch.tensor([0.6, 0.4])  # dx: 0 m most likely, +0.015 m close behind
    probs[5 + 2] = probs[10 + 2] = 1.0  # dy, dz: exactly 0
    probs[16] = 1.0  # open
    assert head.decode(probs)[0] == 0.0  # argmax: the correction vanishes
    torch.testing.assert_close(head.decode(probs, "mean"),
                               torch.tensor([0.006, 0.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="argmax"):
        head.decode(probs, "median")


def test_temporal_attention_is_the_ensemble_mean_of_each_members_scattered_weights(imitator):
    """act's temporal attention (one index_add) == per member: weights placed on its kept demo
    steps (0 on dropped ones), then averaged over the members."""
    demo = np.random.default_rng(2).normal(scale=0.2, size=(40, 11))
    obs = np.random.default_rng(3).normal(scale=0.2, size=11)
    imitator.set_demo(demo)
    _, attention = imitator.act(obs)
    with torch.inference_mode():
        _, raw = imitator.fast.logits(imitator._plan, imitator._check_obs(obs))
    kept = raw["temporal"].numpy()  # (E, t_lstm, T~, H)
    expected = np.zeros((kept.shape[1], kept.shape[3], 40))
    for member, steps in enumerate(imitator._time_index.numpy()):
        for j, step in enumerate(steps):
            expected[:, :, step] += kept[member, :, j, :] / len(kept)
    np.testing.assert_allclose(attention["temporal"], expected, atol=1e-7)
