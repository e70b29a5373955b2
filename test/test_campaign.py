"""Campaign curves: a fine-tuned run counts from its parent's iterations and wall time, the
figure and the evaluation table are written, bad directories are one error line."""

from __future__ import annotations

import json

import pytest

from oneshot_ros.train import campaign


def _run(path, iterations: int, wall_per_it: float, init_from: str = "", val_every: int = 2):
    path.mkdir()
    rows = []
    for it in range(1, iterations + 1):
        row = {"iteration": it, "loss": 1.0 / it, "wall_s": it * wall_per_it}
        if it % val_every == 0:
            row["val_move_err_mm"] = 5.0 / it
        rows.append(row)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "train_state.json").write_text(json.dumps(
        {"iteration": iterations, "train_config": {"init_from": init_from}}))
    return path


def test_a_fine_tuned_run_counts_from_its_parents_iterations_and_wall_time(tmp_path):
    parent = _run(tmp_path / "parent", iterations=10, wall_per_it=3.0)
    child = _run(tmp_path / "child", iterations=4, wall_per_it=1.0, init_from=str(parent))
    grandchild = _run(tmp_path / "grandchild", iterations=2, wall_per_it=1.0,
                      init_from=str(child))
    assert campaign.start_offset(parent) == (0, 0.0)
    assert campaign.start_offset(child) == (10, 30.0)
    assert campaign.start_offset(grandchild) == (14, 34.0)  # followed back to the first run
    its, hours, err = campaign.validation_curve(child)
    assert its == [12, 14]
    assert hours == pytest.approx([32 / 3600, 34 / 3600])
    assert err == pytest.approx([2.5, 1.25])


def test_an_init_from_missing_here_or_naming_itself_plots_from_zero(tmp_path):
    child = _run(tmp_path / "child", iterations=4, wall_per_it=1.0, init_from="/nowhere/run")
    assert campaign.start_offset(child) == (0, 0.0)
    itself = _run(tmp_path / "itself", iterations=4, wall_per_it=1.0,
                  init_from=str(tmp_path / "itself"))
    assert campaign.start_offset(itself) == (0, 0.0)  # a cycle: no endless recursion


def test_figure_and_table_with_an_evaluation_point_and_another_run(tmp_path, capsys):
    run = _run(tmp_path / "run", iterations=6, wall_per_it=1.0)
    other = _run(tmp_path / "other", iterations=8, wall_per_it=2.0)
    (run / "eval_it6_test").mkdir()
    (run / "eval_it6_test" / "summary.json").write_text(json.dumps(
        {"by_stages": {"2": 0.5, "4": 0.25}, "episodes": 8, "success_rate": 0.375}))
    assert campaign.main([str(run), "--against", str(other)]) == 0
    assert (run / "campaign.png").stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "| 6 | test | 8 | 50 | 25 | 38 |" in out


@pytest.mark.parametrize("args", [["{tmp}/missing"], ["{run}", "--against", "{tmp}/missing"]])
def test_a_directory_without_metrics_is_one_error_line(tmp_path, capsys, args):
    run = _run(tmp_path / "run", iterations=2, wall_per_it=1.0)
    argv = [a.format(tmp=tmp_path, run=run) for a in args]
    assert campaign.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "metrics.jsonl" in err and "\n" not in err
    assert not (run / "campaign.png").exists()
