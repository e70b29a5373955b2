"""FastPolicy (the Imitator's act path) computes the training network's function: on the
shipped checkpoints' weights in float32 (as deployed) and for every PolicyConfig option."""

import dataclasses
from pathlib import Path

import pytest
import torch
from policy_data import random_batch, tiny_config

from oneshot_ros.data import batch as keys
from oneshot_ros.policy import checkpoint, inference
from oneshot_ros.policy.configuration import ACTION_HEADS, VARIANTS, PolicyConfig
from oneshot_ros.policy.imitator import Imitator
from oneshot_ros.policy.inference import FastPolicy
from oneshot_ros.policy.modeling import OneShotPolicy
from oneshot_ros.policy.weight_norm import fold_weight_norm

ROOT = Path(__file__).resolve().parents[1]

# The float64 equality test runs tiny_config() with each of these overrides. Every PolicyConfig
# field needs a case that changes it (every allowed value for the ENUMS), or an entry in
# NOT_INFERENCE saying why it cannot change what FastPolicy computes:
# test_every_policy_config_option_is_covered fails otherwise, e.g. for a new option.
OPTION_CASES = [
    {},
    {"variant": "final_state"},
    {"variant": "snapshot"},
    {"keep_stage_ends": True, "state_scale": 10.0, "demo_norm": True},
    {"action_head": "l2"},
    {"weight_norm": False},
    {"state_scale": 10.0},
    {"demo_norm": True},
    {"state_scale": 10.0, "demo_norm": True, "n_heads": 1},
    {"n_heads": 1, "lstm_steps": 3},
    {"n_heads": 3},
    {"lstm_steps": 1},
    {"embed_dim": 8},
    {"mlp_hidden": (16,)},
    {"mlp_hidden": (16, 8, 12)},
    {"n_bins": 3},
    {"dilations": (1,)},
    {"temporal_dropout_p": 0.0},
    {"frame_reach": 1, "temporal_dropout_p": 0.0},  # tiny dilations (1, 2): 2 loses a tap
]
ENUMS = {"variant": VARIANTS, "action_head": ACTION_HEADS}
NOT_INFERENCE = {
    "max_step_m": "scales ActionHead.decode, which reads the logits FastPolicy returns",
    "ensemble_size": "the Imitator's default member count; FastPolicy takes N from the demos",
}
# The checkpoints in models/ whose weights the float32 test runs: the deployed policies, the
# paper-as-written model (no demo_norm, state_scale 1) and the two trained baselines.
SHIPPED = ["bc_all_stages", "bc_stack", "baseline_snapshot", "baseline_final_state",
           "stage_attention"]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _with_stage_ends(batch: dict) -> dict:
    """Stage-end marks (every 5th real step) for the "snapshot" variant; others ignore them."""
    marks = torch.zeros_like(batch[keys.DEMO_MASK])
    marks[:, 3::5] = True
    return dict(batch, **{keys.DEMO_STAGE_END: marks & batch[keys.DEMO_MASK]})


def _both_paths(model: OneShotPolicy, batch: dict, fast: FastPolicy | None = None):
    """The training path (embed, prepare, act_logits) and FastPolicy on the same dropout draw."""
    generator = torch.Generator().manual_seed(0)
    block_mask = batch[keys.BLOCK_MASK]
    with torch.no_grad():
        embedding = model.embed_demo(batch[keys.DEMO_OBS], batch[keys.DEMO_MASK], block_mask,
                                     batch.get(keys.DEMO_STAGE_END), generator)
        reference = model.act_logits(model.prepare(embedding, block_mask), batch[keys.OBS])
    fast = FastPolicy(model) if fast is None else fast
    return reference, fast.logits(fast.prepare(embedding, block_mask), batch[keys.OBS][:, 0])


def _assert_same(reference, fast, atol: float, atol_attention: float | None = None) -> None:
    (logits, attention), (fast_logits, fast_attention) = reference, fast
    torch.testing.assert_close(fast_logits, logits[:, 0], atol=atol, rtol=0)
    for name in ("temporal", "block"):
        torch.testing.assert_close(fast_attention[name], attention[name][:, 0],
                                   atol=atol if atol_attention is None else atol_attention,
                                   rtol=0)


