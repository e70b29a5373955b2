"""Output directories: a finished training run is not trained over, one process writes into an
--out at a time, and an empty --out (the current directory) is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_checks import one_line_error
from synthetic import synthetic_episode

from oneshot_ros import cli
from oneshot_ros.data.storage import DemoWriter

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "config" / "train" / "tiny.yaml"
TRAIN_TASKS = ROOT / "config" / "tasks" / "train.txt"


@pytest.fixture
def demos(tmp_path) -> Path:
    path = tmp_path / "d.h5"
    with DemoWriter(path, {"control_hz": 10.0}) as writer:
        for task in ("ab", "abc"):
            for seed in (0, 2, 3):
                writer.append(synthetic_episode(task, seed, 0.1))
    return path


def _train(demos: Path, out: Path, iterations: int, *flags: str) -> list[str]:
    return ["train", "--config", str(TINY), "--data", str(demos), "--out", str(out),
            "--iterations", str(iterations), "--json", *flags]


def _iterations(out: Path) -> list[int]:
    return [json.loads(line)["iteration"]
            for line in (out / "metrics.jsonl").read_text().splitlines()]


# --- a finished run -----------------------------------------------------------------------
def test_train_into_a_run_needs_resume_or_overwrite(capsys, tmp_path, demos):
    out = tmp_path / "model"
    assert cli.main(_train(demos, out, 2)) == 0
    one_line_error(capsys, _train(demos, out, 4),
                   f"--out {out} already holds a training run (checkpoint of iteration 2); "
                   "pass --resume to continue it, --overwrite to replace it, or another --out")
    assert _iterations(out) == [1, 2]  # was 1, 2, 1, 2, 3, 4
    one_line_error(capsys, _train(demos, out, 4, "--resume", "--overwrite"),
                   "--resume and --overwrite: pass one")
    assert cli.main(_train(demos, out, 3, "--overwrite")) == 0
    assert _iterations(out) == [1, 2, 3]
    assert cli.main(_train(demos, out, 4, "--resume")) == 0
    assert _iterations(out) == [1, 2, 3, 4]


def test_files_of_a_run_killed_before_its_first_checkpoint_are_not_trained_over(
        capsys, tmp_path, demos):
    out = tmp_path / "model"
    out.mkdir()
    (out / "metrics.jsonl").write_text('{"iteration": 1, "loss": 1.0}\n')
    one_line_error(capsys, _train(demos, out, 2), "already holds a training run's files "
                   "(metrics.jsonl); pass --overwrite to replace them, or another --out")
    assert cli.main(_train(demos, out, 2, "--overwrite")) == 0
    assert _iterations(out) == [1, 2]


# --- one writer at a time -------------------------------------------------------------------
HOLD = ("import sys; from oneshot_ros.commands._args import locked_output_dir\n"
        "with locked_output_dir('--out', sys.argv[1]):\n"
        "    print('held', flush=True); sys.stdin.read()\n")


def test_a_second_writer_of_an_out_dir_is_refused_naming_the_holder(capsys, tmp_path, demos,
                                                                   tiny_model):
    out = tmp_path / "busy"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        busy = f"--out {out} is in use by another running oneshot-ros (pid {holder.pid}); " \
               "wait for it to finish (or stop it), or pass another --out"
        one_line_error(capsys, _train(demos, out, 2), busy)
        one_line_error(capsys, ["eval", "--model", tiny_model, "--task", "ab", "--episodes",
                                1, "--out", out], busy)
        one_line_error(capsys, ["dagger", "--model", tiny_model, "--data", demos, "--tasks",
                                TRAIN_TASKS, "--out", out], busy)
        assert sorted(p.name for p in out.iterdir()) == [".oneshot-ros.lock"]
    finally:
        holder.stdin.close()  # the holder exits; the kernel drops its lock
        holder.wait(timeout=30)
    assert cli.main(_train(demos, out, 2)) == 0


# --- an empty --out ---------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["train", "eval", "dagger", "collect"])
def test_an_empty_out_is_refused(capsys, tmp_path, monkeypatch, demos, tiny_model, command):
    """Path("") is the current directory: the old code wrote the run there."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    argv = {"train": ["train", "--config", TINY, "--data", demos, "--iterations", 1],
            "eval": ["eval", "--model", tiny_model, "--task", "ab", "--episodes", 1,
                     "--no-demo-baseline", "--workers", 1],
            "dagger": ["dagger", "--model", tiny_model, "--data", demos, "--tasks",
                       TRAIN_TASKS, "--rounds", 1, "--workers", 1],
            "collect": ["collect", "--task", "ab", "--demos-per-task", 1, "--workers", 1],
            }[command]
    one_line_error(capsys, [*argv, "--out", ""], "--out '' is empty; pass a path")
    assert list(workdir.iterdir()) == []
