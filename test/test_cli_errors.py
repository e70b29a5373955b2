"""The command line: the user's mistakes (arguments, damaged files, unwritable paths) give one line
on stderr and a non-zero exit, never a traceback; a real bug keeps its traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from cli_checks import argparse_error, one_line_error
from synthetic import synthetic_episode

from oneshot_ros import cli
from oneshot_ros.data.storage import DemoWriter
from oneshot_ros.errors import InputError
from oneshot_ros.world.world_config import default_world_config

WORLD = {"control_hz": 10.0}
ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "config" / "train" / "tiny.yaml")


def _demos(path: Path, tasks=("ab", "ab c"), per_task: int = 3, world=WORLD) -> Path:
    with DemoWriter(path, world) as writer:
        for task in tasks:
            for seed in (0, 2, 3, 4, 6)[:per_task]:  # seeds the synthetic producer succeeds on
                writer.append(synthetic_episode(task, seed, 0.1))
    return path


def _damage(path: Path, edit) -> Path:
    with h5py.File(path, "a") as h5:
        edit(h5)
    return path


# --- the split between the user's errors and bugs ---------------------------------------------
def test_user_errors_are_one_line_but_a_bug_keeps_its_traceback(capsys):
    def user_mistake():
        raise InputError("--episodes 0: use at least 1")

    assert cli.call("demo", user_mistake) == 2
    assert capsys.readouterr().err == "oneshot-ros demo: error: --episodes 0: use at least 1\n"
    with pytest.raises(ValueError, match="invalid literal"):
        cli.call("demo", lambda: int("a bug, not the user's input"))


# --- values that used to mean something else, or nothing -----------------------------
def test_train_iterations_zero_is_refused_not_the_default(capsys, tmp_path):
    argparse_error(capsys, ["train", "--config", TINY, "--data", tmp_path / "none.h5",
                            "--out", tmp_path / "model", "--iterations", "0"],
                   "--iterations: 0: use at least 1")


def test_collect_from_an_empty_task_list_creates_nothing(capsys, tmp_path):
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("# no tasks yet\n\n")
    out = tmp_path / "demos.h5"
    one_line_error(capsys, ["collect", "--tasks", tasks, "--out", out], "lists no tasks")
    assert not out.exists()


def test_info_refuses_a_corrupt_demo_count(capsys, tmp_path):
    path = _damage(_demos(tmp_path / "d.h5"), lambda h5: h5["data"].attrs.__setitem__("n_demos",
                                                                                         0))
    one_line_error(capsys, ["info", path], "n_demos=0 but demo_0 lies beyond")


# --- a repeated --task is several tasks, or refused ----------------------------------
def test_repeated_task_is_kept_or_refused(capsys, tmp_path):
    parser = cli.build_parser()
    for command in ("collect", "eval"):
        extra = ["--model", "m"] if command == "eval" else []
        args = parser.parse_args([command, "--task", "ab", "--task", "abc", "--out", "x.h5",
                                  *extra])
        assert args.task == ["ab", "abc"], command
    argparse_error(capsys, ["demonstrate", "--task", "ab", "--task", "abc"],
                   "--task given twice")
    one_line_error(capsys, ["eval", "--model", tmp_path, "--task", "ab", "--task", "ab",
                            "--out", tmp_path / "ev"], "given twice")


# --- damaged files -------------------------------------------------------------
def test_train_refuses_a_dataset_with_one_nan(capsys, tmp_path):
    def nan_in_demo_4(h5):
        obs = h5["data/demo_4/obs"][()]
        obs[2, 0] = np.nan
        h5["data/demo_4/obs"][...] = obs

    data = _damage(_demos(tmp_path / "d.h5"), nan_in_demo_4)
    one_line_error(capsys, ["train", "--config", TINY, "--data", data, "--out",
                            tmp_path / "model", "--iterations", "1"],
                   "demo_4 (demonstration 4): obs holds NaN or inf (first at step 2)")
    assert not (tmp_path / "model" / "model.safetensors").exists()


@pytest.mark.parametrize("command", ["info", "replay", "train", "collect"])
def test_missing_attributes_are_one_line_errors(capsys, tmp_path, command):
    world = default_world_config() if command == "collect" else WORLD  # collect resumes it
    data = _damage(_demos(tmp_path / "d.h5", world=world),
                   lambda h5: h5["data/demo_1"].attrs.__delitem__("stage_ends"))
    argv = {"info": ["info", data],
            "replay": ["replay", data, "--out", tmp_path / "r.gif"],
            "train": ["train", "--config", TINY, "--data", data, "--out", tmp_path / "m"],
            "collect": ["collect", "--task", "ab", "--out", data]}[command]
    one_line_error(capsys, argv, "demo_1", "lacks the attribute(s) ['stage_ends']")


def test_missing_world_config_and_missing_groups(capsys, tmp_path):
    data = _damage(_demos(tmp_path / "a.h5"), lambda h5: h5.attrs.__delitem__("world_config"))
    one_line_error(capsys, ["info", data], "lacks its 'world_config' attribute")
    data = _damage(_demos(tmp_path / "b.h5"), lambda h5: h5["data"].attrs.__setitem__("n_demos",
                                                                                         9))
    one_line_error(capsys, ["info", data], "n_demos=9 but demo_6 is missing")
    data = _damage(_demos(tmp_path / "c.h5"), lambda h5: h5["data/demo_0"].__delitem__("obs"))
    one_line_error(capsys, ["replay", data, "--out", tmp_path / "r.gif"],
                   "demo_0 (demonstration 0) lacks the array(s) ['obs']")


@pytest.mark.parametrize("index", ["99", "-7"])
def test_replay_index_out_of_range(capsys, tmp_path, index):
    data = _demos(tmp_path / "d.h5")
    one_line_error(capsys, ["replay", data, "--index", index, "--out", tmp_path / "r.gif"],
                   f"demonstration {index} out of range: there are 6")


def test_eval_empty_task(capsys, tmp_path):
    one_line_error(capsys, ["eval", "--model", tmp_path, "--task", "", "--out", tmp_path / "e"],
                   "empty task string")


# --- outputs that cannot be written ---------------------------------------------------
def test_out_under_a_regular_file(capsys, tmp_path, tiny_model):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    one_line_error(capsys, ["collect", "--task", "ab", "--out", blocker / "d.h5"],
                   f"{blocker} is a file, not a directory")
    one_line_error(capsys, ["eval", "--model", tiny_model, "--task", "ab", "--out",
                            blocker / "eval"], f"{blocker} is a file, not a directory")
    one_line_error(capsys, ["train", "--config", TINY, "--data", _demos(tmp_path / "d.h5"),
                            "--out", blocker / "model", "--iterations", "1", "--json"],
                   str(blocker))


def test_video_that_cannot_be_written(capsys, tmp_path):
    data = _demos(tmp_path / "d.h5")
    folder = tmp_path / "taken.mp4"
    folder.mkdir()  # ffmpeg cannot open it: the old code died of a BrokenPipeError
    one_line_error(capsys, ["replay", data, "--out", folder], "is a directory")
    one_line_error(capsys, ["demonstrate", "--task", "ab", "--video", folder], "is a directory")
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file")
    one_line_error(capsys, ["replay", data, "--out", blocker / "v.mp4"],
                   f"{blocker} is a file, not a directory")


def test_stdout_closed_by_the_reader_is_quiet(tmp_path):
    """`oneshot-ros info F | true`: no BrokenPipeError traceback, a non-zero exit."""
    data = _demos(tmp_path / "d.h5")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "oneshot_ros.cli", "info", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before anything is written
    assert proc.wait(timeout=60) == 141
    assert proc.stderr.read() == b""
