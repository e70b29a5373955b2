"""Demonstration network (Duan et al. 2017, §4.1, Module 1): demo -> T~ x B x D embedding.

1. Frame selection: temporal dropout keeps max(1, floor(T(1-p))) random steps in time order
   ("full"; with keep_stage_ends also every stage's last frame and the demo's), or the last
   frame ("final_state"), or the last frame of each stage ("snapshot").
2. h = Conv1D_k1(block_state) (a Linear per block and step).
3. For each dilation a: h' = ReLU(h); attn = NeighborhoodAttention(h');
   h' = ReLU(CausalConv_k2_dil_a([h', attn, block_state, robot_state])); h = h + h'.
4. Optionally (config.demo_norm) h = LayerNorm(h) over D, without parameters: the residual
   sum grows during training (mean |h| 1.6 at init, 14 after 200 iterations) and saturates the
   context network's LSTM gates, which then ignore the current state (bench/context_probe.py).
Kept steps sit at the front and padding at the end, so the causal (left-padded) convolution never
lets padded steps influence real ones.

config.frame_reach masks the past tap (frame t - a) of every block with a > frame_reach. A model
trained on demos of at most F kept frames (the snapshot variant on 1-7 stage tasks: F = 8) never
reads frame t - a >= 0 with a >= F: that tap only ever met the zero padding, so it learnt nothing
(its one gradient, through the weight norm, only rescales it) and still points where it was
drawn; on a longer demo (8 stages: 9 snapshots) it adds noise. Masked (frame_reach = F - 1) the
block computes, on every demo of <= F frames, exactly what it computed in training, and on longer
ones what it would compute at t < a.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from oneshot_ros.policy.attention import NeighborhoodAttention
from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.policy.weight_norm import conv1d, linear


@dataclass
class DemoEmbedding:
    h: torch.Tensor  # (N, T~, B, D) demo embedding
    time_mask: torch.Tensor  # (N, T~) bool, True = real kept step
    time_index: torch.Tensor  # (N, T~) long, index of each kept step in the original demo


def split_obs(obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 3B+2) -> block_state (..., B, 3), gripper state (..., 2) (ObsLayout order)."""
    return obs[..., :-2].unflatten(-1, (-1, 3)), obs[..., -2:]


def temporal_dropout(demo_mask: torch.Tensor, p: float,
                     generator: torch.Generator | None = None):
    """demo_mask (N, T) -> index (N, T~), keep (N, T~): a uniform random subset per demo.

    Duan et al.: keep T~ = max(1, floor(T(1-p))) of the T real steps, in time order.
    """
    n, t = demo_mask.shape
    lengths = demo_mask.sum(dim=1)  # (N,)
    n_keep = torch.floor(lengths.double() * (1.0 - p) + 1e-9).long().clamp(min=1)  # (N,)
    keys = torch.rand(n, t, generator=generator, device=demo_mask.device)  # (N, T)
    keys = keys.masked_fill(~demo_mask, 2.0)  # padded steps sort last
    k_max = int(n_keep.max())
    order = keys.argsort(dim=1)[:, :k_max]  # (N, T~) random real steps first
    keep = torch.arange(k_max, device=demo_mask.device) < n_keep[:, None]  # (N, T~)
    index = torch.where(keep, order, t).sort(dim=1).values  # kept steps in time order, then t
    return index.clamp(max=t - 1), keep


def marked_steps(marks: torch.Tensor):
    """marks (N, T) bool -> index (N, K), keep (N, K): the marked steps in time order."""
    t = marks.shape[1]
    steps = torch.arange(t, device=marks.device)
    order = (steps + t * (~marks).long()).argsort(dim=1)  # marked steps first, in time order
    counts = marks.sum(dim=1)  # (N,)
    k_max = max(int(counts.max()), 1)
    keep = steps[:k_max] < counts[:, None]  # (N, K)
    return order[:, :k_max], keep


def last_step(demo_mask: torch.Tensor) -> torch.Tensor:
    """(N, T) bool -> (N, 1) index of each demo's last real step."""
    return demo_mask.long().cumsum(dim=1).argmax(dim=1, keepdim=True)


def snapshot_marks(demo_mask: torch.Tensor, stage_end: torch.Tensor) -> torch.Tensor:
    """(N, T) bool: the snapshot frames, each stage's last step and the final step (which
    always counts, also when the demo stopped mid-stage)."""
    return (stage_end & demo_mask).scatter(1, last_step(demo_mask), True)


