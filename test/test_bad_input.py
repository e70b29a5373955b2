"""Bad input at the boundary: world configs, binary files, seeds, rates, output paths and layouts
that cannot be placed are refused with one line (or argparse's usage error) and exit 2, before
any work or any file is made; valid configs keep loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_checks import argparse_error, one_line_error
from synthetic import synthetic_episode

from oneshot_ros.config import load_yaml
from oneshot_ros.data.storage import DemoWriter
from oneshot_ros.world.world_config import WorldConfig

ROOT = Path(__file__).resolve().parents[1]
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))  # not UTF-8


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "world.yaml"
    path.write_text(text + "\n")
    return path


# --- every WorldConfig field is checked on load ----------------------------------------
@pytest.mark.parametrize("override, message", [
    ("block_size_m: 0", "block_size_m=0.0: use a finite value in (0, inf)"),
    ("block_size_m: 0.09", "block_size_m=0.09: use a value in (0, 0.08) m, below open_gap_m"),
    ("table_x_m: [1.0, 0.3]", "table_x_m=[1.0, 0.3]: use [low, high], two finite numbers with "
                              "low < high"),
    ("table_y_m: [0.1]", "table_y_m=[0.1]: use [low, high]"),
    ("spawn_radius_m: [-0.1, 0.5]", "spawn_radius_m=[-0.1, 0.5]: use [low, high], two finite "
                                    "numbers with low < high and low >= 0"),
    ("physics_hz: -240", "physics_hz=-240.0: use a finite value in (0, inf)"),
    ("control_hz: 0", "control_hz=0.0: use a finite value in (0, inf)"),
    ("control_hz: .nan", "control_hz=nan: use a finite value in (0, inf)"),
    ("finger_force_n: .inf", "finger_force_n=inf: use a finite value in (0, inf)"),
    ("block_mass_kg: 0", "block_mass_kg=0.0"),
    ("block_friction: -0.5", "block_friction=-0.5"),
    ("spawn_min_distance_m: 0", "spawn_min_distance_m=0.0"),
    ("spawn_bearing_rad: 4.0", "spawn_bearing_rad=4.0: use a finite value in (0, 3.14159]"),
    ("torso_m: 1.0", "torso_m=1.0: use a finite value in [0, 0.38615]"),
    ("horizon_base_steps: 0", "horizon_base_steps=0: use a finite value in [1, inf)"),
    ("horizon_per_stage_steps: -5", "horizon_per_stage_steps=-5"),
    ("place_tolerance_xy_m: 0", "place_tolerance_xy_m=0.0: use a finite value in (0, inf)"),
    ("settle_s: -1", "settle_s=-1.0: use a finite value in [0, inf)"),
    ("render_width: 0", "render_width=0: use a finite value in [16, 4096]"),
    ("block_pose_noise_m: .inf", "block_pose_noise_m=inf: use 0 (off) or more (finite)"),
])
def test_an_invalid_world_config_names_the_field_the_value_and_the_range(
        capsys, tmp_path, override, message):
    config = _yaml(tmp_path, override)
    one_line_error(capsys, ["demonstrate", "--task", "ab", "--config", config], message)


def test_the_shipped_and_default_world_configs_still_load():
    assert load_yaml(WorldConfig, ROOT / "config" / "world.yaml") == WorldConfig()
    assert WorldConfig().substeps == 12


# --- a binary file where a text file belongs ------------------------------------------
@pytest.mark.parametrize("command", [
    ["demonstrate", "--task", "ab", "--config", "{png}"],
    ["collect", "--task", "ab", "--config", "{png}", "--out", "{tmp}/d.h5"],
    ["collect", "--tasks", "{png}", "--out", "{tmp}/d.h5"],
    ["train", "--config", "{png}", "--data", "{tmp}/none.h5", "--out", "{tmp}/model"],
    ["dagger", "--config", "{png}", "--model", "{tmp}", "--data", "{tmp}/none.h5",
     "--tasks", str(ROOT / "config" / "tasks" / "test.txt"), "--out", "{tmp}/dagger"],
    ["dagger", "--model", "{tmp}", "--data", "{tmp}/none.h5", "--tasks", "{png}",
     "--out", "{tmp}/dagger"],
    ["eval", "--model", "{model}", "--tasks", "{png}", "--out", "{tmp}/eval"],
])
def test_a_png_as_config_or_task_list_is_one_line(capsys, tmp_path, tiny_model, command):
    png = tmp_path / "figure.png"
    png.write_bytes(PNG_BYTES)
    argv = [a.format(png=png, tmp=tmp_path, model=tiny_model) for a in command]
    kind = "not a text task list" if "--tasks" in command and "{png}" in command[
        command.index("--tasks") + 1] else "not a text YAML file"
    one_line_error(capsys, argv, f"{png}: {kind}")
    assert not (tmp_path / "d.h5").exists()


# --- seeds and time scales that mean nothing ------------------------------------------
@pytest.mark.parametrize("command", [
    ["demonstrate", "--task", "ab"], ["particle"], ["ros-demo"],
    ["ros-record", "--task", "ab", "--out", "x.h5"],
])
def test_a_negative_seed_is_refused_at_parsing(capsys, command):
    argparse_error(capsys, [*command, "--seed", "-1"], "argument --seed: -1: a seed is 0 or more")


@pytest.mark.parametrize("scale", ["nan", "0", "-1", "inf"])
@pytest.mark.parametrize("command", [["ros-demo"],
                                     ["ros-record", "--task", "ab", "--out", "x.h5"],
                                     ["eval", "--ros", "--model", "m", "--task", "ab", "--out",
                                      "x"]])
def test_a_time_scale_that_stops_the_clock_is_refused(capsys, command, scale):
    argparse_error(capsys, [*command, "--time-scale", scale],
                   f"argument --time-scale: {scale}: use a finite number > 0")


# --- a world that cannot place its blocks ---------------------------------------------
def test_a_world_without_room_for_the_blocks_is_one_line_naming_the_settings(capsys, tmp_path):
    config = _yaml(tmp_path, "spawn_min_distance_m: 5.0")
    settings = ("spawn_min_distance_m=5.0 leaves no room", "widen spawn_radius_m or "
                "spawn_bearing_rad, or lower spawn_min_distance_m")
    one_line_error(capsys, ["demonstrate", "--task", "ab", "--config", config], *settings)
    out = tmp_path / "demos.h5"
    one_line_error(capsys, ["collect", "--task", "ab", "--config", config, "--out", out,
                            "--workers", "1", "--quiet"], *settings)
    assert not out.exists()  # not an empty file a fixed config could not resume
    one_line_error(capsys, ["eval", "--model", ROOT / "models" / "bc_all_stages", "--task",
                            "ab", "--world", "spawn_min_distance_m=5.0", "--out",
                            tmp_path / "eval"], *settings)
    assert not (tmp_path / "eval").exists()


def test_a_float_yaml_reads_as_a_string_still_loads_as_a_number(tmp_path):
    """PyYAML reads `lr: 1e30` (no dot) as the string '1e30'; it is the number a user meant."""
    from oneshot_ros.train.bc import TrainConfig

    path = tmp_path / "train.yaml"
    path.write_text("lr: 1e30\nmax_grad_norm: 5\n")
    assert load_yaml(TrainConfig, path).lr == 1e30
    path.write_text("lr: fast\n")
    with pytest.raises(ValueError, match="expected float, got 'fast'"):
        load_yaml(TrainConfig, path)


# --- replay --every beyond the demo --------------------------------------------------
def test_replay_refuses_every_larger_than_the_demo(capsys, tmp_path):
    demos, episode = tmp_path / "d.h5", synthetic_episode("ab", 0, 0.1)
    with DemoWriter(demos, {"control_hz": 10.0}) as writer:
        writer.append(episode)
    one_line_error(capsys, ["replay", demos, "--every", "1000000000", "--out",
                            tmp_path / "r.mp4"],
                   f"--every 1000000000: demo 0 has {episode.length} steps; use "
                   f"1..{episode.length}")
    assert not (tmp_path / "r.mp4").exists()


# --- output paths nothing can be written to -------------------------------------------
def test_ros_record_refuses_an_unwritable_out_before_nodes_start(capsys, tmp_path):
    regular = tmp_path / "file"
    regular.write_text("")
    one_line_error(capsys, ["ros-record", "--task", "ab", "--out", regular / "x.h5"],
                   f"--out {regular / 'x.h5'}: {regular} is a file, not a directory")
    one_line_error(capsys, ["ros-record", "--task", "ab", "--out", "/proc/x.h5"],
                   "--out /proc/x.h5: cannot create a file in /proc")
    assert not (regular.parent / "file.logs").exists()  # no node ever started


def _eval_summary(path: Path) -> Path:
    from oneshot_ros.evaluate.report import EvalDir

    records = [{"task": "t2", "index": k, "stages": 2, "split": "test", "success": k == 0,
                "outcome": "success" if k == 0 else "wrong_move", "n_placed": 0}
               for k in range(2)]
    out = EvalDir(path, {"model_sha256": "x"})
    for record in records:
        out.append(record)
    out.write_summary([(r["task"], r["index"]) for r in records], {})
    return path


def test_compare_refuses_a_non_figure_out_and_reports_the_file_it_wrote(capsys, tmp_path):
    from oneshot_ros.evaluate import compare

    run = _eval_summary(tmp_path / "model" / "eval")
    regular = tmp_path / "file"
    regular.write_text("")
    for out, message in [(tmp_path / "c.txt", "use a .png, .pdf or .svg file name"),
                         (regular / "c.png", f"{regular} is a file, not a directory")]:
        assert compare.main([str(run), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: --out ") and message in err, err
    directory = tmp_path / "figures"
    directory.mkdir()
    assert compare.main([str(run), "--out", str(directory)]) == 0
    written = tmp_path / "figures.png"  # matplotlib adds .png to a name without a suffix
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {written}"
    assert written.stat().st_size > 10_000


def test_campaign_names_the_file_and_line_of_a_broken_metrics_row(capsys, tmp_path):
    from oneshot_ros.train import campaign

    run = tmp_path / "run"
    run.mkdir()
    row = {"iteration": 1, "loss": 1.0, "wall_s": 1.0}
    (run / "metrics.jsonl").write_text(json.dumps(row) + '\n{"iteration": 2, "lo\n')
    assert campaign.main([str(run)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {run / 'metrics.jsonl'}:2: not valid JSON at column 18; repair or " \
                  "delete that line\n"
    assert not (run / "campaign.png").exists()


def test_eval_stages_selects_by_stage_count_and_refuses_an_empty_choice(capsys):
    from oneshot_ros.commands.eval import _select

    tasks = ["ab", "abc", "abcd e", "ab cd ef", "abcdefghi j"]  # 1, 2, 3, 3, 8 stages
    assert _select(tasks, None, (2, 3)) == ["abc", "abcd e", "ab cd ef"]
    assert _select(tasks, 1, (3, 8)) == ["abcd e", "abcdefghi j"]
    one_line_error(capsys, ["eval", "--model", ROOT / "models" / "bc_all_stages", "--task",
                            "ab", "--stages", "4-6", "--out", "x"], "--stages 4-6: no listed "
                   "task has that many stages")
    argparse_error(capsys, ["eval", "--model", "m", "--task", "ab", "--stages", "6-4",
                            "--out", "x"], "6-4: use 1 <= LOW <= HIGH")
