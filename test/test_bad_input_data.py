"""Bad input at the boundary: implausible or damaged demonstrations, configurations that train
to NaN. Each is one line on stderr and exit 2, and nothing non-finite is trained on or saved."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from cli_checks import one_line_error
from policy_data import overflowing_model
from synthetic import synthetic_episode

from oneshot_ros import cli
from oneshot_ros.data.storage import DemoFormatError, DemoReader, DemoWriter

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "config" / "train" / "tiny.yaml"
WORLD = {"control_hz": 10.0}


def _demos(path: Path, tasks=("abc", "ab"), per_task: int = 3) -> Path:
    """demo_0..2 of "abc" (3 blocks, 2 stages), then "ab"; every one a success."""
    with DemoWriter(path, WORLD) as writer:
        for task in tasks:
            for seed in (0, 2, 3, 4, 6)[:per_task]:
                writer.append(synthetic_episode(task, seed, 0.1))
    return path


def _edit(path: Path, edit) -> Path:
    with h5py.File(path, "a") as h5:
        edit(h5)
    return path


def _set_value(key: str, index: int, step: int, column: int, value: float):
    def edit(h5):
        array = h5[f"data/demo_{index}/{key}"][()]
        array[step, column] = value
        h5[f"data/demo_{index}/{key}"][...] = array
    return edit


def _set_attr(index: int, name: str, value):
    return lambda h5: h5[f"data/demo_{index}"].attrs.__setitem__(name, value)


def _tiny_config(tmp_path: Path, **overrides) -> Path:
    config = tmp_path / "tiny_variant.yaml"
    lines = [line for line in TINY.read_text().splitlines()
             if line.split(":")[0] not in overrides]
    config.write_text("\n".join(lines + [f"{k}: {v}" for k, v in overrides.items()]) + "\n")
    return config


# --- finite garbage in the arrays -------------------------------------------------------------
MAGNITUDES = {  # name -> (array, column, value, message)
    "obs 3e38": ("obs", 0, 3e38, "obs holds 3e+38 at step 2, column 0, but observations are "
                                 "metres from the gripper, within +-10"),
    "a 2 m expert move": ("expert_actions", 1, 2.0, "expert_actions holds 2 at step 2, column "
                                                    "1, but actions are centimetre moves"),
    "grip 3": ("actions", 3, 3.0, "actions holds 3 at step 2, column 3"),
}


@pytest.mark.parametrize("damage", MAGNITUDES)
def test_implausible_values_are_refused_naming_file_demo_and_field(capsys, tmp_path, damage):
    key, column, value, message = MAGNITUDES[damage]
    data = _edit(_demos(tmp_path / "d.h5"), _set_value(key, 4, 2, column, value))
    where = f"{data} demo_4 (demonstration 4): "
    one_line_error(capsys, ["replay", data, "--index", 4, "--out", tmp_path / "r.gif"],
                   where + message)
    one_line_error(capsys, ["train", "--config", TINY, "--data", data, "--out",
                            tmp_path / "model", "--iterations", 1, "--json"], where + message)
    assert not (tmp_path / "model" / "model.safetensors").exists()
    listed = one_line_error(capsys, ["info", data], "1 of 6 demonstrations cannot be used, e.g. "
                            + where + message)
    assert where + message in listed and "success 100%" in listed  # the 5 others


# --- damaged attributes -----------------------------------------------------------------------
ATTRIBUTES = {  # name -> (attribute of demo_1, a task "abc" demo, value, message)
    "negative seed": ("seed", -5, "seed=-5 is not an integer >= 0"),
    "fractional seed": ("seed", 1.5, "seed=1.5 is not an integer >= 0"),
    "success a string": ("success", "yes", "success='yes' is not true or false"),
    "NaN noise": ("noise", np.nan, "noise=nan is not a number in 0..1"),
    "unknown outcome": ("outcome", "fine", "outcome='fine' is not one of"),
    "length off": ("length", 99, "length=99 but obs holds 14 steps"),
    "n_blocks off": ("n_blocks", 7, "n_blocks=7 but task 'abc' has 3 blocks"),
    "stage ends backwards": ("stage_ends", np.array([5, 3]),
                             "stage_ends=[5, 3] is not in increasing order"),
    "stage end past the demo": ("stage_ends", np.array([0, 14]),
                                "stage_ends=[0, 14] is outside the demo's steps 0..13"),
    "too many stage ends": ("stage_ends", np.array([1, 2, 3]),
                            "stage_ends=[1, 2, 3] is more ends than the task's stages"),
    "fractional stage end": ("stage_ends", np.array([1.5, 2.0]),
                             "stage_ends=[1.5, 2.0] is not a list of step indices"),
}


@pytest.mark.parametrize("damage", ATTRIBUTES)
def test_damaged_attributes_are_refused_and_listed_by_info(capsys, tmp_path, damage):
    name, value, message = ATTRIBUTES[damage]
    data = _edit(_demos(tmp_path / "d.h5"), _set_attr(1, name, value))  # seed 2: 14 steps
    where = f"{data} demo_1 (demonstration 1): "
    one_line_error(capsys, ["replay", data, "--index", 1, "--out", tmp_path / "r.gif"],
                   where + message)
    listed = one_line_error(capsys, ["info", data], where + message)
    assert where + message in listed
    assert "'abc': 2" in listed  # the figures leave the damaged demo out


def test_a_reader_refuses_a_damaged_attribute_unless_asked_to_list_it(tmp_path):
    data = _edit(_demos(tmp_path / "d.h5"), _set_attr(1, "seed", -5))
    with pytest.raises(DemoFormatError, match="demo_1 .*seed=-5"):
        DemoReader(data)
    with DemoReader(data, keep_bad=True) as reader:
        assert list(reader.bad) == [1] and reader.tasks == {"abc": [0, 2], "ab": [3, 4, 5]}
        reader[0]  # the others stay readable
        with pytest.raises(DemoFormatError, match="seed=-5"):
            reader[1]


@pytest.mark.parametrize("world, message", [
    ('{"control_hz": "fast"}', "its world_config.control_hz: expected float, got 'fast'"),
    ('{"control_hz": NaN}', "its 'world_config' attribute is not valid JSON (or holds NaN"),
])
def test_a_world_config_that_cannot_be_rebuilt_is_refused(capsys, tmp_path, world, message):
    data = _edit(_demos(tmp_path / "d.h5"), lambda h5: h5.attrs.__setitem__("world_config",
                                                                              world))
    one_line_error(capsys, ["info", data], f"{data}: {message}")


# --- info --json ------------------------------------------------------------------------------
def _strict_json(text: str):
    def refuse(name):
        raise AssertionError(f"{name} in the JSON output")
    return json.loads(text, parse_constant=refuse)


def test_info_json_lists_bad_demos_and_never_holds_nan(capsys, tmp_path):
    data = _demos(tmp_path / "d.h5")
    assert cli.main(["info", str(data), "--json"]) == 0
    assert _strict_json(capsys.readouterr().out)["bad_demos"] == []
    _edit(data, _set_attr(1, "noise", np.nan))
    _edit(data, _set_value("obs", 2, 0, 0, np.nan))
    _edit(data, _set_value("obs", 3, 0, 0, 3e38))
    summary = _strict_json(one_line_error(capsys, ["info", data, "--json"],
                                          "3 of 6 demonstrations cannot be used"))
    assert [bad["index"] for bad in summary["bad_demos"]] == [1, 2, 3]
    assert "noise=nan" in summary["bad_demos"][0]["problem"]
    assert summary["demos"] == 6 and summary["tasks"] == {"ab": 2, "abc": 1}
    assert summary["noise"] == [0.1]


# --- training that diverges -------------------------------------------------------------------
def test_a_step_with_a_non_finite_loss_leaves_the_weights_untouched():
    from policy_data import random_batch, tiny_config

    from oneshot_ros.data import batch as keys
    from oneshot_ros.policy.modeling import OneShotPolicy
    from oneshot_ros.train.step import TrainingDivergedError, bc_step, make_optimizer

    model = OneShotPolicy(tiny_config())
    batch, _ = random_batch()
    batch[keys.OBS] = torch.full_like(batch[keys.OBS], 3e38)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    with pytest.raises(TrainingDivergedError, match="is (nan|inf)"):
        bc_step(model, make_optimizer(model), batch, max_grad_norm=10.0)
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())


def test_training_stops_at_the_first_non_finite_step_and_keeps_the_last_checkpoint(
        capsys, tmp_path):
    data, out = _demos(tmp_path / "d.h5"), tmp_path / "model"
    base = ["train", "--data", data, "--out", out, "--json"]
    assert cli.main([str(a) for a in [*base, "--config", TINY, "--iterations", "2"]]) == 0
    saved = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "metrics.jsonl"}
    one_line_error(capsys, [*base, "--config", _tiny_config(tmp_path, lr="1.0e+30"),
                            "--resume", "--iterations", "60"],
                   "training diverged at iteration ", "before the optimizer step; nothing of "
                   f"it was saved ({out} keeps the checkpoint of iteration 2); lower lr "
                   "(now 1e+30)")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "metrics.jsonl"} == saved
    for line in (out / "metrics.jsonl").read_text().splitlines():
        assert np.isfinite(_strict_json(line)["loss"])


@pytest.mark.parametrize("setting, message", [
    ("lr: .nan", "lr=nan: use a positive finite learning rate"),
    ("lr: 0", "lr=0.0: use a positive finite learning rate"),
    ("lr: -0.001", "lr=-0.001: use a positive finite learning rate"),
    ("torch_threads: -1", "torch_threads=-1: use 0 or a positive integer"),
    ("seed: -3", "seed=-3: use 0 or a positive integer"),
    ("max_grad_norm: .nan", "max_grad_norm=nan: use a positive norm"),
    ("time_budget_s: -1.0", "time_budget_s=-1.0: use seconds >= 0"),
])
def test_train_config_values_that_cannot_train_are_refused(capsys, tmp_path, setting, message):
    key, value = (part.strip() for part in setting.split(":"))
    config = _tiny_config(tmp_path, **{key: value})
    one_line_error(capsys, ["train", "--config", config, "--data", _demos(tmp_path / "d.h5"),
                            "--out", tmp_path / "model"], f"{config}: {message}")
    assert not (tmp_path / "model" / "metrics.jsonl").exists()


def test_train_refuses_data_without_two_demos_of_any_task(capsys, tmp_path):
    data = _demos(tmp_path / "d.h5", tasks=("abc", "ab", "ab c"), per_task=1)
    one_line_error(capsys, ["train", "--config", TINY, "--data", data, "--out",
                            tmp_path / "model"],
                   f"--data {data}: no task has 2 demonstrations, one of them successful "
                   "(3 demos of 3 tasks); collect at least 2 per task")


# --- a policy whose finite weights overflow ---------------------------------------------------
def test_eval_of_a_policy_that_outputs_nan_is_one_line_and_keeps_finished_episodes(
        capsys, tmp_path):
    model, out = overflowing_model(tmp_path / "overflowing"), tmp_path / "eval"
    argv = ["eval", "--model", model, "--task", "ab", "--episodes", 2, "--workers", 1,
            "--no-demo-baseline", "--quiet", "--out", out]
    nan = "the policy's outputs are NaN or inf"
    one_line_error(capsys, argv, f"--model {model}, task 'ab' episode 0: {nan}",
                   f"0 finished episode(s) kept in {out / 'episodes.jsonl'}")
    finished = json.dumps({"task": "ab", "index": 0, "success": False}) + "\n"
    (out / "episodes.jsonl").write_text(finished)  # an earlier run's episode 0
    one_line_error(capsys, argv, f"task 'ab' episode 1: {nan}", "1 finished episode(s) kept")
    assert (out / "episodes.jsonl").read_text() == finished
