"""oneshot-ros eval and evaluate.*: a tiny untrained policy on 'ab', real env, real workers."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from oneshot_ros import cli
from oneshot_ros.demos.collect import derive_seed, plan
from oneshot_ros.evaluate.metrics import NO_DEMO, PAPER_BC, summarize
from oneshot_ros.evaluate.runner import EVAL_SEED_BIT, EnvRunner, EvalConfig, EvalUnit
from oneshot_ros.world.success import OUTCOMES

MAX_STEPS = 20
FIELDS = {"task", "stages", "split", "seed", "demo_seed", "success", "outcome", "steps",
          "demo_success", "demo_outcome", "demo_steps", "n_placed", "stage_ends",
          "demo_stage_ends"}


def _eval(model, out, *extra) -> tuple[int, str, str]:
    argv = ["eval", "--model", str(model), "--task", "ab", "--episodes", "2", "--out", str(out),
            "--max-steps", str(MAX_STEPS), "--workers", "1", "--quiet", *extra]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(argv)
    return code, stdout.getvalue(), stderr.getvalue()


def _records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def eval_run(tiny_model, tmp_path_factory):
    """One CLI evaluation (1 worker, --json, a video, the attention figure), shared below."""
    out = tmp_path_factory.mktemp("eval") / "run"
    code, stdout, stderr = _eval(tiny_model, out, "--json", "--videos", "1", "--attention-figure")
    assert code == 0, stderr
    return out, stdout


def test_episodes_jsonl_has_one_record_per_episode(eval_run):
    out, _ = eval_run
    records = _records(out / "episodes.jsonl")
    assert [(r["task"], r["index"]) for r in records] == [("ab", 0), ("ab", 1)]
    for r in records:
        assert FIELDS <= set(r)
        assert r["stages"] == 1 and r["split"] == "train"  # 'ab' is in config/tasks/train.txt
        assert r["outcome"] in OUTCOMES and r["success"] == (r["outcome"] == "success")
        assert 1 <= r["steps"] <= MAX_STEPS
        assert r["seed"] != r["demo_seed"]
        assert r["demo_success"], "the scripted demonstrator should stack 'ab'"
        assert "0" in r["expert_agreement"]
        assert all(0.0 <= f <= 1.0 for f in r["expert_agreement"].values())
        # the stage 'ab' has: when the demo completed it, when the policy did (if it did)
        assert len(r["demo_stage_ends"]) == 1 and 0 < r["demo_stage_ends"][0] < r["demo_length"]
        assert len(r["stage_ends"]) >= r["n_placed"] and all(
            0 <= s < r["steps"] for s in r["stage_ends"])


def test_json_output_and_summary(eval_run):
    out, stdout = eval_run
    printed = json.loads(stdout)
    assert printed == json.loads((out / "summary.json").read_text())
    assert 0.0 <= printed["success_rate"] <= 1.0
    assert set(printed["by_stages"]) == {"1"} and printed["demo_success_rate"] == 1.0
    assert printed["episodes"] == 2 and sum(printed["outcomes"].values()) == 2
    row = printed["splits"]["train"]["table"][0]
    assert row["stages"] == 1 and row["paper_bc"] == PAPER_BC["train"][1] / 100
    for name in ("fig3.png", "fig4_attention-ab.png", "attention-ab.npz", "videos/ab-0.mp4"):
        assert (out / name).stat().st_size > 0, name


def test_results_do_not_depend_on_the_number_of_workers(eval_run, tiny_model):
    out, _ = eval_run
    config = EvalConfig(episodes_per_task=2, workers=2, max_steps=MAX_STEPS, progress=False)
    records = [r.record for r in EnvRunner(["ab"], config).episodes(str(tiny_model))]
    one_worker = _records(out / "episodes.jsonl")
    for r in one_worker:
        r.pop("video", None)
    assert records == one_worker


def test_resume_adds_only_missing_episodes_and_refuses_other_settings(eval_run, tiny_model,
                                                                      tmp_path):
    out, _ = eval_run
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("episodes.jsonl", "settings.json"):
        (copy / name).write_bytes((out / name).read_bytes() + (b'{"torn' if "ep" in name
                                                               else b""))
    code, _, stderr = _eval(tiny_model, copy, "--episodes", "3")
    assert code == 0, stderr
    records = _records(copy / "episodes.jsonl")
    assert [r["index"] for r in records] == [0, 1, 2]  # torn line cut off, 2 kept, 1 added
    code, _, stderr = _eval(tiny_model, copy, "--max-steps", "5")
    assert code == 2 and "other settings (max_steps)" in stderr
    code, _, stderr = _eval(tiny_model, copy, "--episodes", "3", "--decoding", "mean")
    assert code == 2 and "other settings (decoding)" in stderr


def test_mean_decoding_is_recorded_and_acts(tiny_model, tmp_path):
    code, stdout, stderr = _eval(tiny_model, tmp_path / "run", "--decoding", "mean", "--json",
                                 "--no-demo-baseline")
    assert code == 0, stderr
    assert json.loads((tmp_path / "run" / "settings.json").read_text())["decoding"] == "mean"
    assert json.loads(stdout)["episodes"] == 2


def test_missing_model_is_one_line_exit_2(tmp_path):
    code, stdout, stderr = _eval(tmp_path / "no_model", tmp_path / "out")
    assert code == 2 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1 and "config.json" in stderr


def test_eval_seeds_never_collide_with_collection_seeds():
    units = [EvalUnit(t, k, 0) for t in ("ab", "ab cd", "abc d") for k in range(50)]
    eval_seeds = [u.seed for u in units] + [s for u in units for s in u.demo_seeds(3)]
    assert all(EVAL_SEED_BIT <= s < 2 * EVAL_SEED_BIT for s in eval_seeds)
    assert len(set(eval_seeds)) == len(eval_seeds)
    collection = {s for unit in plan(["ab", "ab cd", "abc d"], 50) for s in unit.seeds(10)}
    assert all(s < EVAL_SEED_BIT for s in collection) and not collection & set(eval_seeds)
    assert derive_seed("ab", 0, 0) in collection


def test_summary_groups_by_stages_and_skips_missing_demos():
    def record(stages, success, outcome, split="test"):
        return {"task": f"t{stages}", "stages": stages, "split": split, "success": success,
                "outcome": outcome, "n_placed": 0, "demo_success": True,
                "demo_outcome": "success"}

    summary = summarize([record(2, True, "success"), record(2, False, "wrong_move"),
                         record(4, False, "recoverable_failure"), record(4, None, NO_DEMO),
                         record(1, True, "success", split="train")])
    assert summary["by_stages"] == {"1": 1.0, "2": 0.5, "4": 0.0}
    assert summary["success_rate"] == 0.5 and summary["evaluated_episodes"] == 4
    assert summary["outcomes"][NO_DEMO] == 1
    assert summary["splits"]["test"]["by_stages"] == {"2": 0.5, "4": 0.0}
    assert summary["splits"]["train"]["table"][0]["paper_bc"] == pytest.approx(0.991)


class _ScriptedPolicy:
    """Stands in for an Imitator: the noise-free scripted demonstrator, optionally reversed."""

    def __init__(self, env, sign: float = 1.0):
        import torch

        self.env, self.sign, self.generator = env, sign, torch.Generator()

    def set_demo(self, demo_obs, stage_ends=None):
        from oneshot_ros.demos.demonstrator import ScriptedStacker

        self.expert = ScriptedStacker(self.env.task, self.env.config, noise_std=0.0)

    def act(self, obs):
        env = self.env
        _, action = self.expert.act(env.gripper_position(), env.gripper_state(),
                                    env.block_positions())
        action[:3] *= self.sign
        return action, {}


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_expert_agreement_per_stage(sign):
    from oneshot_ros.demos import rollout
    from oneshot_ros.sim.env import StackingEnv

    env = StackingEnv()
    demo = rollout.conditioning_demo(env, "ab", [1], noise=0.002)
    env.reset("ab", 2)
    record = rollout.policy_episode(env, _ScriptedPolicy(env, sign), "ab", 2, demo,
                                    max_steps=60 if sign < 0 else None)
    env.close()
    if sign > 0:  # the expert itself: agrees everywhere, stacks the block
        assert record["success"]
        assert record["expert_agreement"] == {"0": 1.0, "1": 1.0}  # 1: the settling steps
    else:  # every move reversed: only the few standing-still steps agree
        assert not record["success"] and record["expert_agreement"]["0"] < 0.1


def test_agrees_compares_direction_and_gripper():
    import numpy as np

    from oneshot_ros.demos.rollout import agrees

    assert agrees(np.array([0.01, 0, 0, 1]), np.array([0.012, 0.003, 0, 1]))
    assert not agrees(np.array([0.01, 0, 0, 1]), np.array([0, 0.01, 0, 1]))  # 90 degrees off
    assert not agrees(np.array([0.01, 0, 0, 1]), np.array([0.01, 0, 0, -1]))  # gripper differs
    assert agrees(np.array([0.001, 0, 0, -1]), np.array([0, 0, 0, -1]))  # both standing still
    assert not agrees(np.array([0.001, 0, 0, -1]), np.array([0, 0, 0.01, -1]))


def _summary_dir(path, records):
    from oneshot_ros.evaluate.report import EvalDir

    out = EvalDir(path, {"model_sha256": "x"})
    for r in records:
        out.append(r)
    out.write_summary([(r["task"], r["index"]) for r in records], {})
    return path


def test_compare_tables_models_beside_the_paper_with_counts(eval_run, tmp_path, capsys):
    from oneshot_ros.evaluate import compare
    from oneshot_ros.evaluate.metrics import PAPER_SNAPSHOT

    def record(task, index, stages, success):
        return {"task": task, "index": index, "stages": stages, "split": "test",
                "success": success, "outcome": "success" if success else "wrong_move",
                "n_placed": 0}

    other = _summary_dir(tmp_path / "snap" / "eval", [
        record("t2", 0, 2, True), record("t2", 1, 2, False), record("t2", 2, 2, True),
        record("t4", 0, 4, False)])
    cli_run, _ = eval_run  # a real `oneshot-ros eval --out` with the demonstrator: train split
    code = compare.main([str(other), f"mine={cli_run}", "--paper", "bc", "snapshot",
                         "--out", str(tmp_path / "fig.png")])
    assert code == 2  # `mine` evaluated a training task, not a test task
    assert "evaluated no test task; pass --split train" in capsys.readouterr().err

    code = compare.main([f"mine={other}", "--paper", "snapshot", "--out",
                         str(tmp_path / "fig.png")])
    table = capsys.readouterr().out.splitlines()
    assert code == 0 and (tmp_path / "fig.png").stat().st_size > 10_000
    assert table[0] == "| stages | mine | Snapshot (paper) |"
    assert table[2] == f"| 2 | **67** (2/3) | {PAPER_SNAPSHOT['test'][2]:.1f} |"
    assert table[3] == f"| 4 | **0** (0/1) | {PAPER_SNAPSHOT['test'][4]:.1f} |"

    code = compare.main([str(cli_run), "--split", "train", "--paper", "--out",
                         str(tmp_path / "train.png")])
    header = capsys.readouterr().out.splitlines()[0]
    assert code == 0 and "our demonstrator" in header  # that run had the demonstrator column


def test_compare_refuses_a_directory_without_a_summary(tmp_path, capsys):
    from oneshot_ros.evaluate import compare

    (tmp_path / "run").mkdir()
    assert compare.main([str(tmp_path / "run"), "--out", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no summary.json" in err
    (tmp_path / "run" / "summary.json").write_text("[1, 2]")
    assert compare.main([str(tmp_path / "run"), "--out", str(tmp_path / "f.png")]) == 2
    assert "is not an evaluation summary" in capsys.readouterr().err


def test_wilson_interval_brackets_the_rate():
    from oneshot_ros.evaluate.compare import wilson

    low, high = wilson(69, 70)
    assert 0.90 < low < 69 / 70 < high < 1.0
    assert wilson(0, 16)[0] == 0.0 and 0.15 < wilson(0, 16)[1] < 0.25  # 0/16: up to ~19%
    assert wilson(0, 0) == (0.0, 1.0)
