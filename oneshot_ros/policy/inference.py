"""Inference-only path of the context and manipulation networks, used by `Imitator.act`.

`ContextNetwork.forward` runs ~1400 small torch ops per act, so per-op overhead dominated its
latency. `FastPolicy` computes the SAME function (up to float rounding: 1e-9 in float64, 1e-5 in
float32, test/test_policy_inference.py) for one observation per demo with ~150 ops:

- Per demo (`prepare`), all state-independent work: step 1 of the context network (from
  `ContextNetwork.prepare`, so identical to training) and its LSTM gates except the few
  state-dependent input columns (robot state, block xyz and the xyz read of the step-1 spatial
  attention): h1 = 0 and c1 = 0, so step 1 reduces to gates = const + W_state [state inputs];
  also 2h (the demo contexts of the temporal scores) and block-masked score vectors.
- Per model (`__init__`), fused weights: a query Linear followed by the per-head projection W_h
  is one map (W_h W_q), the spatial query and context are one matmul, W_ih and W_hh of each LSTM
  cell one matmul on [input, h] (cell-gate rows scaled by -2, so one sigmoid serves all gates),
  the final queries' projections are constants; the 2 of tanh(x) = 2 sigmoid(2x) - 1 is folded
  into the weights.
- Scores drop the constant -sum(v) of `attention.additive_scores`: a softmax is shift-invariant.
- Layouts put heads before keys: temporal (H, N, T~, B, D), spatial (N, Q, H, K, D), so the
  broadcasts run over long contiguous rows and the reads need no permuted copy.
- The large float32 matmuls (LSTM cells and spatial queries at ensemble 10) run through oneDNN
  with their weights packed once (`PackedLinear`): 1.2x on act at ensemble 10 with the shipped
  weights (bench/README.md); smaller products (ensemble 1), float64 and builds without oneDNN
  use addmm.

Measured on the shipped weights and removed for gaining nothing (bench/README.md): tanh(c) as
2 sigmoid(2c) - 1, block softmaxes as exp / sum, and scores as v / (1 + exp(-q) exp(-c)) under
static bounds (which trained weights do not meet).

The weights are a snapshot: build a new FastPolicy after the model's weights change.
Shapes: N demos (ensemble members), one observation each; B blocks; T~ kept demo steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from oneshot_ros.policy.context_network import lstm_input, spatial_memory, state_input_columns
from oneshot_ros.policy.demo_network import DemoEmbedding, split_obs
from oneshot_ros.policy.modeling import OneShotPolicy


@dataclass
class DemoPlan:
    """Per-demo constants for `FastPolicy.logits`."""

    h_flat: torch.Tensor  # (N, T~, B*D) demo embedding
    h2: torch.Tensor  # (1, N, T~, B, D) 2h, the temporal-score contexts
    time_pad: torch.Tensor | None  # (1, N, T~) True = padded step; None when there is none
    block_pad: torch.Tensor | None  # (N, B) True = padded block; None when there is none
    temporal_v: list[torch.Tensor]  # per step >= 2: (H, N, 1, B, D) 2v_h x block mask
    temporal1: torch.Tensor  # (N, T~, H) step-1 weights over demo steps
    spatial1: torch.Tensor  # (N, B*H, B) step-1 spatial weights (query, head) x key
    gates1: torch.Tensor  # (N*B, 4D) step-1 LSTM gates without the state-dependent columns


# Below this many multiply-adds per product addmm is as fast or faster than oneDNN's call
# (bench_policy.py A/B on the shipped weights): only ensemble 10's cell and spatial products pack.
PACKED_MIN_MACS = 2_000_000


class PackedLinear:
    """x @ weight + bias for a fixed weight (in, out): oneDNN with the weight packed once when
    available for float32 and the product is large enough (PACKED_MIN_MACS), else torch.addmm
    (float64, small products, other builds)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        self.weight = weight  # (in, out)
        self.bias = weight.new_zeros(weight.shape[1]) if bias is None else bias  # (out,)
        self.packed = _pack(weight, self.bias)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (R, in) contiguous -> (R, out)"""
        if self.packed is not None and x.shape[0] * self.weight.numel() >= PACKED_MIN_MACS:
            return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")
        return torch.addmm(self.bias, x, self.weight)


def _pack(weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor | None:
    """oneDNN's packed form of weight (in, out), or None where it is unavailable or disagrees
    with addmm on a probe (torch.ops.mkldnn is private: a build without it uses addmm)."""
    if weight.dtype != torch.float32 or weight.device.type != "cpu" or \
            not torch.backends.mkldnn.is_available():
        return None
    try:
        packed = torch.ops.mkldnn._reorder_linear_weight(weight.t().contiguous(), None)
        probe = torch.linspace(-1.0, 1.0, 3 * weight.shape[0]).view(3, -1)
        out = torch.ops.mkldnn._linear_pointwise(probe, packed, bias, "none", [], "")
        expected = torch.addmm(bias, probe, weight)
    except (RuntimeError, AttributeError, NotImplementedError):
        return None
    scale = float(expected.abs().max()) + 1.0
    return packed if float((out - expected).abs().max()) <= 1e-4 * scale else None


def _linear(layer) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A (weight-normed or plain) Linear -> its effective weight (out, in), bias (out,)."""
    bias = None if layer.bias is None else layer.bias.detach().clone()
    return layer.weight.detach().clone(), bias


