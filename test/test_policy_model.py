"""OneShotPolicy: shapes, masks, permutation equivariance, temporal dropout, learning."""

import numpy as np
import pytest
import torch
from policy_data import random_batch, task_sample, tiny_config

from oneshot_ros.data import batch as keys
from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.policy.demo_network import marked_steps, temporal_dropout
from oneshot_ros.policy.modeling import OneShotPolicy
from oneshot_ros.policy.weight_norm import weight_normed_layers
from oneshot_ros.train.step import bc_step, make_optimizer


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the CI machine is small and shared
    yield
    torch.set_num_threads(threads)


def _model(**overrides) -> OneShotPolicy:
    torch.manual_seed(0)
    return OneShotPolicy(tiny_config(**overrides)).eval()


def test_output_and_attention_shapes():
    config = tiny_config()
    batch, _ = random_batch()
    logits, attention = _model()(batch)
    assert logits.shape == (3, 4, 3 * config.n_bins + 2)
    t_kept = max(int(length * 0.5) for length in (12, 20, 7))
    assert attention["temporal"].shape == (3, 4, config.lstm_steps, t_kept, config.n_heads)
    assert attention["block"].shape == (3, 4, 2, 4, config.n_heads)
    assert torch.allclose(attention["temporal"].sum(3), torch.ones(()))  # softmax over steps
    assert torch.allclose(attention["block"].sum(3), torch.ones(()))  # softmax over blocks


def test_reference_sizes_match_the_paper():
    config = PolicyConfig()
    assert config.demo_conv_in == 203
    assert config.lstm_input_dim == 395
    assert config.context_embedding_dim == 14
    assert config.n_action_logits == 3 * 21 + 2


