"""ros-demo records its demonstration in the world the model was trained in (config.json)."""

import json
import shutil

import h5py
import pytest

from oneshot_ros.commands.ros_demo import model_world, record_demo
from oneshot_ros.errors import InputError


def test_model_world_reads_the_training_world(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    shutil.copy("models/carry_ceiling_continued/config.json", model / "config.json")
    assert model_world(model)["carry_ceiling_m"] == pytest.approx(0.38)
    shutil.copy("models/stage_attention/config.json", model / "config.json")
    assert model_world(model).get("carry_ceiling_m", 0.0) == 0.0  # written before the field


def test_model_world_refuses_a_foreign_config(tmp_path):
    (tmp_path / "config.json").write_text("[1, 2")
    with pytest.raises(InputError, match="not a model config"):
        model_world(tmp_path)


def test_the_demonstration_is_recorded_in_that_world(tmp_path):
    path, index = record_demo("ab", 100_000, tmp_path / "demo.h5", {"carry_ceiling_m": 0.38})
    assert index == 0
    with h5py.File(path) as f:
        assert json.loads(f.attrs["world_config"])["carry_ceiling_m"] == pytest.approx(0.38)
