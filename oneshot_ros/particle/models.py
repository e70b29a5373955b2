"""The appendix A policies for particle reaching: same family as the stacking policy, small.

All read a demo (N, T, D) with landmark mask (N, L) and act on observations (N, M, D), D = 2+2L
(world.py). Output: displacement (N, M, 2) in units of max_step (trained with L2).
- plain_lstm: an LSTM reads the demo; its final output + the state -> MLP -> action.
- lstm_attention: an LSTM reads the demo and outputs weights over landmark slots; the weighted
  current relative landmark position (2-D) + own position -> MLP -> action.
- final_state_attention: the weights come from the demo's last state through an MLP.
Landmark slot k is colour k in demo and episode (the appendix's "by colour/shape").
"""

from __future__ import annotations

import torch
from torch import nn

from oneshot_ros.errors import InputError
from oneshot_ros.particle import VARIANTS
from oneshot_ros.particle.world import MAX_LANDMARKS
from oneshot_ros.policy.attention import masked_softmax


def mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                         nn.ReLU(), nn.Linear(hidden, n_out))


def with_mask(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, ..., D) + (N, L) mask -> (N, ..., D + L): the network knows which slots are real."""
    shape = (*x.shape[:-1], mask.shape[-1])
    expanded = mask.reshape(mask.shape[0], *[1] * (x.dim() - 2), -1).expand(shape)
    return torch.cat([x, expanded.to(x.dtype)], dim=-1)


class ParticlePolicy(nn.Module):
    def __init__(self, variant: str, hidden: int = 64):
        super().__init__()
        if variant not in VARIANTS:
            raise InputError(f"variant {variant!r}: use one of {VARIANTS}")
        self.variant = variant
        d_in = 2 + 3 * MAX_LANDMARKS  # obs (2 + 2L) + mask (L)
        if variant == "final_state_attention":
            self.weights_net = mlp(d_in, hidden, MAX_LANDMARKS)
        else:
            self.lstm = nn.LSTM(d_in, hidden, batch_first=True)
            self.weights_net = nn.Linear(hidden, MAX_LANDMARKS)
        act_in = d_in + hidden if variant == "plain_lstm" else 4  # attention: target + own pos
        self.action_net = mlp(act_in, hidden, 2)

    def embed_demo(self, demo: torch.Tensor, demo_len: torch.Tensor,
                   mask: torch.Tensor) -> torch.Tensor:
        """demo (N, T, D), demo_len (N,), mask (N, L) -> LSTM output (N, H) or weights (N, L)."""
        rows = torch.arange(len(demo))
        if self.variant == "final_state_attention":
            final = with_mask(demo[rows, demo_len - 1], mask)  # (N, D + L)
            return masked_softmax(self.weights_net(final), mask, dim=-1)  # (N, L)
        out, _ = self.lstm(with_mask(demo, mask))  # (N, T, H)
        last = out[rows, demo_len - 1]  # (N, H)
        if self.variant == "plain_lstm":
            return last
        return masked_softmax(self.weights_net(last), mask, dim=-1)  # (N, L)

    def act(self, embedding: torch.Tensor, obs: torch.Tensor, mask: torch.Tensor):
        """embedding from embed_demo, obs (N, M, D) -> displacement / max_step (N, M, 2)."""
        if self.variant == "plain_lstm":
            m = obs.shape[1]
            x = torch.cat([with_mask(obs, mask), embedding[:, None].expand(-1, m, -1)], -1)
            return self.action_net(x)
        relative = obs[..., 2:].unflatten(-1, (MAX_LANDMARKS, 2))  # (N, M, L, 2)
        target = torch.einsum("nl,nmlc->nmc", embedding, relative)  # (N, M, 2) attended
        return self.action_net(torch.cat([target, obs[..., :2]], dim=-1))

    def forward(self, demo, demo_len, mask, obs):
        return self.act(self.embed_demo(demo, demo_len, mask), obs, mask)
