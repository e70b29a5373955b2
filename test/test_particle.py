"""Particle reaching (appendix A): world, scripted demonstrator, a tiny policy beats chance."""

import json

import numpy as np
import pytest
import torch

from oneshot_ros.cli import main
from oneshot_ros.particle.models import ParticlePolicy
from oneshot_ros.particle.train import ParticleTrainConfig, evaluate, train
from oneshot_ros.particle.world import MAX_LANDMARKS, ParticleWorld


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_layouts_are_padded_separated_and_the_expert_always_reaches():
    world, rng = ParticleWorld(), np.random.default_rng(0)
    counts = np.array([2, 5, 10, 3])
    agent, landmarks, mask = world.sample_layouts(rng, counts)
    assert mask.sum(1).tolist() == counts.tolist() and not landmarks[~mask].any()
    for k, n in enumerate(counts):
        gaps = np.linalg.norm(landmarks[k, :n, None] - landmarks[k, None, :n], axis=-1)
        assert gaps[~np.eye(n, dtype=bool)].min() >= world.min_separation
    obs = world.observe(agent, landmarks, mask)
    assert obs.shape == (4, 2 + 2 * MAX_LANDMARKS) and not obs[0, 2 + 2 * 2:].any()
    target = np.array([1, 4, 9, 0])
    _, labels, success = world.rollout(None, agent, landmarks, mask, target)
    assert success.all() and np.abs(labels).max() <= world.max_step


@pytest.mark.parametrize("variant", ["plain_lstm", "lstm_attention", "final_state_attention"])
def test_policies_map_demo_and_obs_to_actions(variant):
    model = ParticlePolicy(variant, hidden=8)
    demo, obs = torch.randn(3, 6, 2 + 2 * MAX_LANDMARKS), torch.randn(3, 4, 2 + 2 * MAX_LANDMARKS)
    mask = torch.arange(MAX_LANDMARKS) < torch.tensor([[2], [5], [3]])
    assert model(demo, torch.tensor([6, 6, 4]), mask, obs).shape == (3, 4, 2)


def test_a_tiny_trained_policy_beats_chance_on_unseen_layouts():
    config = ParticleTrainConfig(variant="final_state_attention", landmarks=(3, 3),
                                 iterations=400, batch_size=32, hidden=32, seed=0)
    model, losses, _ = train(config)
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    assert evaluate(model, config.world, n_landmarks=3, n_episodes=100) > 0.6  # chance 1/3


def test_command_reports_json(capsys):
    argv = ["particle", "--variant", "lstm_attention", "--landmarks", "2-3",
            "--iterations", "5", "--episodes", "4", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["by_landmarks"]) == {"2", "3"} and report["paper"]["2"] == 1.0
    assert main(["particle", "--landmarks", "1-12", "--iterations", "1"]) == 2
