"""Demonstration storage: round trip, refusal of foreign/old/truncated files, crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from synthetic import synthetic_episode

from oneshot_ros.data import journal
from oneshot_ros.data.storage import (
    FORMAT_VERSION,
    DemoFormatError,
    DemoReader,
    DemoWriter,
)

WORLD = {"control_hz": 10.0, "block_size_m": 0.05, "max_step_m": 0.03}
TEST_DIR = Path(__file__).parent


def _write(path, seeds, task="ab cd", world=WORLD):
    with DemoWriter(path, world) as writer:
        for seed in seeds:
            writer.append(synthetic_episode(task, seed, 0.1), attempts=2)


def _assert_same(episode, expected):
    for name in ("obs", "actions", "expert_actions"):
        got, want = getattr(episode, name), getattr(expected, name)
        assert got.dtype == np.float32 and np.array_equal(got, want), name
    assert (episode.task, episode.seed, episode.noise) == (expected.task, expected.seed, 0.1)
    assert episode.success == expected.success and episode.outcome == expected.outcome
    assert episode.stage_ends == expected.stage_ends and episode.source == expected.source


def test_round_trip_is_bit_exact(tmp_path):
    path = tmp_path / "demos.h5"
    _write(path, range(6))
    _write(path, range(6, 9), task="abc d e")  # reopen and append another task
    with DemoReader(path) as reader:
        assert len(reader) == 9 and reader.world_config == WORLD
        assert reader.tasks == {"ab cd": list(range(6)), "abc d e": [6, 7, 8]}
        for i in range(9):
            meta = reader.meta(i)
            _assert_same(reader[i], synthetic_episode(meta["task"], meta["seed"], 0.1))
        assert meta["attempts"] == 2 and meta["n_blocks"] == 5 and meta["length"] == 12 + 8
        assert ("abc d e", 8) in reader.keys()
    with h5py.File(path, "r") as h5:  # the documented layout, readable with plain h5py
        assert h5.attrs["format_version"] == FORMAT_VERSION
        assert json.loads(h5.attrs["world_config"]) == WORLD
        assert h5["data"].attrs["n_demos"] == 9 and h5["data/demo_8/obs"].shape == (20, 17)


def test_reader_accepts_several_files_and_directories(tmp_path):
    _write(tmp_path / "a.h5", range(3))
    _write(tmp_path / "b.h5", range(3, 5))
    (tmp_path / "notes.txt").write_text("not a shard")
    for source in (tmp_path, [tmp_path / "a.h5", tmp_path / "b.h5"]):
        with DemoReader(source) as reader:
            assert sorted(seed for _, seed in reader.keys()) == [0, 1, 2, 3, 4]
            _assert_same(reader[4], synthetic_episode("ab cd", 4, 0.1))


@pytest.mark.parametrize("kind, message", [
    ("text", "not an HDF5 file"),
    ("foreign", "not an oneshot_ros demonstration file"),
    ("newer", "upgrade oneshot_ros"),
    ("older", "re-collect"),
    ("layout", "obs_layout"),
    ("truncated", "truncated or damaged"),
])
def test_refuses_foreign_incompatible_and_truncated_files(tmp_path, kind, message):
    path = tmp_path / "bad.h5"
    if kind == "text":
        path.write_text("task,seed\nab cd,0\n")
    elif kind == "foreign":
        with h5py.File(path, "w") as h5:
            h5["x"] = np.arange(3)
    else:
        _write(path, range(4))
        _spoil(path, kind)
    with pytest.raises(DemoFormatError, match=message):
        DemoReader(path)
    if kind != "truncated":
        with pytest.raises(DemoFormatError, match=message):
            DemoWriter(path, WORLD)  # the writer refuses to append to it too


def _spoil(path: Path, kind: str) -> None:
    if kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return
    with h5py.File(path, "a") as h5:
        if kind == "layout":
            h5.attrs["obs_layout"] = json.dumps({"blocks": "world frame", "dim": 3})
        else:
            h5.attrs["format_version"] = FORMAT_VERSION + (1 if kind == "newer" else -1)


def test_writer_refuses_other_world_config_and_concurrent_writer(tmp_path):
    path = tmp_path / "demos.h5"
    _write(path, range(2))
    with pytest.raises(DemoFormatError, match="different world config.*control_hz"):
        DemoWriter(path, {**WORLD, "control_hz": 20.0})
    with DemoWriter(path, WORLD):
        with pytest.raises(journal.FileBusyError, match="another running process"):
            DemoWriter(path, WORLD)


# --- crash safety: a real writer process killed with SIGKILL --------------------------------
WRITER = textwrap.dedent("""
    import os, signal, sys
    from synthetic import synthetic_episode
    from oneshot_ros.data import journal
    from oneshot_ros.data.storage import DemoWriter
    path, world, crash_in_apply = sys.argv[1], {"control_hz": 10.0}, sys.argv[2] == "1"
    if crash_in_apply:  # die after the commit point, half way through copying the pages
        def _apply(fd, pages):
            os.pwrite(fd, pages[0][1], pages[0][0] * journal.PAGE_BYTES)
            os.kill(os.getpid(), signal.SIGKILL)
        journal._apply = _apply
    with DemoWriter(path, world) as writer:
        k = len(writer)
        while True:
            writer.append(synthetic_episode("abc de", k, 0.1))
            print(k, flush=True)  # printed only after append() returned: committed
            k += 1
