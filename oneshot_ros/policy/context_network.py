"""Context network (Duan et al. 2017, §4.2, Module 2): demo embedding + state -> 14-dim context.

Blocks are the LSTM batch. For t = 1..t_lstm, with x = output (ReLU(output) for t > 1):
  temporal attention: every block's query attends over demo steps; the scores of the real blocks
    within a step are summed into one score per step (per head), softmax over steps -> B x HD;
  spatial attention: each block attends over all blocks, memory [xyz, temp] -> B x H(HD+3);
  one step of LSTM cell t (untied) on [robot_state, block_state, spatial, temp] (B x 395).
Then 2 trainable queries x H heads attend over blocks (context = LSTM output, memory = current
block xyz) -> [gripper state, 12 numbers] = 14 dims (Duan et al. Module 2).

Step 1 does not depend on the current state (output, h, c start at zero, so its queries are
constant): `prepare` computes its attention weights once per demo and `forward` reuses them, in
training (shared over the M observations of a task) and in the Imitator (once per episode).
Shapes: state-side tensors are (N, M, B, .), demo-side tensors (N, 1, T~, B, D).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from oneshot_ros.policy.attention import SoftAttention, additive_scores, masked_softmax
from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.policy.demo_network import DemoEmbedding, split_obs
from oneshot_ros.policy.weight_norm import linear

# The LSTM input of every context step, in column order (lstm_input):
#   robot (2) | block xyz (3) | spatial read, per head: [block xyz (3), temp (HD)] | temp (HD)
# PolicyConfig.lstm_input_dim is its width; FastPolicy (policy/inference.py) reads the
# state-dependent columns from state_input_columns.
ROBOT_STATE_DIM, BLOCK_STATE_DIM = 2, 3


def lstm_input(robot_state, block_state, spatial, temp) -> torch.Tensor:
    """(..., 2), (..., 3), (..., H(3+HD)), (..., HD) -> the LSTM input (..., 395)."""
    return torch.cat([robot_state, block_state, spatial, temp], dim=-1)


def spatial_memory(block_state, temp) -> torch.Tensor:
    """What the spatial attention reads of every block: [xyz (3), temp (HD)]."""
    return torch.cat([block_state, temp], dim=-1)


def state_input_columns(n_heads: int, embed_dim: int) -> torch.Tensor:
    """Columns of the LSTM input that depend on the current state: robot state, block xyz and,
    per head, the spatial read's block xyz: (5 + 3H,) indices, in that order."""
    own = ROBOT_STATE_DIM + BLOCK_STATE_DIM
    per_head = BLOCK_STATE_DIM + n_heads * embed_dim  # one head's read of spatial_memory
    reads = [own + h * per_head + k for h in range(n_heads) for k in range(BLOCK_STATE_DIM)]
    return torch.tensor([*range(own), *reads])


@dataclass
class ContextCache:
    """Per-demo, state-independent pieces of the context network."""

    h: torch.Tensor  # (N, 1, T~, B, D) demo embedding
    time_mask: torch.Tensor  # (N, 1, T~) bool
    block_mask: torch.Tensor  # (N, 1, B) bool
    temp1: torch.Tensor  # (N, 1, B, HD) step-1 temporal attention result
    temporal1: torch.Tensor  # (N, 1, T~, H) step-1 weights over demo steps
    spatial1: torch.Tensor  # (N, 1, B, B, H) step-1 spatial attention weights


