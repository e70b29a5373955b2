"""`oneshot-ros train` end to end on real demonstrations: checkpoint, curves, resume, DDP."""

import json
import os
import subprocess
import sys

import pytest

from oneshot_ros.cli import main
from oneshot_ros.policy import checkpoint

TINY = "config/train/tiny.yaml"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_train_reduces_loss_and_writes_a_loadable_checkpoint(small_demo_file, tmp_path):
    out = tmp_path / "model"
    assert main(["train", "--config", os.path.join(ROOT, TINY), "--data", str(small_demo_file),
                 "--out", str(out), "--iterations", "150", "--json"]) == 0
    rows = _metrics(out)
    first = sum(r["loss"] for r in rows[:10]) / 10
    last = sum(r["loss"] for r in rows[-10:]) / 10
    assert last < 0.8 * first
    val = [r for r in rows if "val_loss" in r]
    assert val and all(0.0 <= r["val_grip_acc"] <= 1.0 for r in val)
    assert all(0.0 <= r["val_move_err_mm"] <= 30.0 for r in val)  # |a - a*| <= 2 * 15 mm
    model, meta = checkpoint.load(out)
    assert meta["provenance"]["iterations"] == 150
    assert meta["provenance"]["train_tasks"] == 2
    assert meta["provenance"]["world_config"]["control_hz"] == 20.0
    assert (out / "curves.png").stat().st_size > 1000


def test_resume_continues_from_the_saved_iteration(small_demo_file, tmp_path):
    out = tmp_path / "model"
    args = ["train", "--config", os.path.join(ROOT, TINY), "--data", str(small_demo_file),
            "--out", str(out), "--json"]
    assert main([*args, "--iterations", "100"]) == 0
    assert main([*args, "--iterations", "120", "--resume"]) == 0
    rows = _metrics(out)
    assert [r["iteration"] for r in rows] == list(range(1, 121))
    assert rows[100]["loss"] < rows[0]["loss"]  # resumed weights, not a fresh model
    assert checkpoint.load(out)[1]["provenance"]["iterations"] == 120


