"""Failure analysis of an evaluation (`oneshot-ros failures`): records written to disk, read by
the real CLI; each view checked against counts worked out by hand."""

import json

import pytest
from cli_checks import one_line_error

from oneshot_ros import cli
from oneshot_ros.evaluate import failures


def record(task, stages, success, n_placed, steps, stage_ends=None, demo_stage_ends=None):
    r = {"task": task, "stages": stages, "success": success, "n_placed": n_placed,
         "steps": steps, "outcome": "success" if success else "recoverable_failure"}
    if stage_ends is not None:
        r.update(stage_ends=stage_ends, demo_stage_ends=demo_stage_ends)
    return r


RECORDS = [
    # "abc d": one tower of 3 (levels 2, 3), a lone block: 2 stages
    record("abc d", 2, True, 2, 300, [100, 260], [50, 130]),
    record("abc d", 2, False, 1, 500, [120], [60, 140]),  # stuck at level 3 for 380 steps
    # "ab cd": two towers of 2 (levels 2, 2): 2 stages
    record("ab cd", 2, True, 2, 200, [90, 180], [90, 180]),
    record("ab cd", 2, False, 0, 500),  # no stage ends: an older evaluation
    {"task": "ab cd", "stages": 2, "success": None, "n_placed": 0, "steps": 0,
     "outcome": "no_demonstration"},  # no demo: not judged
]


def test_views_match_the_hand_counts():
    a = failures.analyze(RECORDS)
    assert a["episodes"] == 4 and a["failures"] == 2
    assert a["by_tower_height"] == {"2": {"n": 2, "success": 1, "rate": 0.5},
                                    "3": {"n": 2, "success": 1, "rate": 0.5}}
    # level 2: abc d x2 + ab cd 2+1 attempts (the failure at stage 1 of "ab cd" is level 2)
    assert a["by_placement_level"]["2"] == {"attempts": 5, "failed": 1, "failure_rate": 0.2}
    assert a["by_placement_level"]["3"] == {"attempts": 2, "failed": 1, "failure_rate": 0.5}
    assert a["stages_short"] == {"1": 1, "2": 1}
    assert a["stuck_at_stage"] == {"1/2": 1, "2/2": 1}
    # stage 1: 100/50, 120/60, 90/90 -> median 2.0; stage 2: 160/80, 90/90 -> median 1.5
    assert a["time_per_stage"] == {"1": {"n": 3, "median_ratio": 2.0},
                                   "2": {"n": 2, "median_ratio": 1.5}}
    assert a["stuck_steps_vs_demo"] == {"n": 1, "median_ratio": 380 / 80}
    assert [w["task"] for w in a["worst_tasks"]] == ["ab cd", "abc d"]


def test_an_episode_that_placed_nothing_adds_no_stage_time():
    """stage_ends [] (no stage held): it used to stop the whole analysis with a ValueError."""
    placed_nothing = record("ab cd", 2, False, 0, 500, [], [90, 180])
    a = failures.analyze([*RECORDS, placed_nothing])
    assert a["failures"] == 3
    assert a["time_per_stage"] == failures.analyze(RECORDS)["time_per_stage"]


def _write(tmp_path, lines):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "episodes.jsonl").write_text("".join(lines))
    return out


def test_cli_prints_json_and_writes_the_figure(tmp_path, capsys):
    out = _write(tmp_path, [json.dumps(r) + "\n" for r in RECORDS] + ['{"task": "ab c'])  # torn
    png = tmp_path / "failures.png"
    assert cli.main(["failures", str(out), "--json", "--figure", str(png)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["failures"] == 2 and printed["figure"] == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli.main(["failures", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 failures in 4 episodes." in text and "| 3 | 2 | 50.0% |" in text


@pytest.mark.parametrize("content, problem", [
    (None, "has no episodes.jsonl"),
    ('{"task": "ab", "stages": 1}\n', "missing or bad: n_placed, outcome, steps, success"),
    ("not json}\n", "not an evaluation's episode file"),
    ("", "holds no episode yet"),
])
def test_a_foreign_directory_is_one_line_and_exit_2(tmp_path, capsys, content, problem):
    out = tmp_path / "eval"
    out.mkdir()
    if content is not None:
        (out / "episodes.jsonl").write_text(content)
    one_line_error(capsys, ["failures", out], problem)