def test_padding_blocks_and_time_changes_nothing_for_real_entries():
    model = _model(temporal_dropout_p=0.0)  # keep every step: the same frames in both batches
    rng = np.random.default_rng(1)
    small = task_sample(rng, n_blocks=3, demo_len=9, n_pairs=4)
    big = task_sample(rng, n_blocks=6, demo_len=25, n_pairs=4)
    alone, _ = model(keys.collate([small]))
    padded, _ = model(keys.collate([small, big]))
    torch.testing.assert_close(padded[0], alone[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", ["full", "final_state"])
def test_permuting_blocks_consistently_changes_nothing(variant):
    model = _model(variant=variant, temporal_dropout_p=0.7)
    batch, _ = random_batch(blocks=(5, 5), lengths=(30, 22))
    perm = torch.tensor([3, 0, 4, 1, 2])
    columns = torch.cat([(3 * perm[:, None] + torch.arange(3)).flatten(), torch.tensor([15, 16])])
    permuted = dict(batch, **{keys.DEMO_OBS: batch[keys.DEMO_OBS][..., columns],
                              keys.OBS: batch[keys.OBS][..., columns]})
    out, att = model(batch, torch.Generator().manual_seed(5))
    out_p, att_p = model(permuted, torch.Generator().manual_seed(5))
    torch.testing.assert_close(out_p, out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(att_p["block"], att["block"][..., perm, :], atol=1e-5, rtol=1e-5)


def test_temporal_dropout_keeps_five_percent_uniformly_in_time_order():
    lengths = torch.tensor([200, 100, 10])
    mask = torch.arange(200) < lengths[:, None]  # (3, 200)
    generator = torch.Generator().manual_seed(0)
    counts = torch.zeros(200)
    n_draws = 2000
    for _ in range(n_draws):
        index, keep = temporal_dropout(mask, 0.95, generator)
        assert keep.sum(1).tolist() == [10, 5, 1]  # max(1, floor(T * 0.05))
        real = index[0]
        assert bool((real[1:] > real[:-1]).all())  # strictly increasing: time order
        assert bool((index[1][keep[1]] < 100).all()) and bool((index[2][keep[2]] < 10).all())
        counts[real] += 1
    frequency = counts / n_draws  # each step kept with probability 10/200
    assert abs(float(frequency.mean()) - 0.05) < 1e-6
    assert float((frequency - 0.05).abs().max()) < 0.025


def test_snapshot_selects_stage_ends_and_final_state_the_last_step():
    marks = torch.zeros(2, 10, dtype=torch.bool)
    marks[0, [2, 7]] = True
    marks[1, 4] = True
    index, keep = marked_steps(marks)
    assert index[0].tolist() == [2, 7] and keep[1].tolist() == [True, False]
    model = _model(variant="snapshot")
    batch, _ = random_batch(blocks=(2, 3), lengths=(10, 6))
    with pytest.raises(ValueError, match="demo_stage_end"):
        model(batch)
    logits, attention = model(dict(batch, **{keys.DEMO_STAGE_END: marks}))
    assert attention["temporal"].shape[3] == 3  # 2 stage ends + the final frame


def test_keep_stage_ends_adds_every_stage_end_to_the_random_subset():
    model = _model(keep_stage_ends=True)  # tiny_config: p = 0.5
    batch, _ = random_batch(blocks=(2, 3), lengths=(20, 12))
    with pytest.raises(ValueError, match="stage ends"):
        model(batch)
    marks = torch.zeros(2, 20, dtype=torch.bool)
    marks[0, [3, 9]] = True
    marks[1, 5] = True
    for seed in range(20):
        generator = torch.Generator().manual_seed(seed)
        embedding = model.embed_demo(batch[keys.DEMO_OBS], batch[keys.DEMO_MASK],
                                     batch[keys.BLOCK_MASK], marks, generator)
        kept = [set(embedding.time_index[i][embedding.time_mask[i]].tolist()) for i in range(2)]
        assert {3, 9, 19} <= kept[0] and {5, 11} <= kept[1]  # stage ends and the last frame
        assert 10 <= len(kept[0]) <= 13 and 6 <= len(kept[1]) <= 8  # + floor(T * 0.5) random
        assert max(kept[1]) == 11  # never a padded step
        index = embedding.time_index[0][embedding.time_mask[0]]
        assert bool((index[1:] > index[:-1]).all())  # time order
    plain = _model().embed_demo(batch[keys.DEMO_OBS], batch[keys.DEMO_MASK],
                                batch[keys.BLOCK_MASK], marks, torch.Generator().manual_seed(0))
    assert int(plain.time_mask[0].sum()) == 10  # the switch off: stage ends are ignored


def test_frame_selection_switches_keep_the_weights_loadable():
    base = tiny_config()
    assert tiny_config(keep_stage_ends=True, ensemble_size=3).same_weights_as(base)
    assert not tiny_config(embed_dim=base.embed_dim * 2).same_weights_as(base)
    with pytest.raises(ValueError, match="keep_stage_ends"):
        tiny_config(variant="snapshot", keep_stage_ends=True)


def test_data_dependent_init_normalises_every_layer():
    model = _model()
    batch, _ = random_batch()
    assert model.initialize(batch) == len(weight_normed_layers(model))
    with torch.no_grad():
        logits, _ = model(batch)  # the output layer was normalised on this batch
    assert abs(float(logits.mean())) < 0.2 and abs(float(logits.std()) - 1.0) < 0.2


@pytest.mark.parametrize("head", ["categorical", "l2"])
def test_a_few_hundred_steps_reduce_the_loss(head):
    torch.manual_seed(0)
    model = OneShotPolicy(tiny_config(action_head=head))
    batch, _ = random_batch(n_pairs=8)
    model.initialize(batch)
    optimizer = make_optimizer(model, lr=3e-3)
    losses = [bc_step(model, optimizer, batch)["loss"] for _ in range(150)]
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])


def test_config_rejects_bad_values_with_the_fix():
    with pytest.raises(ValueError, match="n_bins=20: use an odd number"):
        PolicyConfig(n_bins=20)
    with pytest.raises(ValueError, match="variant='sequence'"):
        PolicyConfig(variant="sequence")
    with pytest.raises(ValueError, match="temporal_dropout_p=1.0"):
        PolicyConfig(temporal_dropout_p=1.0)
    with pytest.raises(ValueError, match="unknown key 'heads'"):
        PolicyConfig.from_dict({"heads": 2})


@pytest.mark.parametrize("n_heads, embed_dim", [(2, 64), (1, 8), (3, 16)])
def test_state_input_columns_are_the_lstm_inputs_that_follow_the_state(n_heads, embed_dim):
    """FastPolicy folds the state-dependent LSTM columns out of the step-1 gates; they come from
    the context network's one layout, whatever the heads and width."""
    from oneshot_ros.policy import context_network as cn

    config = PolicyConfig(n_heads=n_heads, embed_dim=embed_dim)
    torch.manual_seed(0)
    weights = torch.rand(4, 4, n_heads)  # (Q, K, H) spatial attention weights, 4 blocks
    temp = torch.randn(4, n_heads * embed_dim)  # (B, HD): not state

    def inputs(blocks, robot):
        spatial = torch.einsum("qkh,kc->qhc", weights, cn.spatial_memory(blocks, temp))
        return cn.lstm_input(robot.expand(4, 2), blocks, spatial.flatten(-2), temp)

    before = inputs(torch.randn(4, 3), torch.randn(1, 2))
    after = inputs(torch.randn(4, 3), torch.randn(1, 2))
    assert before.shape[-1] == config.lstm_input_dim
    changed = torch.nonzero((before != after).any(dim=0)).flatten()
    assert changed.tolist() == sorted(cn.state_input_columns(n_heads, embed_dim).tolist())


def test_frame_reach_masks_a_tap_that_training_on_short_demos_never_reached():
    """A tap of dilation a reads frame t - a: on demos of <= a frames it only meets padding and
    learns nothing (its gradient, through the weight norm, is parallel to it: a rescaling).
    Masked, the model is the same on such demos and drops that random term on longer ones."""
    free = _model(temporal_dropout_p=0.0, dilations=(1, 2))  # every frame kept: T~ = T
    masked = OneShotPolicy(tiny_config(temporal_dropout_p=0.0, dilations=(1, 2), frame_reach=1))
    masked.load_state_dict(free.state_dict())
    assert masked.config.same_weights_as(free.config)
    short, _ = random_batch(blocks=(2, 3), lengths=(2, 1))
    free(short)[0].sum().backward()
    v = free.demo_net.blocks[1].conv.parametrizations.weight.original1  # (D, C, 2)
    grad, tap = v.grad[..., 0], v.detach()[..., 0]  # (D, C) each
    scale = (grad * tap).sum(1, keepdim=True) / (tap * tap).sum(1, keepdim=True)  # (D, 1)
    torch.testing.assert_close(grad, scale * tap)  # no direction learnt from <= 2 frames
    torch.testing.assert_close(masked(short)[0], free(short)[0], rtol=0, atol=0)
    long, _ = random_batch(blocks=(2, 3), lengths=(6, 5))
    assert not torch.allclose(masked(long)[0], free(long)[0])
    with pytest.raises(ValueError, match="frame_reach=-1"):
        tiny_config(frame_reach=-1)
