"""PairedDemoDataset: never pairs a demo with itself, masks for mixed block counts, splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthetic import synthetic_episode

from oneshot_ros.data import batch as keys
from oneshot_ros.data.dataset import PairedDemoDataset, split_by_demo
from oneshot_ros.data.storage import DemoReader, DemoWriter

TASKS = {"ab": range(0, 4), "abc d": range(10, 13), "a b c": range(20, 25), "ab cd": [30]}


@pytest.fixture()
def reader(tmp_path):
    with DemoWriter(tmp_path / "demos.h5", {"control_hz": 10.0}) as writer:
        for task, seeds in TASKS.items():
            for seed in seeds:
                writer.append(synthetic_episode(task, seed, 0.1))
    with DemoReader(tmp_path / "demos.h5") as reader:
        yield reader


def _source_demo(dataset, obs_row: np.ndarray) -> int:
    """Index (in dataset.demos) of the demonstration a pair's observation was taken from."""
    hits = [k for k, d in enumerate(dataset.demos)
            if d["obs"].shape[1] == len(obs_row) and (d["obs"] == obs_row).all(axis=1).any()]
    assert len(hits) == 1
    return hits[0]


def test_pairs_come_from_another_demo_of_the_same_task(reader):
    dataset = PairedDemoDataset.from_reader(reader, pairs_per_task=5)
    assert dataset.tasks == ["a b c", "ab", "abc d"]  # "ab cd" has one demo: skipped
    seen_partner = set()
    for epoch in range(4):
        dataset.set_epoch(epoch)
        for i in range(len(dataset)):
            item = dataset[i]
            d1 = dataset.conditioning[i]
            assert item[keys.DEMO_OBS] is dataset.demos[d1]["obs"]
            for row, action in zip(item[keys.OBS], item[keys.ACTION], strict=True):
                d2 = _source_demo(dataset, row)
                assert d2 != d1 and dataset.demos[d2]["task"] == dataset.demos[d1]["task"]
                step = np.flatnonzero((dataset.demos[d2]["obs"] == row).all(axis=1))[0]
                assert np.array_equal(action, dataset.demos[d2]["expert_actions"][step])
                seen_partner.add((d1, d2))
    assert len(seen_partner) > len(dataset)  # partners vary across epochs


def test_failed_demos_are_never_conditioning(reader):
    dataset = PairedDemoDataset.from_reader(reader)
    assert all(dataset.demos[k]["success"] for k in dataset.conditioning)
    assert len(dataset) < sum(len(ks) for ks in dataset.partners.values())  # seeds 1, 21 fail


def test_collate_pads_mixed_block_counts_with_correct_masks(reader):
    dataset = PairedDemoDataset.from_reader(reader, pairs_per_task=3, with_stage_ends=True)
    by_task = {dataset.demos[k]["task"]: i for i, k in enumerate(dataset.conditioning)}
    items = [dataset[by_task[t]] for t in ("ab", "abc d", "a b c")]  # 2, 4, 3 blocks
    batch = keys.collate(items)
    keys.validate_batch(batch)
    lengths = [len(it[keys.DEMO_OBS]) for it in items]
    n, t_max, dim = batch[keys.DEMO_OBS].shape
    assert (n, t_max, dim) == (3, max(lengths), 3 * 4 + 2)
    assert batch[keys.BLOCK_MASK].tolist() == [[1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 0]]
    assert batch[keys.DEMO_MASK].sum(dim=1).tolist() == lengths
    two = items[0]  # 2 blocks: block columns 0..5, zeros for blocks 2..3, gripper last
    got = batch[keys.DEMO_OBS][0, : lengths[0]]
    assert torch.equal(got[:, :6], torch.from_numpy(two[keys.DEMO_OBS][:, :6]))
    assert not got[:, 6:12].any()
    assert torch.equal(got[:, -2:], torch.from_numpy(two[keys.DEMO_OBS][:, -2:]))
    assert not batch[keys.DEMO_OBS][0, lengths[0]:].any()
    assert batch[keys.DEMO_STAGE_END].sum(dim=1).tolist() == [1, 2, 0]  # stages of each task


def test_split_holds_out_whole_demos_deterministically(reader):
    train, val = split_by_demo(reader, val_fraction=0.4)
    assert not set(train) & set(val) and sorted(train + val) == list(range(len(reader)))
    val_tasks = {reader.meta(i)["task"] for i in val}
    assert val_tasks == {"ab", "a b c"}  # 3-demo task cannot give 2 + 2; 1-demo task stays
    assert split_by_demo(reader, val_fraction=0.4) == (train, val)
    val_set = PairedDemoDataset.from_reader(reader, val)
    assert {d["index"] for d in val_set.demos} == set(val)