class ContextStep(nn.Module):
    """Temporal attention, spatial attention and one LSTM cell: one of t_lstm untied steps."""

    def __init__(self, config: PolicyConfig):
        super().__init__()
        d, heads, wn = config.embed_dim, config.n_heads, config.weight_norm
        self.temporal_query = linear(d, d, wn)
        self.temporal = SoftAttention(d, heads, wn)
        self.spatial_context = linear(d + heads * d, d, wn)
        self.spatial_query = linear(d + heads * d, d, wn)
        self.spatial = SoftAttention(d, heads, wn)
        self.cell = nn.LSTMCell(config.lstm_input_dim, d)

    def temporal_attention(self, x, h, time_mask, block_mask):
        """x (N, M, B, D), h (N, 1, T~, B, D) -> temp (N, M, B, HD), weights (N, M, T~, H)."""
        wq = self.temporal.project_query(self.temporal_query(x))  # (N, M, B, H, D)
        # w = v_h^T tanh(W_h q_b + h[t, b]) for every step t and block b
        scores = additive_scores(wq.unsqueeze(2), h.unsqueeze(-2), self.temporal.score)
        # (N, M, T~, B, H) -> one score per step: sum over the real blocks (docs/design.md)
        scores = (scores * block_mask[:, :, None, :, None]).sum(dim=3)  # (N, M, T~, H)
        weights = masked_softmax(scores, time_mask[..., None], dim=2)  # (N, M, T~, H)
        temp = torch.einsum("nmth,nztbd->nmbhd", weights, h)  # (N, M, B, H, D)
        return temp.flatten(-2), weights

    def spatial_weights(self, x, temp, block_mask):
        """x (N, M, B, D), temp (N, M, B, HD) -> weights (N, M, B, B, H)."""
        x2 = torch.cat([x, temp], dim=-1)  # (N, M, B, D + HD)
        return self.spatial.weights(self.spatial_query(x2), self.spatial_context(x2), block_mask)

    def lstm(self, spatial_w, temp, block_state, robot_state, state):
        """One LSTM step for every block of every observation -> (h, c), each (N, M, B, D)."""
        memory = spatial_memory(block_state, temp.expand(*block_state.shape[:-1], -1))
        spatial = SoftAttention.read(spatial_w, memory).flatten(-2)  # (N, M, B, H(HD+3))
        inputs = lstm_input(robot_state, block_state, spatial,
                            temp.expand(*spatial.shape[:-1], -1))  # (N, M, B, 395)
        lead = inputs.shape[:-1]
        flat_state = None if state is None else tuple(s.reshape(-1, s.shape[-1]) for s in state)
        h, c = self.cell(inputs.reshape(-1, inputs.shape[-1]), flat_state)  # (N*M*B, D)
        return h.view(*lead, -1), c.view(*lead, -1)


class ContextNetwork(nn.Module):
    def __init__(self, config: PolicyConfig):
        super().__init__()
        self.config = config
        self.steps = nn.ModuleList(ContextStep(config) for _ in range(config.lstm_steps))
        self.final_queries = nn.Parameter(torch.randn(2, config.embed_dim))  # source, target
        self.final = SoftAttention(config.embed_dim, config.n_heads, config.weight_norm)

    def prepare(self, demo: DemoEmbedding, block_mask: torch.Tensor) -> ContextCache:
        """The state-independent step 1 (output = 0) for each demo: N demos -> ContextCache."""
        h, time_mask, block_mask = demo.h[:, None], demo.time_mask[:, None], block_mask[:, None]
        n, _, _, b, d = h.shape
        step = self.steps[0]
        x = h.new_zeros(n, 1, b, d)  # (N, 1, B, D) initial output
        temp, temporal_w = step.temporal_attention(x, h, time_mask, block_mask)
        spatial_w = step.spatial_weights(x, temp, block_mask)
        return ContextCache(h, time_mask, block_mask, temp, temporal_w, spatial_w)

    def forward(self, cache: ContextCache, obs: torch.Tensor):
        """obs (N, M, 3B+2) -> context embedding (N, M, 14), attention dict.

        attention: "temporal" (N, M, t_lstm, T~, H) weights over kept demo steps,
                   "block" (N, M, 2, B, H) final-attention weights over blocks.
        """
        block_state, gripper = split_obs(obs)  # (N, M, B, 3), (N, M, 2)
        robot_state = gripper.unsqueeze(2).expand_as(block_state[..., :2])  # (N, M, B, 2)
        # LSTM inputs see the state scaled (config.state_scale); the final read stays in metres
        lstm_blocks, lstm_robot = (self.config.state_scale * x for x in (block_state, robot_state))
        state = self.steps[0].lstm(cache.spatial1, cache.temp1, lstm_blocks, lstm_robot, None)
        temporal = [cache.temporal1.expand(-1, obs.shape[1], -1, -1)]
        for step in self.steps[1:]:
            x = F.relu(state[0])  # (N, M, B, D)
            temp, temporal_w = step.temporal_attention(x, cache.h, cache.time_mask,
                                                       cache.block_mask)
            spatial_w = step.spatial_weights(x, temp, cache.block_mask)
            state = step.lstm(spatial_w, temp, lstm_blocks, lstm_robot, state)
            temporal.append(temporal_w)
        # final attention: raw LSTM output as context, current block xyz as memory
        read, block_w = self.final(self.final_queries, state[0], block_state, cache.block_mask)
        embedding = torch.cat([gripper, read.flatten(-3)], dim=-1)  # (N, M, 2 + 2*H*3)
        attention = {"temporal": torch.stack(temporal, dim=2),  # (N, M, t_lstm, T~, H)
                     "block": block_w}  # (N, M, 2, B, H)
        return embedding, attention