""")


def _start_writer(path, crash_in_apply=False):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TEST_DIR), *sys.path])}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "1" if crash_in_apply else "0"],
        stdout=subprocess.PIPE, text=True, env=env,
    )


def _committed_after_kill(proc, min_commits, rng) -> int:
    """Let the writer commit at least `min_commits`, SIGKILL it at a random instant."""
    last = -1
    for _ in range(min_commits):
        last = int(proc.stdout.readline())
    time.sleep(rng.uniform(0.0, 0.05))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rest = proc.stdout.read().split()
    return int(rest[-1]) if rest else last


def _check_all_readable(path, n_committed) -> None:
    with DemoReader(path) as reader:
        assert len(reader) >= n_committed + 1  # the kill may land after a commit, before print
        for i in range(len(reader)):
            _assert_same(reader[i], synthetic_episode("abc de", i, 0.1))


def test_sigkill_mid_collection_keeps_every_committed_demo_and_resumes(tmp_path):
    path, rng = tmp_path / "demos.h5", np.random.default_rng(0)
    for _ in range(5):  # kill, check, re-open for append in the next round
        proc = _start_writer(path)
        n_committed = _committed_after_kill(proc, min_commits=8, rng=rng)
        _check_all_readable(path, n_committed)
    assert not journal.journal_path(path).exists()


def test_sigkill_inside_a_commit_is_finished_on_next_open(tmp_path):
    path = tmp_path / "demos.h5"
    _write(path, [], world={"control_hz": 10.0})  # empty; the first commit dies mid-copy
    proc = _start_writer(path, crash_in_apply=True)
    assert proc.wait() == -signal.SIGKILL
    assert journal.journal_path(path).exists()  # committed but not yet copied into the file
    _check_all_readable(path, 0)  # opening replays the journal: demo 0 is there
    assert not journal.journal_path(path).exists()


# --- validation on read: damaged demonstrations are refused, naming the demo ----------------
def _edit_demo(path, edit) -> None:
    with h5py.File(path, "a") as h5:
        edit(h5["data"], h5["data/demo_1"])


def _replace(group, key, value) -> None:
    del group[key]
    group[key] = value


ARRAY_DAMAGE = {  # name -> (edit of demo_1, message)
    "nan obs": (lambda d, g: _replace(g, "obs", np.where(np.arange(20)[:, None] == 3, np.nan,
                                                         g["obs"][()]).astype(np.float32)),
                "demo_1.*obs holds NaN or inf \\(first at step 3\\)"),
    "inf expert action": (lambda d, g: _replace(g, "expert_actions", np.full((20, 4), np.inf,
                                                                               np.float32)),
                          "demo_1.*expert_actions holds NaN or inf"),
    "integer obs": (lambda d, g: _replace(g, "obs", g["obs"][()].astype(np.int64)),
                    "demo_1.*obs has dtype int64"),
    "obs of another width": (lambda d, g: _replace(g, "obs", np.zeros((20, 11), np.float32)),
                             "demo_1.*task 'abc d e' needs \\(20, 17\\)"),
    "no obs": (lambda d, g: g.__delitem__("obs"), "demo_1.*lacks the array\\(s\\) \\['obs'\\]"),
}


@pytest.mark.parametrize("damage", ARRAY_DAMAGE)
def test_damaged_arrays_are_refused_naming_the_demo(tmp_path, damage):
    path = tmp_path / "demos.h5"
    _write(path, [0, 8, 2], task="abc d e")  # demo_1: seed 8, 20 steps
    edit, message = ARRAY_DAMAGE[damage]
    _edit_demo(path, edit)
    with DemoReader(path) as reader:
        reader[0]  # the others stay readable
        with pytest.raises(DemoFormatError, match=message):
            reader[1]


FILE_DAMAGE = {  # name -> (edit, message); refused when the file is opened
    "n_demos beyond the groups": (lambda d, g: d.attrs.__setitem__("n_demos", 5),
                                  "n_demos=5 but demo_3 is missing"),
    "n_demos below the groups": (lambda d, g: d.attrs.__setitem__("n_demos", 0),
                                 "n_demos=0 but demo_0 lies beyond"),
    "n_demos not a count": (lambda d, g: d.attrs.__setitem__("n_demos", -2),
                            "n_demos=-2 is not a count"),
    "no stage_ends": (lambda d, g: g.attrs.__delitem__("stage_ends"),
                      "demo_1.*lacks the attribute\\(s\\) \\['stage_ends'\\]"),
    "bad task": (lambda d, g: g.attrs.__setitem__("task", "zz"), "demo_1.*unknown block"),
    "no world_config": (lambda d, g: d.file.attrs.__delitem__("world_config"),
                        "lacks its 'world_config' attribute"),
}


@pytest.mark.parametrize("damage", FILE_DAMAGE)
def test_damaged_files_are_refused_by_reader_and_writer(tmp_path, damage):
    path = tmp_path / "demos.h5"
    _write(path, range(3))
    edit, message = FILE_DAMAGE[damage]
    _edit_demo(path, edit)
    with pytest.raises(DemoFormatError, match=message):
        DemoReader(path)
    with pytest.raises(DemoFormatError, match=message):
        DemoWriter(path, WORLD)  # a resumed collection refuses it too


def test_writer_refuses_non_finite_episodes(tmp_path):
    episode = synthetic_episode("ab cd", 0, 0.1)
    episode.obs[4, 2] = np.nan
    with DemoWriter(tmp_path / "demos.h5", WORLD) as writer:
        with pytest.raises(ValueError, match="obs holds NaN or inf \\(first at step 4\\)"):
            writer.append(episode)
        assert len(writer) == 0


def test_out_of_range_index_is_an_index_error_that_names_the_range(tmp_path):
    _write(tmp_path / "demos.h5", range(3))
    with DemoReader(tmp_path / "demos.h5") as reader:
        for index in (3, -4):
            with pytest.raises(IndexError, match=f"demonstration {index} out of range.*0..2"):
                reader[index]
        assert len(list(reader)) == 3  # iteration still stops at the end