class FastPolicy:
    """Weights of a OneShotPolicy rearranged for fast batched inference (no autograd)."""

    @torch.no_grad()
    def __init__(self, model: OneShotPolicy):
        config = model.config
        self.dim, self.n_heads = config.embed_dim, config.n_heads
        self.context_net = model.context_net  # step 1, exactly as in training
        steps = model.context_net.steps
        self.temporal_v = [2.0 * s.temporal.score.detach().clone() for s in steps]  # (H, D)
        self.temporal_query = [self._fused_query(s.temporal_query, s.temporal) for s in steps]
        self.spatial = [self._spatial_weights(s) for s in steps]
        self.spatial_v = [2.0 * s.spatial.score.detach()[:, None].clone() for s in steps]
        self.cells = [self._cell_weights(s.cell) for s in steps]
        for weight, _ in self.cells:  # config.state_scale folded into the state-input rows
            weight[self._state_columns()] *= config.state_scale
        self.state_weight = self.cells[0][0][self._state_columns()]  # (5+3H, 4D) step-1 rows
        final = model.context_net.final
        self.final_query = 2.0 * final.project_query(model.context_net.final_queries)[..., None, :]
        self.final_v = 2.0 * final.score.detach()[:, None].clone()  # (H, 1, D)
        self.mlp = [(weight.t(), bias) for weight, bias in
                    (_linear(layer) for layer in (*model.manipulation_net.hidden,
                                                  model.manipulation_net.out))]  # (in, out)
        self.cell_linear = [PackedLinear(*cell) for cell in self.cells]  # steps >= 2 use them
        self.spatial_linear = [PackedLinear(*weights) for weights in self.spatial]

    def _fused_query(self, query_layer, attention) -> tuple[torch.Tensor, torch.Tensor]:
        """2 W_h (W_q x + b_q) as one per-head map: weight (H, D, D) for x @ W, bias (H, 1, D)."""
        w_q, b_q = _linear(query_layer)  # (D, D), (D,)
        w_h, _ = _linear(attention.query_proj)  # (HD, D)
        weight = (2.0 * w_h @ w_q).view(self.n_heads, self.dim, -1).transpose(1, 2)  # (H,D,D)
        bias = (2.0 * w_h @ b_q).view(self.n_heads, 1, self.dim)  # (H, 1, D)
        return weight.contiguous(), bias

    def _spatial_weights(self, step) -> tuple[torch.Tensor, torch.Tensor]:
        """[2 W_h W_sq; 2 W_sc] on x2 = [x, temp]: weight (D+HD, HD+D) for x2 @ W, bias."""
        w_q, b_q = _linear(step.spatial_query)  # (D, D+HD), (D,)
        w_h, _ = _linear(step.spatial.query_proj)  # (HD, D)
        w_c, b_c = _linear(step.spatial_context)  # (D, D+HD), (D,)
        weight = torch.cat([2.0 * w_h @ w_q, 2.0 * w_c])  # (HD+D, D+HD)
        return weight.t().contiguous(), torch.cat([2.0 * w_h @ b_q, 2.0 * b_c])

    @staticmethod
    def _cell_weights(cell) -> tuple[torch.Tensor, torch.Tensor]:
        """LSTMCell -> weight (in+D, 4D) for [input, h] @ W, bias b_ih + b_hh (4D,).

        The cell-gate rows are scaled by -2 so that one sigmoid serves all four gates:
        tanh(g) = 1 - 2 sigmoid(-2g) (see _lstm_pointwise).
        """
        scale = cell.weight_ih.new_ones(4, cell.hidden_size)
        scale[2] = -2.0  # gate order (i, f, g, o)
        scale = scale.flatten()  # (4D,)
        weight = torch.cat([cell.weight_ih, cell.weight_hh], dim=1) * scale[:, None]
        return weight.t().contiguous(), (cell.bias_ih + cell.bias_hh) * scale

    def _state_columns(self) -> torch.Tensor:
        """Indices of [robot(2), block xyz(3), per head: read xyz(3)] in the LSTM input, as the
        context network lays it out."""
        return state_input_columns(self.n_heads, self.dim)

    @torch.no_grad()
    def prepare(self, demo: DemoEmbedding, block_mask: torch.Tensor) -> DemoPlan:
        """demo (N, T~, B, D) embeddings, block_mask (N, B) -> DemoPlan (once per demo)."""
        cache = self.context_net.prepare(demo, block_mask)  # step 1, state-independent
        n, t, b, d = demo.h.shape
        mask = block_mask.to(demo.h.dtype)[None, :, None, :, None]  # (1, N, 1, B, 1)
        temporal_v = [v[:, None, None, None, :] * mask for v in self.temporal_v[1:]]
        spatial1 = cache.spatial1[:, 0].permute(0, 1, 3, 2).reshape(n, b * self.n_heads, b)
        return DemoPlan(
            h_flat=demo.h.reshape(n, t, b * d), h2=2.0 * demo.h[None],  # (1, N, T~, B, D)
            time_pad=None if demo.time_mask.all() else ~demo.time_mask[None],
            block_pad=None if block_mask.all() else ~block_mask,
            temporal_v=temporal_v, temporal1=cache.temporal1[:, 0], spatial1=spatial1,
            gates1=self._step1_gates(cache))

    def _step1_gates(self, cache) -> torch.Tensor:
        """The step-1 LSTM gates with every state-dependent input column set to 0: (N*B, 4D)."""
        n, _, b, _ = cache.temp1.shape
        zeros = cache.temp1.new_zeros(n, 1, b, 3)  # (N, 1, B, 3) stand-in state
        memory = spatial_memory(zeros, cache.temp1)  # (N, 1, B, 3+HD)
        spatial = torch.einsum("nmqkh,nmkc->nmqhc", cache.spatial1, memory).flatten(-2)
        inputs = lstm_input(zeros[..., :2], zeros, spatial, cache.temp1)  # (N, 1, B, 395)
        weight, bias = self.cells[0]
        return torch.addmm(bias, inputs.reshape(n * b, -1), weight[:inputs.shape[-1]])

    @torch.no_grad()
    def logits(self, plan: DemoPlan, obs: torch.Tensor):
        """obs (N, 3B+2), one per demo -> logits (N, A), attention dict.

        attention: "temporal" (N, t_lstm, T~, H), "block" (N, 2, B, H): as ContextNetwork's
        with the M axis dropped.
        """
        block_state, gripper = split_obs(obs)  # (N, B, 3), (N, 2)
        n, b, _ = block_state.shape
        robot = gripper[:, None].expand(n, b, 2)  # (N, B, 2)
        reads = torch.bmm(plan.spatial1, block_state).view(n, b, -1)  # (N, B, H*3)
        state_in = torch.cat([robot, block_state, reads], dim=-1).view(n * b, -1)  # (N*B, 5+3H)
        h, c = _lstm_pointwise(torch.addmm(plan.gates1, state_in, self.state_weight), None)
        temporal = [plan.temporal1]
        for k in range(1, len(self.cells)):
            x = F.relu(h)  # (N*B, D)
            temp, weights = self._temporal(k, plan, x)  # (N, B, HD), (N, T~, H)
            spatial = self._spatial(k, plan, x.view(n, b, -1), temp, block_state)
            inputs = torch.cat([robot, block_state, spatial, temp, h.view(n, b, -1)], dim=-1)
            h, c = _lstm_pointwise(self.cell_linear[k](inputs.view(n * b, -1)), c)
            temporal.append(weights)
        read, block_w = self._final(plan, h.view(n, b, -1), block_state)  # (N, 2H*3)
        x = torch.cat([gripper, read], dim=-1)  # (N, 14) context embedding
        for weight, bias in self.mlp[:-1]:
            x = torch.addmm(bias, x, weight).relu_()  # (N, 256)
        logits = torch.addmm(self.mlp[-1][1], x, self.mlp[-1][0])  # (N, A)
        return logits, {"temporal": torch.stack(temporal, dim=1), "block": block_w}

    def _temporal(self, k: int, plan: DemoPlan, x: torch.Tensor):
        """x (N*B, D) -> temp (N, B, HD), weights (N, T~, H): scores summed over real blocks."""
        _, n, t, b, d = plan.h2.shape
        weight, bias = self.temporal_query[k]
        query = torch.baddbmm(bias, x.expand(self.n_heads, -1, -1), weight)  # (H, N*B, D)
        query = query.view(-1, n, 1, b, d)  # (H, N, 1, B, D) 2q
        # v sigmoid(2q + 2h): (H, N, T~, B, D), block mask folded into v
        weighted = torch.add(plan.h2, query).sigmoid_().mul_(plan.temporal_v[k - 1])
        scores = weighted.view(-1, n, t, b * d).sum(-1)  # (H, N, T~)
        if plan.time_pad is not None:
            scores = scores.masked_fill(plan.time_pad, float("-inf"))
        weights = scores.softmax(dim=-1)  # (H, N, T~)
        temp = torch.bmm(weights.transpose(0, 1), plan.h_flat)  # (N, H, B*D)
        temp = temp.view(n, -1, b, d).transpose(1, 2).reshape(n, b, -1)  # (N, B, HD)
        return temp, weights.permute(1, 2, 0)

    def _spatial(self, k, plan, x, temp, block_state) -> torch.Tensor:
        """x (N, B, D), temp (N, B, HD) -> spatial read (N, B, H(3+HD))."""
        n, b, d = x.shape
        x2 = torch.cat([x, temp], dim=-1).view(n * b, -1)  # (N*B, D+HD)
        qc = self.spatial_linear[k](x2)  # (N*B, HD+D) [2q, 2c]
        query = qc[:, :-d].reshape(n, b, self.n_heads, 1, d)  # (N, Q, H, 1, D)
        context = qc[:, -d:].reshape(n, 1, 1, b, d)  # (N, 1, 1, K, D)
        weighted = torch.add(query, context).sigmoid_().mul_(self.spatial_v[k])  # (N,Q,H,K,D)
        weights = _softmax_keys(weighted.sum(-1), plan.block_pad)  # (N, Q, H, K)
        memory = torch.cat([block_state, temp], dim=-1)  # (N, K, 3+HD)
        return _read(weights, memory).view(n, b, -1)

    def _final(self, plan, h, block_state):
        """h (N, B, D) LSTM output -> read (N, 2H*3), weights (N, 2, B, H)."""
        hidden = torch.add(self.final_query, h[:, None, None], alpha=2.0)  # (N, 2, H, B, D)
        scores = (hidden.sigmoid_() * self.final_v).sum(-1)  # (N, 2, H, B) = v.tanh + sum(v)
        weights = _softmax_keys(scores, plan.block_pad)
        return _read(weights, block_state).view(h.shape[0], -1), weights.transpose(2, 3)


def _softmax_keys(scores: torch.Tensor, block_pad: torch.Tensor | None) -> torch.Tensor:
    """scores (N, Q, H, K) -> softmax over the real keys K."""
    if block_pad is not None:
        scores = scores.masked_fill(block_pad[:, None, None], float("-inf"))
    return scores.softmax(dim=-1)


def _read(weights: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
    """weights (N, Q, H, K), memory (N, K, C) -> (N, Q*H, C), (query, head) major."""
    n, q, h, k = weights.shape
    return torch.bmm(weights.reshape(n, q * h, k), memory)


def _lstm_pointwise(gates: torch.Tensor, c: torch.Tensor | None):
    """nn.LSTMCell after its matmuls: gates (R, 4D) = (i, f, -2g, o) -> h, c (R, D)."""
    i, f, g_neg, o = gates.sigmoid().chunk(4, dim=1)  # g_neg = sigmoid(-2g)
    c_new = torch.addcmul(i, i, g_neg, value=-2.0)  # i tanh(g) = i (1 - 2 sigmoid(-2g))
    if c is not None:
        c_new = c_new.addcmul_(f, c)
    return o * c_new.tanh(), c_new