def _double(batch: dict) -> dict:
    return {k: v.double() if v.is_floating_point() else v for k, v in batch.items()}


@pytest.mark.parametrize("overrides", OPTION_CASES, ids=lambda case: str(case or "tiny"))
def test_fast_path_equals_training_forward_with_masks(overrides):
    """Padded blocks (2, 4, 3) and padded kept steps in one batch; float64 isolates the math."""
    torch.manual_seed(0)
    model = OneShotPolicy(tiny_config(**overrides)).eval()
    batch, _ = random_batch(n_pairs=1)
    batch = _with_stage_ends(batch)
    model.initialize(batch)  # realistic activation scales
    _assert_same(*_both_paths(model.double(), _double(batch)), atol=1e-9)


def test_every_policy_config_option_is_covered():
    configs = [dataclasses.replace(tiny_config(), **case) for case in OPTION_CASES]
    fields = {field.name for field in dataclasses.fields(PolicyConfig)}
    assert set(NOT_INFERENCE) <= fields, "NOT_INFERENCE names a field PolicyConfig lacks"
    for name in sorted(fields - set(NOT_INFERENCE)):
        tested = {getattr(config, name) for config in configs}
        required = set(ENUMS.get(name, ()))
        assert tested >= required and len(tested) >= 2, (
            f"PolicyConfig.{name}: the FastPolicy equality test runs only {sorted(tested)}"
            f"{f' of {sorted(required)}' if required else ''}; add a case to OPTION_CASES "
            f"(or, if it cannot change the logits, a reason to NOT_INFERENCE)")


@pytest.mark.parametrize("name", SHIPPED)
def test_fast_path_equals_training_network_on_shipped_weights(name):
    """float32, as deployed: the checkpoint's training network (weight norm as trained) vs the
    FastPolicy that Imitator.act runs (of its folded copy); 6 demos of 2-10 blocks, padded, so
    the ensemble-10-sized products take the packed oneDNN path where it exists."""
    model, _ = checkpoint.load(ROOT / "models" / name)
    batch, _ = random_batch(seed=5, blocks=(10, 3, 10, 6, 2, 8),
                            lengths=(300, 120, 40, 200, 60, 500), n_pairs=1)
    fast = Imitator(model).fast
    if torch.backends.mkldnn.is_available():  # the path act takes at ensemble 10
        assert all(layer.packed is not None for layer in
                   (*fast.cell_linear, *fast.spatial_linear))
    reference, result = _both_paths(model.eval(), _with_stage_ends(batch), fast)
    scale = max(float(reference[0].abs().max()), 1.0)  # trained logits reach ~200
    _assert_same(reference, result, atol=2e-6 * scale, atol_attention=1e-5)


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
    batch, _ = random_batch(seed=2, n_pairs=1)
    _assert_same(*_both_paths(model.double(), _double(batch), FastPolicy(folded)), atol=1e-9)


def test_packed_linear_uses_onednn_for_large_float32_products_and_matches_addmm():
    torch.manual_seed(4)
    weight, bias, x = torch.randn(459, 256), torch.randn(256), torch.randn(100, 459)
    layer = inference.PackedLinear(weight, bias)
    if torch.backends.mkldnn.is_available():  # the speed-up act relies on (bench_policy.py)
        assert layer.packed is not None
    torch.testing.assert_close(layer(x), torch.addmm(bias, x, weight), atol=1e-4, rtol=1e-5)
    assert torch.equal(layer(x[:10]), torch.addmm(bias, x[:10], weight))  # ensemble 1: addmm
    exact = inference.PackedLinear(weight.double(), None)  # float64: addmm, bit for bit
    assert exact.packed is None
    assert torch.equal(exact(x.double()), x.double() @ weight.double())
    broken = inference.PackedLinear(torch.full((4, 3), float("nan")), None)
    assert broken.packed is None and torch.isnan(broken(torch.ones(2, 4))).all()