def test_resume_without_a_run_is_a_one_line_error(small_demo_file, tmp_path, capsys):
    code = main(["train", "--config", os.path.join(ROOT, TINY), "--data", str(small_demo_file),
                 "--out", str(tmp_path / "none"), "--resume"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train_state.json missing" in err[0]


def test_foreign_data_file_is_refused(tmp_path, capsys):
    bogus = tmp_path / "x.h5"
    bogus.write_text("not hdf5")
    assert main(["train", "--data", str(bogus), "--out", str(tmp_path / "m")]) == 2
    assert "x.h5" in capsys.readouterr().err


def test_torchrun_two_cpu_processes(small_demo_file, tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(29400 + os.getpid() % 500), "-m", "oneshot_ros.cli", "train",
           "--config", os.path.join(ROOT, TINY), "--data", str(small_demo_file),
           "--out", str(out), "--iterations", "10", "--json"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert checkpoint.load(out)[1]["provenance"]["world_size"] == 2


def _train_tiny(data, tmp_path, iterations: int, extra_yaml: str):
    """Train the tiny config with `iterations` and extra YAML lines; returns the output dir."""
    config = tmp_path / "tiny_variant.yaml"
    tiny = open(os.path.join(ROOT, TINY)).read()
    config.write_text(tiny.replace("iterations: 200", f"iterations: {iterations}") + extra_yaml)
    out = tmp_path / "model"
    assert main(["train", "--config", str(config), "--data", str(data), "--out", str(out),
                 "--json"]) == 0
    return out


def test_time_budget_stops_and_checkpoints(small_demo_file, tmp_path):
    out = _train_tiny(small_demo_file, tmp_path, 100000, "time_budget_s: 2.0\n")
    iterations = checkpoint.load(out)[1]["provenance"]["iterations"]
    assert 1 <= iterations < 100000
    assert _metrics(out)[-1]["iteration"] == iterations


def test_periodic_rollouts_are_logged(small_demo_file, tmp_path):
    out = _train_tiny(small_demo_file, tmp_path, 20,
                      "rollout_every: 10\nrollout_tasks: 1\nrollout_episodes: 1\n")
    rollouts = [r["rollout_success"] for r in _metrics(out) if "rollout_success" in r]
    assert len(rollouts) == 2 and all(0.0 <= s <= 1.0 for s in rollouts)


def test_rollout_every_needs_a_rollout_check_from_the_caller(small_demo_file, tmp_path):
    """train.bc never imports evaluate: a library caller that asks for rollouts passes the
    check (the commands pass evaluate.training_check.rollout_success)."""
    from oneshot_ros.train.bc import TrainConfig, train

    with pytest.raises(ValueError, match="rollout_check"):
        train(TrainConfig(iterations=1, rollout_every=1), small_demo_file, tmp_path / "m")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("bounds, kept", [("max_stages: 1\n", 1), ("min_stages: 2\n", 1),
                                          ("min_stages: 1\nmax_stages: 2\n", 2)])
def test_stage_bounds_select_tasks(tmp_path, bounds, kept):
    from oneshot_ros.demos.collect import collect

    data = tmp_path / "mixed.h5"
    collect(["ab", "abc"], 2, data, workers=1, noise=0.002, progress=False)  # 1 and 2 stages
    out = _train_tiny(data, tmp_path, 5, bounds + "val_fraction: 0.0\n")
    assert checkpoint.load(out)[1]["provenance"]["train_tasks"] == kept


def test_stage_bounds_must_overlap():
    from oneshot_ros.train.bc import TrainConfig

    with pytest.raises(ValueError, match="min_stages=3"):
        TrainConfig(min_stages=3, max_stages=2)


def test_the_comparison_runs_share_the_full_demo_models_data_and_budget():
    """The baselines and the sampling ablation must differ from models/bc_all_stages'
    run only in what they compare: same batch shape, context-network fixes and iterations
    (bc_demo_norm's 4,400 + all_stages' 6,000), no fine-tuning start."""
    from oneshot_ros.config import load_yaml
    from oneshot_ros.train.bc import TrainConfig

    def cfg(name):
        return load_yaml(TrainConfig, os.path.join(ROOT, "config", "train", name + ".yaml"))

    full = cfg("all_stages")
    budget = 4400 + 6000
    runs = {"baseline_final_state": "final_state", "baseline_snapshot": "snapshot",
            "all_stages_scratch": "full"}
    for name, variant in runs.items():
        run = cfg(name)
        assert run.policy.variant == variant, name
        assert run.iterations == budget and not run.init_from, name
        assert (run.tasks_per_batch, run.pairs_per_task) == (full.tasks_per_batch,
                                                             full.pairs_per_task), name
        assert (run.policy.state_scale, run.policy.demo_norm) == (full.policy.state_scale,
                                                                  full.policy.demo_norm), name
        assert (run.min_stages, run.max_stages) == (full.min_stages, full.max_stages), name


def test_the_fine_tune_levers_differ_from_their_control_only_in_their_switch():
    """bc_human_timing(_wide) and bc_keep_stage_ends are ablated against
    bc_human_timing_control: same start, budget, batch and data; one switch each."""
    import dataclasses

    from oneshot_ros.config import load_yaml
    from oneshot_ros.train.bc import TrainConfig

    def cfg(name):
        return load_yaml(TrainConfig, os.path.join(ROOT, "config", "train", name + ".yaml"))

    control = cfg("human_timing_control")
    switches = {"human_timing": {"demo_retime": 0.5},
                "human_timing_wide": {"demo_retime": 0.5, "demo_retime_speed": (0.25, 0.8)},
                "keep_stage_ends": {"policy": dataclasses.replace(control.policy,
                                                                  keep_stage_ends=True)}}
    for name, switch in switches.items():
        assert cfg(name) == dataclasses.replace(control, **switch), name


def test_levers_from_baseline_snapshot_differ_from_their_control_only_in_the_lever():
    """models/snapshot_control (1,000 BC iterations from baseline_snapshot) is the control of
    models/dagger_snapshot's BC phase (DAgger adds only its relabelled rollouts to the data) and
    of models/stage_attention (which adds only the stage-attention loss)."""
    import dataclasses

    from oneshot_ros.config import load_yaml
    from oneshot_ros.train.bc import TrainConfig
    from oneshot_ros.train.dagger import DaggerConfig

    def load(cls, name):
        return load_yaml(cls, os.path.join(ROOT, "config", "train", name + ".yaml"))

    start = "models/baseline_snapshot"
    control = load(TrainConfig, "snapshot_control")
    dagger = load(DaggerConfig, "dagger_snapshot")
    assert control.init_from == start and control.policy.variant == "snapshot"
    # dagger.dagger() trains round 0 with these two fields replaced (train/dagger.py)
    assert dataclasses.replace(dagger.train, iterations=dagger.iterations_per_round,
                               init_from=start) == control
    stage_attention = load(TrainConfig, "stage_attention")
    assert stage_attention.stage_attention_weight > 0 and control.stage_attention_weight == 0
    assert dataclasses.replace(stage_attention, stage_attention_weight=0.0) == control
