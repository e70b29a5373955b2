"""The paper's §6 baselines see only what they may: the final frame, or the stage-end frames.

Every demonstration frame the baseline may not see is replaced by noise; its actions must not
change. The full-demonstration policy, as a control, does change.
"""

import pytest
import torch
from policy_data import random_batch, tiny_config

from oneshot_ros.data import batch as keys
from oneshot_ros.policy.modeling import OneShotPolicy

LENGTHS = (12, 20, 7)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _stage_ends() -> torch.Tensor:
    marks = torch.zeros(len(LENGTHS), max(LENGTHS), dtype=torch.bool)
    marks[0, [3, 8]] = True
    marks[1, [5, 11, 16]] = True
    marks[2, 2] = True
    return marks


def _visible(variant: str, batch: dict) -> torch.Tensor:
    """(N, T) True where the variant may look at the demonstration."""
    mask = batch[keys.DEMO_MASK]
    last = torch.zeros_like(mask)
    last[torch.arange(len(LENGTHS)), torch.tensor(LENGTHS) - 1] = True
    if variant == "final_state":
        return last
    return last | (_stage_ends() & mask)


def _scrambled(batch: dict, visible: torch.Tensor) -> dict:
    noise = torch.randn_like(batch[keys.DEMO_OBS])
    demo = torch.where(visible[..., None], batch[keys.DEMO_OBS], noise)
    return {**batch, keys.DEMO_OBS: demo}


def _logits(model, batch):
    with torch.no_grad():
        return model(batch, torch.Generator().manual_seed(0))[0]


@pytest.mark.parametrize("variant", ["final_state", "snapshot"])
def test_a_baseline_reads_only_its_frames(variant):
    torch.manual_seed(0)
    model = OneShotPolicy(tiny_config(variant=variant)).eval()
    batch, _ = random_batch(lengths=LENGTHS)
    batch = {**batch, keys.DEMO_STAGE_END: _stage_ends()}
    visible = _visible(variant, batch)
    torch.manual_seed(1)
    scrambled = _scrambled(batch, visible)
    torch.testing.assert_close(_logits(model, batch), _logits(model, scrambled))
    everything = _scrambled(batch, torch.zeros_like(visible))  # its frames too: it must react
    assert not torch.allclose(_logits(model, batch), _logits(model, everything), atol=1e-4)


def test_the_full_demonstration_policy_reads_the_other_frames():
    torch.manual_seed(0)
    model = OneShotPolicy(tiny_config(variant="full")).eval()
    batch, _ = random_batch(lengths=LENGTHS)
    batch = {**batch, keys.DEMO_STAGE_END: _stage_ends()}
    scrambled = _scrambled(batch, _visible("snapshot", batch))
    assert not torch.allclose(_logits(model, batch), _logits(model, scrambled), atol=1e-4)
