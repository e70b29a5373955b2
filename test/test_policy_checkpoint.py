"""policy.checkpoint: bit-exact round trip; truncated, foreign, mismatched files fail clearly."""

import json

import pytest
import torch
from policy_data import random_batch, tiny_config

from oneshot_ros.policy import checkpoint
from oneshot_ros.policy.modeling import OneShotPolicy


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = OneShotPolicy(tiny_config())
    model.initialize(random_batch()[0])
    checkpoint.save(model, tmp_path / "run", provenance={"data": "synthetic", "iterations": 3})
    return model, tmp_path / "run"


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
    meta = json.loads((path / checkpoint.CONFIG_FILE).read_text())
    meta["sha256"] = checkpoint._sha256(weights)  # even with a matching hash
    (path / checkpoint.CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(checkpoint.CheckpointError, match="not a readable safetensors file"):
        checkpoint.load(path)


def test_architecture_mismatch_is_refused(saved):
    _, path = saved
    meta = json.loads((path / checkpoint.CONFIG_FILE).read_text())
    meta["policy"]["embed_dim"] = 32
    (path / checkpoint.CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(checkpoint.CheckpointError, match="do not match the architecture"):
        checkpoint.load(path)
    meta["policy"]["n_bins"] = 4
    (path / checkpoint.CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="n_bins=4"):
        checkpoint.load(path)
