"""Re-timing a conditioning demo as a person paces it (data.retime) and its training switch."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import synthetic_episode

from oneshot_ros.data import batch as keys
from oneshot_ros.data.dataset import PairedDemoDataset
from oneshot_ros.data.retime import retime
from oneshot_ros.data.storage import DemoReader, DemoWriter
from oneshot_ros.train.bc import TrainConfig

GRIP_AT = 60  # the fingers start to close at this source step


def _demo(length: int = 200) -> np.ndarray:
    """(T, 3*2+2): block columns move linearly, the fingers close from GRIP_AT on."""
    t = np.arange(length, dtype=np.float32)
    obs = np.zeros((length, 8), dtype=np.float32)
    obs[:, 0], obs[:, 4] = t * 1e-3, -t * 2e-3
    fingers = np.where(t < GRIP_AT, 0.05, np.maximum(0.05 - (t - GRIP_AT) * 5e-3, 0.02))
    obs[:, -2:] = fingers[:, None]
    return obs


def test_retimed_demo_is_slower_on_the_same_path():
    obs = _demo()
    warped, _ = retime(obs, np.random.default_rng(0))
    assert len(obs) * 1.05 < len(warped) < len(obs) * 4  # slower: 40-100 % speed plus pauses
    np.testing.assert_array_equal(warped[0], obs[0])
    np.testing.assert_allclose(warped[-1], obs[-1], atol=1e-7)
    # on the recorded path, never moving backwards in time
    assert np.all(np.diff(warped[:, 0]) >= 0) and np.all(np.diff(warped[:, 4]) <= 0)
    np.testing.assert_allclose(warped[:, 4], -2.0 * warped[:, 0], atol=1e-6)


def test_the_arm_stops_before_the_fingers_move():
    obs = _demo()
    for seed in range(5):
        warped, _ = retime(obs, np.random.default_rng(seed))
        first_close = int(np.argmax(warped[:, -1] < 0.05 - 1e-6))
        still = np.all(warped[first_close - 3:first_close - 1] == warped[first_close - 2], axis=1)
        assert still.all(), f"seed {seed}: no still frames before the grip"


def test_stage_ends_land_on_the_same_scene():
    obs, ends = _demo(), np.array([59, 120, 199])
    warped, new_ends = retime(obs, np.random.default_rng(3), ends)
    assert new_ends.tolist() == sorted(new_ends.tolist()) and new_ends[-1] == len(warped) - 1
    np.testing.assert_allclose(warped[new_ends, 0], obs[ends, 0], atol=1e-3)


def test_a_wider_speed_range_stretches_demos_as_human_style_ones():
    obs = _demo(400)
    stretch = {}
    for speed in ((0.4, 1.0), (0.25, 0.8)):
        lengths = [len(retime(obs, np.random.default_rng(s), None, speed)[0]) for s in range(20)]
        stretch[speed] = np.mean(lengths) / len(obs)
    assert 1.3 < stretch[(0.4, 1.0)] < 2.0  # ~1/mean speed plus pauses
    assert 2.0 < stretch[(0.25, 0.8)] < 3.0  # the 2.3-3.5x of human-style demos


def test_train_config_checks_the_speed_range():
    assert TrainConfig(demo_retime_speed=[0.25, 0.8]).demo_retime_speed == (0.25, 0.8)
    for bad in ([0.0, 0.5], [0.9, 0.4], [0.5, 1.5], [0.5]):
        with pytest.raises(ValueError, match="demo_retime_speed"):
            TrainConfig(demo_retime_speed=bad)


def test_different_draws_give_different_timings():
    obs = _demo()
    lengths = {len(retime(obs, np.random.default_rng(seed))[0]) for seed in range(6)}
    assert len(lengths) > 3


def test_dataset_retimes_only_the_conditioning_demo(tmp_path):
    with DemoWriter(tmp_path / "demos.h5", {"control_hz": 10.0}) as writer:
        for seed in range(3):
            writer.append(synthetic_episode("ab", seed, 0.1))
    with DemoReader(tmp_path / "demos.h5") as reader:
        plain = PairedDemoDataset.from_reader(reader, pairs_per_task=4)
        warped = PairedDemoDataset.from_reader(reader, pairs_per_task=4, retime_probability=1.0)
    for index in range(len(plain)):
        a, b = plain[index], warped[index]
        assert len(b[keys.DEMO_OBS]) > len(a[keys.DEMO_OBS])
        np.testing.assert_array_equal(a[keys.OBS].shape, b[keys.OBS].shape)
        source = plain.demos[plain.conditioning[index]]["obs"]
        np.testing.assert_array_equal(a[keys.DEMO_OBS], source)
    with pytest.raises(ValueError, match="retime_probability"):
        PairedDemoDataset(plain.demos, retime_probability=1.5)
    with pytest.raises(ValueError, match="demo_retime"):
        TrainConfig(demo_retime=-0.1)
