"""The stage-attention loss: labels from the demonstrator's logged stage ends, the supervised
weights, the switch in TrainConfig and that the loss moves the attention where it points."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from policy_data import random_batch, tiny_config
from synthetic import synthetic_episode

from oneshot_ros.data import batch as keys
from oneshot_ros.data.dataset import PairedDemoDataset, stages_done
from oneshot_ros.data.storage import DemoReader, DemoWriter
from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.policy.modeling import OneShotPolicy
from oneshot_ros.train.bc import TrainConfig
from oneshot_ros.train.step import bc_step, eval_metrics, make_optimizer, stage_attention


def test_an_observation_is_in_the_stage_whose_end_it_has_not_passed():
    steps = np.array([0, 9, 10, 11, 20, 21, 40])
    assert stages_done([20, 10], steps).tolist() == [0, 0, 0, 1, 1, 2, 2]  # unsorted ends too


def test_the_dataset_labels_each_pair_with_its_own_demos_stage(tmp_path):
    with DemoWriter(tmp_path / "demos.h5", {"control_hz": 10.0}) as writer:
        for seed in (0, 2, 3, 4):
            writer.append(synthetic_episode("abc d", seed))
    with DemoReader(tmp_path / "demos.h5") as reader:
        dataset = PairedDemoDataset.from_reader(reader, pairs_per_task=12, with_stage_ends=True)
    for i in range(len(dataset)):
        item = dataset[i]
        for row, stage in zip(item[keys.OBS], item[keys.OBS_STAGE], strict=True):
            [source] = [d for d in dataset.demos if (d["obs"] == row).all(axis=1).any()]
            step = int(np.flatnonzero((source["obs"] == row).all(axis=1))[0])
            assert stage == sum(end < step for end in source["stage_ends"])
    batch = keys.collate([dataset[0], dataset[1]])
    assert batch[keys.OBS_STAGE].shape == (2, 12) and batch[keys.OBS_STAGE].dtype == torch.int64
    plain = PairedDemoDataset(dataset.demos, pairs_per_task=3)
    assert keys.OBS_STAGE not in plain[0]  # only where stage ends are asked for


def _snapshot_batch():
    """Two demos: stage ends at 2, 7 (+ final 9: 3 snapshots) and at 4 (+ final 5: 2)."""
    batch, _ = random_batch(blocks=(2, 3), lengths=(10, 6))
    ends = torch.zeros(2, 10, dtype=torch.bool)
    ends[0, [2, 7]] = True
    ends[1, 4] = True
    stages = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 0]])  # 3 = done: the final frame's label
    return dict(batch, **{keys.DEMO_STAGE_END: ends, keys.OBS_STAGE: stages})


def test_the_label_is_the_snapshot_of_the_current_stage_clipped_to_the_final_frame():
    batch = _snapshot_batch()
    temporal = torch.zeros(2, 4, 2, 3, 2)  # (N, M, t_lstm, T~, H)
    temporal[..., 1] = 1.0 / 3  # head 1: uniform, never read
    temporal[:, :, 0, :, 0] = 1.0 / 3  # step 1: uniform, never read
    temporal[0, :, 1, :, 0] = torch.tensor([0.7, 0.2, 0.1])  # demo 0: looks at snapshot 0
    temporal[1, :, 1, :, 0] = torch.tensor([0.1, 0.9, 0.0])  # demo 1: 2 snapshots, at 1
    nll, hit = stage_attention(temporal, batch)
    expected = [[0.7, 0.2, 0.1, 0.1], [0.1, 0.9, 0.9, 0.1]]  # labels [0,1,2,2], [0,1,1,0]
    torch.testing.assert_close(nll, -torch.log(torch.tensor(expected)))
    assert hit.tolist() == [[True, False, False, False], [False, True, True, False]]


def test_the_loss_turns_the_attention_to_the_current_stage():
    batch = _snapshot_batch()
    results = {}
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        model = OneShotPolicy(tiny_config(variant="snapshot"))
        model.initialize(batch)
        optimizer = make_optimizer(model, lr=3e-3)
        for _ in range(200):  # one fixed batch: the loss can be met exactly
            bc_step(model, optimizer, batch, stage_attention_weight=weight)
        results[weight] = eval_metrics(model, batch)
    assert results[1.0]["stage_attn_acc"] == 1.0
    assert results[1.0]["stage_attn_nll"] < 0.25 * results[0.0]["stage_attn_nll"]
    assert "stage_attn_nll" not in eval_metrics(OneShotPolicy(tiny_config()),
                                                random_batch()[0])  # full variant: not reported


def test_the_switch_is_refused_where_frames_are_not_one_per_stage():
    snapshot = PolicyConfig(variant="snapshot")
    assert TrainConfig(stage_attention_weight=0.5, policy=snapshot).stage_attention_weight == 0.5
    with pytest.raises(ValueError, match="needs policy.variant: snapshot"):
        TrainConfig(stage_attention_weight=0.5)
    for bad in (-0.1, math.nan):
        with pytest.raises(ValueError, match="stage_attention_weight=.*weight >= 0"):
            TrainConfig(stage_attention_weight=bad, policy=snapshot)