def select_frames(config: PolicyConfig, demo_mask: torch.Tensor,
                  stage_end: torch.Tensor | None, generator: torch.Generator | None):
    """-> index (N, T~), keep (N, T~) according to config.variant."""
    last = last_step(demo_mask)  # (N, 1)
    if config.variant == "final_state":
        return last, torch.ones_like(last, dtype=torch.bool)
    if config.variant == "full" and not config.keep_stage_ends:
        return temporal_dropout(demo_mask, config.temporal_dropout_p, generator)
    if stage_end is None:
        raise ValueError(f"variant {config.variant!r} (keep_stage_ends="
                         f"{config.keep_stage_ends}) needs the demo's stage ends "
                         "(batch['demo_stage_end'] or Imitator.set_demo(obs, stage_ends))")
    marks = snapshot_marks(demo_mask, stage_end)  # (N, T)
    if config.variant == "full":  # keep_stage_ends: the random subset plus the stage ends
        index, keep = temporal_dropout(demo_mask, config.temporal_dropout_p, generator)
        # padded entries of index point at step T-1 with keep False; a real step T-1 is the
        # last one, which `marks` holds anyway, hence the `|`
        marks = torch.zeros_like(marks).scatter(1, index, keep) | marks
    return marked_steps(marks)


class DemoBlock(nn.Module):
    """One residual block: neighborhood attention + dilated causal temporal conv (kernel 2)."""

    def __init__(self, config: PolicyConfig, dilation: int):
        super().__init__()
        d, wn = config.embed_dim, config.weight_norm
        self.dilation = dilation
        self.attention = NeighborhoodAttention(d, config.n_heads, wn)
        self.conv = conv1d(config.demo_conv_in, d, kernel=2, dilation=dilation, weight_norm=wn)
        self.past_tap = not config.frame_reach or dilation <= config.frame_reach

    def forward(self, h, block_state, robot_state, block_mask):
        """h (N, T, B, D), block_state (N, T, B, 3), robot_state (N, T, B, 2) -> (N, T, B, D)."""
        h_relu = F.relu(h)
        attn = self.attention(h_relu, block_state, block_mask[:, None])  # (N, T, B, H(D+3))
        x = torch.cat([h_relu, attn, block_state, robot_state], dim=-1)  # (N, T, B, 203)
        n, t, b, c = x.shape
        x = x.permute(0, 2, 3, 1).reshape(n * b, c, t)  # (N*B, 203, T): time is the conv axis
        x = self.causal_conv(F.pad(x, (self.dilation, 0)))  # left-pad a zeros -> (N*B, D, T)
        x = x.reshape(n, b, -1, t).permute(0, 3, 1, 2)  # (N, T, B, D)
        return h + F.relu(x)

    def causal_conv(self, x: torch.Tensor) -> torch.Tensor:
        """(N*B, C, a + T) left-padded -> (N*B, D, T). Kernel tap 0 reads frame t - a, tap 1
        frame t; without the past tap only tap 1 (of the weight-normed weight: unchanged)."""
        if self.past_tap:
            return self.conv(x)
        weight = self.conv.weight * self.conv.weight.new_tensor([0.0, 1.0])  # (D, C, 2)
        return F.conv1d(x, weight, self.conv.bias, dilation=self.dilation)


class DemoNetwork(nn.Module):
    def __init__(self, config: PolicyConfig):
        super().__init__()
        self.config = config
        self.embed = linear(3, config.embed_dim, config.weight_norm)  # Conv1D kernel 1
        self.blocks = nn.ModuleList(DemoBlock(config, a) for a in config.dilations)

    def forward(self, demo_obs: torch.Tensor, demo_mask: torch.Tensor, block_mask: torch.Tensor,
                stage_end: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> DemoEmbedding:
        """demo_obs (N, T, 3B+2), demo_mask (N, T), block_mask (N, B) -> DemoEmbedding."""
        index, keep = select_frames(self.config, demo_mask, stage_end, generator)  # (N, T~)
        frames = demo_obs.gather(1, index[..., None].expand(-1, -1, demo_obs.shape[-1]))
        frames = frames * keep[..., None]  # (N, T~, 3B+2), padded steps zero
        block_state, gripper = split_obs(frames)  # (N, T~, B, 3), (N, T~, 2)
        robot_state = gripper[:, :, None].expand(-1, -1, block_state.shape[2], -1)  # (N,T~,B,2)
        h = self.embed(block_state)  # (N, T~, B, D)
        for block in self.blocks:
            h = block(h, block_state, robot_state, block_mask)
        if self.config.demo_norm:
            h = F.layer_norm(h, h.shape[-1:])  # (N, T~, B, D), unit scale per block and step
        h = h * (keep[:, :, None, None] & block_mask[:, None, :, None])  # zero the padding
        return DemoEmbedding(h=h, time_mask=keep, time_index=index)
