"""Collection: stable seeds, retries, identical results for any worker count, resume, shards;
plus one small real run (StackingEnv + scripted demonstrator) through collect, info and replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from synthetic import synthetic_episode

from oneshot_ros.cli import main
from oneshot_ros.data.storage import DemoReader
from oneshot_ros.demos.collect import collect, derive_seed, parse_shard, plan

TASKS = ["ab", "abc d", "a b c"]
WORLD = {"control_hz": 10.0}
TEST_DIR = Path(__file__).parent


def _collect(out, n=4, **kwargs):
    kwargs = {"world_config": WORLD, "producer": synthetic_episode, "noise": 0.1,
              "progress": False, **kwargs}
    return collect(kwargs.pop("tasks", TASKS), n, out, **kwargs)


def _contents(*paths) -> dict:
    """(task, seed) -> (obs, actions, expert_actions, attempts) over all files."""
    with DemoReader(list(paths)) as reader:
        return {(m["task"], m["seed"]): (e.obs, e.actions, e.expert_actions, m["attempts"])
                for m, e in ((reader.meta(i), reader[i]) for i in range(len(reader)))}


def _assert_same_contents(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert all(np.array_equal(x, y) for x, y in zip(a[key], b[key], strict=True)), key


def test_seeds_are_stable_and_distinct():
    assert derive_seed("ab cd", 0, 0) == 697581461  # never changes across runs or machines
    seeds = {derive_seed(t, s, a) for t in TASKS for s in range(50) for a in range(10)}
    assert len(seeds) == 3 * 50 * 10 and max(seeds) < 2**31


def test_plan_and_shard_arguments():
    units = plan(TASKS, 3)
    assert [(u.task, u.slot) for u in units[:4]] == [("ab", 0), ("ab", 1), ("ab", 2),
                                                   ("abc d", 0)]
    assert plan(TASKS, 3, (1, 2)) == units[1::2]
    assert parse_shard("3/4") == (3, 4)
    for bad in ("4/4", "x", "1/0"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)
    with pytest.raises(ValueError, match="twice"):
        plan(["ab", "ab"], 1)


def test_collects_n_successes_per_task_retrying_failures(tmp_path):
    report = _collect(tmp_path / "d.h5", n=6)
    with DemoReader(tmp_path / "d.h5") as reader:
        assert {t: len(ix) for t, ix in reader.tasks.items()} == {t: 6 for t in TASKS}
        assert all(reader.meta(i)["success"] for i in range(len(reader)))
        attempts = [reader.meta(i)["attempts"] for i in range(len(reader))]
    failures = sum(sum(r.failures.values()) for r in report.tasks.values())
    assert failures > 0 and sum(attempts) == len(attempts) + failures  # synthetic: 1 in 4 fail
    assert report.written == 18 and report.success_rate == 18 / sum(attempts)


def test_gives_up_after_max_attempts_and_reports_it(tmp_path):
    def seeds_fail(task, seed, noise):  # every seed fails: nothing written, all given up
        episode = synthetic_episode(task, seed, noise)
        episode.success, episode.outcome = False, "wrong_move"
        return episode

    report = _collect(tmp_path / "d.h5", n=2, producer=seeds_fail, max_attempts=3,
                      tasks=["ab"])
    assert report.tasks["ab"].given_up == 2 and report.tasks["ab"].failures == {"wrong_move": 6}
    assert report.written == 0


def test_identical_results_whatever_the_number_of_workers(tmp_path):
    _collect(tmp_path / "w1.h5", workers=1)
    _collect(tmp_path / "w2.h5", workers=2)
    one, two = _contents(tmp_path / "w1.h5"), _contents(tmp_path / "w2.h5")
    _assert_same_contents(one, two)
    with DemoReader(tmp_path / "w1.h5") as a, DemoReader(tmp_path / "w2.h5") as b:
        assert [a.meta(i)["seed"] for i in range(len(a))] == [b.meta(i)["seed"]
                                                              for i in range(len(b))]


def test_resume_skips_what_is_already_there(tmp_path):
    out = tmp_path / "d.h5"
    _collect(out, n=2)
    report = _collect(out, n=4)
    assert {t: (r.skipped, r.written) for t, r in report.tasks.items()} == {
        t: (2, 2) for t in TASKS}
    assert _collect(out, n=4).written == 0  # complete: nothing to do
    _collect(tmp_path / "fresh.h5", n=4)
    _assert_same_contents(_contents(out), _contents(tmp_path / "fresh.h5"))
    with pytest.raises(ValueError, match="noise"):
        _collect(out, n=5, noise=0.3)


def test_union_of_shards_equals_unsharded(tmp_path):
    _collect(tmp_path / "all.h5", n=3)
    (tmp_path / "shards").mkdir()
    for i in range(2):
        _collect(tmp_path / "shards" / f"s{i}.h5", n=3, shard=(i, 2), workers=1 + i)
    _assert_same_contents(_contents(tmp_path / "all.h5"), _contents(tmp_path / "shards"))


def test_real_collect_info_and_replay(tmp_path, capsys):
    """The real StackingEnv and demonstrator end to end: collect -> info --json -> replay GIF."""
    out = tmp_path / "demos" / "real.h5"
    assert main(["collect", "--task", "ab", "--demos-per-task", "2", "--workers", "1",
                 "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["info", str(out.parent), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format_version"] == 1 and summary["demos"] == 2
    assert summary["tasks"] == {"ab": 2} and summary["mean_length"] > 10
    assert summary["world_config"]["control_hz"] > 0
    gif = tmp_path / "replay.gif"
    assert main(["replay", str(out), "--index", "1", "--out", str(gif), "--every", "8"]) == 0
    assert gif.stat().st_size > 1000 and "max |obs - stored|" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "notes.h5").write_text("hello")
    assert main(["info", str(tmp_path / "notes.h5")]) == 2
    assert "not an HDF5 file" in capsys.readouterr().err
    assert main(["collect", "--task", "ab", "--out", str(tmp_path / "x.txt")]) == 2
    assert "use a .h5 file name" in capsys.readouterr().err


# --- two collect runs on the same new --out, in two real processes ---------------------------
RACER = textwrap.dedent("""
    import sys, time
    from synthetic import synthetic_episode
    from oneshot_ros.demos.collect import collect
    out, task, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
    time.sleep(max(0.0, start_at - time.time()))  # both processes create the file together
    report = collect([task], 3, out, world_config=WORLD, producer=synthetic_episode, noise=0.1,
                     progress=False)
    print(report.written, flush=True)
""").replace("WORLD", repr(WORLD))


def _race(out, tasks) -> list[tuple[str, subprocess.CompletedProcess]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TEST_DIR), *sys.path])}
    start_at = str(time.time() + 2.0)  # after both interpreters have imported everything
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(out), task, start_at],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for task in tasks]
    return [(task, subprocess.CompletedProcess(p.args, p.wait(), *p.communicate()))
            for task, p in zip(tasks, procs, strict=True)]


def test_two_runs_on_one_new_out_lose_nothing(tmp_path):
    """Each run either refuses (the file is busy) or has all it reports in the file."""
    for trial in range(4):
        out = tmp_path / f"race{trial}.h5"
        results = _race(out, ["ab", "abc"])
        with DemoReader(out) as reader:
            stored = {task: len(ix) for task, ix in reader.tasks.items()}
        succeeded = 0
        for task, done in results:
            if done.returncode == 0:
                succeeded += 1
                assert stored.get(task, 0) == int(done.stdout) == 3, (task, stored, results)
            else:
                assert "another running process" in done.stderr, done.stderr
                assert task not in stored
        assert succeeded >= 1
