"""FastPolicy (the Imitator's act path) computes the training network's function."""

import pytest
import torch
from policy_data import random_batch, tiny_config

from oneshot_ros.data import batch as keys
from oneshot_ros.policy import inference
from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.policy.inference import FastPolicy
from oneshot_ros.policy.modeling import OneShotPolicy
from oneshot_ros.policy.weight_norm import fold_weight_norm


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _both_paths(model: OneShotPolicy, batch: dict, fast_model: OneShotPolicy | None = None):
    """The training path (embed, prepare, act_logits) and FastPolicy on the same dropout draw."""
    generator = torch.Generator().manual_seed(0)
    block_mask = batch[keys.BLOCK_MASK]
    with torch.no_grad():
        embedding = model.embed_demo(batch[keys.DEMO_OBS], batch[keys.DEMO_MASK], block_mask,
                                     batch.get(keys.DEMO_STAGE_END), generator)
        reference = model.act_logits(model.prepare(embedding, block_mask), batch[keys.OBS])
    fast = FastPolicy(model if fast_model is None else fast_model)
    return reference, fast.logits(fast.prepare(embedding, block_mask), batch[keys.OBS][:, 0])


def _assert_same(reference, fast, atol: float) -> None:
    (logits, attention), (fast_logits, fast_attention) = reference, fast
    torch.testing.assert_close(fast_logits, logits[:, 0], atol=atol, rtol=0)
    for name in ("temporal", "block"):
        torch.testing.assert_close(fast_attention[name], attention[name][:, 0], atol=atol,
                                   rtol=0)


@pytest.mark.parametrize("overrides", [{}, {"variant": "final_state"}, {"weight_norm": False},
                                       {"n_heads": 1, "lstm_steps": 3}, {"state_scale": 10.0},
                                       {"demo_norm": True}])
def test_fast_path_equals_training_forward_with_masks(overrides):
    """Padded blocks (2, 4, 3) and padded kept steps in one batch; float64 isolates the math."""
    torch.manual_seed(0)
    model = OneShotPolicy(tiny_config(**overrides)).eval()
    batch, _ = random_batch(n_pairs=1)
    model.initialize(batch)  # realistic activation scales
    model = model.double()
    batch = {k: v.double() if v.is_floating_point() else v for k, v in batch.items()}
    _assert_same(*_both_paths(model, batch), atol=1e-9)


def test_fast_path_float32_default_size():
    """The default architecture (D=64, H=2, 4 steps) in float32 agrees to ~1e-5."""
    torch.manual_seed(1)
    model = OneShotPolicy(PolicyConfig()).eval()
    batch, _ = random_batch(seed=1, blocks=(10, 3), lengths=(80, 45), n_pairs=1)
    _assert_same(*_both_paths(model, batch), atol=1e-5)


def test_fast_path_on_a_folded_copy():
    torch.manual_seed(2)
    model = OneShotPolicy(tiny_config()).eval()
    folded = OneShotPolicy(model.config)  # not deepcopy: see imitator._inference_copy
    folded.load_state_dict(model.state_dict())
    folded = fold_weight_norm(folded.double()).eval()
    model = model.double()
    batch, _ = random_batch(seed=2, n_pairs=1)
    batch = {k: v.double() if v.is_floating_point() else v for k, v in batch.items()}
    _assert_same(*_both_paths(model, batch, fast_model=folded), atol=1e-9)


@pytest.mark.parametrize("exp_form", [True, False])
def test_exp_form_and_exact_sigmoid_agree(monkeypatch, exp_form):
    """sigmoid(q + c) as 1 / (1 + exp(-q) exp(-c)) where bounded, else the plain sigmoid."""
    if not exp_form:
        monkeypatch.setattr(inference, "EXP_FORM_LIMIT", 0.0)  # every bound fails
    torch.manual_seed(3)
    model = OneShotPolicy(tiny_config()).double().eval()  # default init: small bounds
    batch, _ = random_batch(seed=3, n_pairs=1)
    batch = {k: v.double() if v.is_floating_point() else v for k, v in batch.items()}
    reference, fast = _both_paths(model, batch)
    _assert_same(reference, fast, atol=1e-9)
    policy = FastPolicy(model)
    plan = policy.prepare(model.embed_demo(batch[keys.DEMO_OBS], batch[keys.DEMO_MASK],
                                           batch[keys.BLOCK_MASK]), batch[keys.BLOCK_MASK])
    assert all(policy.exp_form) == exp_form and all(plan.spatial_exp_form) == exp_form
    assert (plan.exp_neg_h2 is not None) == exp_form


def test_packed_linear_uses_onednn_for_float32_and_matches_addmm():
    torch.manual_seed(4)
    weight, bias, x = torch.randn(459, 256), torch.randn(256), torch.randn(100, 459)
    layer = inference.PackedLinear(weight, bias)
    if torch.backends.mkldnn.is_available():  # the speed-up act relies on (bench_policy.py)
        assert layer.packed is not None
    torch.testing.assert_close(layer(x), torch.addmm(bias, x, weight), atol=1e-4, rtol=1e-5)
    assert torch.equal(layer(x[:2]), torch.addmm(bias, x[:2], weight))  # small: addmm
    exact = inference.PackedLinear(weight.double(), None)  # float64: addmm, bit for bit
    assert exact.packed is None
    assert torch.equal(exact(x.double()), x.double() @ weight.double())
    broken = inference.PackedLinear(torch.full((4, 3), float("nan")), None)
    assert broken.packed is None and torch.isnan(broken(torch.ones(2, 4))).all()


@pytest.mark.parametrize("pad", [False, True])
def test_bounded_softmax_equals_torch_softmax(pad):
    scores = torch.randn(3, 40, 2, 5) * 10  # (N, Q, H, K): 1200, above the small-case cut
    block_pad = torch.tensor([[False] * 5, [False, False, True, True, True],
                              [False] * 4 + [True]]) if pad else None
    expected = inference._softmax_keys(scores, block_pad, bounded=False)
    torch.testing.assert_close(inference._softmax_keys(scores, block_pad, bounded=True),
                               expected, atol=1e-7, rtol=1e-6)
    if pad:
        assert float(expected[1, :, :, 2:].abs().max()) == 0.0
