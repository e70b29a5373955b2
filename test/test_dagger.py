"""DAgger (train/dagger.py) on real rollouts, and the training-run guarantees it relies on."""

import dataclasses
import json
import os

import numpy as np
import pytest
from safetensors.numpy import load_file

from oneshot_ros.cli import main
from oneshot_ros.config import load_yaml
from oneshot_ros.data.dataset import PairedDemoDataset
from oneshot_ros.data.storage import DemoReader
from oneshot_ros.demos.demonstrator import Scene, ScriptedStacker
from oneshot_ros.sim.env import StackingEnv
from oneshot_ros.train.bc import TrainConfig
from oneshot_ros.train.dagger import ROLLOUTS_FILE, DaggerConfig, DaggerProducer, dagger

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "config/train/tiny.yaml")


def _tiny_dagger(**overrides) -> DaggerConfig:
    train = dataclasses.replace(load_yaml(TrainConfig, TINY), val_every=5, checkpoint_every=5)
    return DaggerConfig(**{"rounds": 1, "rollouts_per_task": 2, "iterations_per_round": 5,
                           "train": train, **overrides})


@pytest.fixture(scope="module")
def tiny_trained(small_demo_file, tmp_path_factory):
    """A tiny checkpoint trained 10 iterations on the small demo file (same policy config)."""
    out = tmp_path_factory.mktemp("tiny_trained")
    assert main(["train", "--config", TINY, "--data", str(small_demo_file), "--out", str(out),
                 "--iterations", "10", "--json"]) == 0
    return out


def test_a_round_stores_states_labelled_by_the_noise_free_demonstrator(
        tiny_trained, small_demo_file, tmp_path):
    out = tmp_path / "dagger"
    log = dagger(_tiny_dagger(), tiny_trained, small_demo_file, ["ab"], out, progress=False)
    assert log["rounds"][0]["rollouts"] == 2
    assert json.loads((out / "dagger.json").read_text()) == log
    env = StackingEnv()
    mixed = 0
    with DemoReader(out / ROLLOUTS_FILE) as reader:
        assert len(reader) == 2
        for i in range(len(reader)):
            episode = reader[i]
            assert episode.source == "dagger" and episode.length > 10
            # Re-simulate the executed actions: each stored label must be the noise-free
            # demonstrator's action in the state the rollout was in.
            obs = env.reset(episode.task, episode.seed)
            expert = ScriptedStacker(episode.task, env.config, noise_std=0.0)
            for t in range(episode.length):
                np.testing.assert_allclose(episode.obs[t], obs, atol=1e-5)
                label = expert.expert_action(Scene(env.gripper_position(), env.gripper_state(),
                                                   env.block_positions()))
                np.testing.assert_allclose(episode.expert_actions[t], label, atol=1e-6)
                obs, _ = env.step(episode.actions[t])
            mixed += int(np.any(np.abs(episode.actions - episode.expert_actions) > 1e-6))
    env.close()
    assert mixed >= 1  # beta 0.5: the policy's own actions were executed too
    # Training continued from the checkpoint on the aggregate: demos + rollouts.
    provenance = json.loads((out / "config.json").read_text())["provenance"]
    assert provenance["iterations"] == 5
    assert provenance["data"][-1].endswith(ROLLOUTS_FILE)


def test_beta_one_executes_the_expert_and_rollouts_do_not_depend_on_workers(
        tiny_trained, small_demo_file):
    with DemoReader(small_demo_file) as reader:
        world = reader.world_config
    one = DaggerProducer(tiny_trained, beta=1.0, world_config=world)
    episode = one("ab", 1234, 0.0)
    np.testing.assert_array_equal(episode.actions, episode.expert_actions)
    assert episode.success  # the expert alone solves it
    policy = DaggerProducer(tiny_trained, beta=0.0, world_config=world)
    first, again = policy("ab c", 99, 0.0), policy("ab c", 99, 0.0)
    np.testing.assert_array_equal(first.obs, again.obs)  # a function of (task, seed) alone


def test_rollouts_pair_but_never_condition(small_demo_file):
    with DemoReader(small_demo_file) as reader:
        demos = [{"task": reader[i].task, "obs": reader[i].obs, "success": True,
                  "expert_actions": reader[i].expert_actions, "stage_ends": [],
                  "source": "dagger" if i % 2 else "scripted"} for i in range(len(reader))]
    dataset = PairedDemoDataset(demos, pairs_per_task=4)
    assert dataset.conditioning and all(demos[k]["source"] == "scripted"
                                        for k in dataset.conditioning)
    assert len(dataset.conditioning) == len(demos) // 2


def test_resume_gives_the_parameters_of_an_uninterrupted_run(small_demo_file, tmp_path):
    def run(out, *extra):
        assert main(["train", "--config", TINY, "--data", str(small_demo_file),
                     "--out", str(out), "--json", *extra]) == 0

    run(tmp_path / "straight", "--iterations", "12")
    run(tmp_path / "stopped", "--iterations", "7")
    run(tmp_path / "stopped", "--iterations", "12", "--resume")
    straight = load_file(str(tmp_path / "straight" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "stopped" / "model.safetensors"))
    assert straight.keys() == resumed.keys()
    for name in straight:
        np.testing.assert_array_equal(straight[name], resumed[name], err_msg=name)


def test_init_from_starts_at_the_checkpoint_and_refuses_another_architecture(
        tiny_trained, small_demo_file, tmp_path, capsys):
    config = tmp_path / "fine.yaml"
    config.write_text(open(TINY).read() + f"init_from: {tiny_trained}\n")
    out = tmp_path / "fine"
    assert main(["train", "--config", str(config), "--data", str(small_demo_file),
                 "--out", str(out), "--iterations", "1", "--json"]) == 0
    start = json.loads((tiny_trained / "metrics.jsonl").read_text().splitlines()[-1])["loss"]
    fresh = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])["loss"]
    assert fresh < start * 1.5  # not a fresh initialisation (loss ~ 2x higher)
    other = tmp_path / "other.yaml"
    other.write_text(f"init_from: {tiny_trained}\niterations: 1\n")  # default architecture
    assert main(["train", "--config", str(other), "--data", str(small_demo_file),
                 "--out", str(tmp_path / "x")]) != 0
    assert "policy config differs" in capsys.readouterr().err


def test_dagger_command_resumes_without_redoing_a_round(tiny_trained, small_demo_file,
                                                        tmp_path, capsys):
    config = tmp_path / "dagger.yaml"
    config.write_text("rollouts_per_task: 1\niterations_per_round: 3\ntrain:\n"
                      "  tasks_per_batch: 2\n  pairs_per_task: 4\n  torch_threads: 1\n"
                      "  policy: {embed_dim: 16, dilations: [1, 2], lstm_steps: 1, "
                      "mlp_hidden: [32, 32], n_bins: 11, ensemble_size: 2}\n")
    args = ["dagger", "--model", str(tiny_trained), "--data", str(small_demo_file),
            "--tasks", str(tmp_path / "tasks.txt"), "--out", str(tmp_path / "run"),
            "--config", str(config), "--workers", "1", "--json"]
    (tmp_path / "tasks.txt").write_text("ab\n")
    assert main([*args, "--rounds", "1"]) == 0
    assert main([*args, "--rounds", "2"]) == 0
    log = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["round"] for r in log["rounds"]] == [0, 1]
    assert [r["iterations"] for r in log["rounds"]] == [3, 6]
    assert log["rounds"][1]["beta"] == pytest.approx(0.25)
    with DemoReader(tmp_path / "run" / ROLLOUTS_FILE) as reader:
        assert len(reader) == 2  # one rollout per round, none redone
