"""policy.checkpoint: bit-exact round trip; truncated, foreign, mismatched files fail clearly."""

import json
from pathlib import Path

import pytest
import torch
from policy_data import random_batch, tiny_config
from safetensors.torch import save_file

from oneshot_ros.policy import checkpoint
from oneshot_ros.policy.modeling import OneShotPolicy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = OneShotPolicy(tiny_config())
    model.initialize(random_batch()[0])
    checkpoint.save(model, tmp_path / "run", provenance={"data": "synthetic", "iterations": 3})
    return model, tmp_path / "run"


def _edit_config(path, edit, rehash: bool = False) -> None:
    """Apply `edit` to config.json; `rehash`: as if the edit had been saved by checkpoint.save."""
    meta = json.loads((path / checkpoint.CONFIG_FILE).read_text())
    edit(meta)
    if rehash:
        meta["config_sha256"] = checkpoint.config_sha256(meta)
    (path / checkpoint.CONFIG_FILE).write_text(json.dumps(meta))


def test_round_trip_is_bit_exact(saved):
    model, path = saved
    loaded, meta = checkpoint.load(path)
    assert checkpoint.state_dicts_equal(model, loaded)
    assert loaded.config == model.config
    batch, _ = random_batch(seed=3)
    with torch.no_grad():
        a, _ = model.eval()(batch, torch.Generator().manual_seed(1))
        b, _ = loaded(batch, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert meta["provenance"] == {"data": "synthetic", "iterations": 3}
    assert meta["action_head"]["n_bins"] == 5
    assert meta["action_layout"]["max_step_m"] == model.config.max_step_m


def test_truncated_weights_name_the_file(saved):
    _, path = saved
    weights = path / checkpoint.WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(checkpoint.CheckpointError, match="model.safetensors.*truncated"):
        checkpoint.load(path)


def test_foreign_files_are_refused(saved, tmp_path):
    _, path = saved
    (path / checkpoint.CONFIG_FILE).write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(checkpoint.CheckpointError, match="foreign"):
        checkpoint.load(path)
    (path / checkpoint.CONFIG_FILE).write_text("{not json")
    with pytest.raises(checkpoint.CheckpointError, match="config.json: not valid JSON"):
        checkpoint.load(path)
    with pytest.raises(checkpoint.CheckpointError, match="config.json: file missing"):
        checkpoint.load(tmp_path / "nowhere")


def test_non_safetensors_weights_are_refused(saved):
    _, path = saved
    weights = path / checkpoint.WEIGHTS_FILE
    weights.write_bytes(b"\x80\x04 this is a pickle, not safetensors")
    _edit_config(path, lambda m: m.update(sha256=checkpoint._sha256(weights)),
                 rehash=True)  # even with matching hashes
    with pytest.raises(checkpoint.CheckpointError, match="not a readable safetensors file"):
        checkpoint.load(path)


def test_architecture_mismatch_is_refused(saved):
    _, path = saved
    _edit_config(path, lambda m: m["policy"].update(embed_dim=32), rehash=True)
    with pytest.raises(checkpoint.CheckpointError, match="do not match the architecture"):
        checkpoint.load(path)
    _edit_config(path, lambda m: m["policy"].update(n_bins=4), rehash=True)
    with pytest.raises(ValueError, match="n_bins=4"):
        checkpoint.load(path)


# --- config.json is covered by its hash; weights must be finite -------------------------------
@pytest.mark.parametrize("edit", [
    lambda m: m["policy"].pop("demo_norm"),
    lambda m: m.pop("policy"),
    lambda m: m["policy"].update(max_step_m=0.03),
    lambda m: m.update(unknown_key=1),
    lambda m: m.pop("config_sha256"),
], ids=["no demo_norm", "no policy", "max_step_m changed", "key added", "no hash"])
def test_edited_config_is_refused(saved, edit):
    _, path = saved
    _edit_config(path, edit)
    with pytest.raises(checkpoint.CheckpointError, match="config_sha256"):
        checkpoint.load(path)


def test_trimmed_policy_is_refused_even_when_rehashed(saved):
    _, path = saved
    _edit_config(path, lambda m: m["policy"].pop("demo_norm"), rehash=True)
    with pytest.raises(checkpoint.CheckpointError, match="policy lacks \\['demo_norm'\\]"):
        checkpoint.load(path)


def test_a_checkpoint_from_before_an_added_field_loads_with_the_old_behaviour(saved):
    _, path = saved
    _edit_config(path, lambda m: m["policy"].pop("keep_stage_ends"), rehash=True)
    model, _ = checkpoint.load(path)
    assert model.config.keep_stage_ends is False  # the option did not exist when it was trained


def test_non_finite_weights_are_refused(saved):
    model, path = saved
    tensors = {k: v.clone() for k, v in model.state_dict().items()}
    name = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[name].view(-1)[0] = float("nan")
    save_file(tensors, str(path / checkpoint.WEIGHTS_FILE))
    _edit_config(path, lambda m: m.update(sha256=checkpoint._sha256(
        path / checkpoint.WEIGHTS_FILE)), rehash=True)
    with pytest.raises(checkpoint.CheckpointError, match="hold NaN or inf"):
        checkpoint.load(path)


def test_version_1_is_refused_until_upgraded(saved, tmp_path):
    model, path = saved
    _edit_config(path, lambda m: (m.pop("config_sha256"), m["policy"].pop("demo_norm"),
                                  m.update(format_version=1)))  # as the old save wrote it
    with pytest.raises(checkpoint.CheckpointError, match="checkpoint upgrade"):
        checkpoint.load(path)
    assert checkpoint.main(["upgrade", str(path)]) == 0
    loaded, meta = checkpoint.load(path)
    assert checkpoint.state_dicts_equal(model, loaded) and meta["policy"]["demo_norm"] is False
    assert not checkpoint.upgrade(path)  # already version 2


@pytest.mark.parametrize("name", ["bc_all_stages", "bc_demo_norm", "bc_stack"])
def test_shipped_models_load(name):
    model, meta = checkpoint.load(ROOT / "models" / name)
    assert meta["format_version"] == checkpoint.FORMAT_VERSION
    assert model.config.demo_norm == (name != "bc_stack")
