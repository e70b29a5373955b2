"""Soft attention and neighborhood attention (Duan et al. 2017, §4.1).

Soft attention with H heads (how heads differ is our choice, docs/design.md): head h has its own
query projection W_h (D x D) and score vector v_h; contexts are shared:
    w_{h,i} = v_h^T tanh(W_h q + c_i),   out_h = sum_i softmax_i(w_h)_i m_i
Masked keys get a score of -inf before the softmax, so padded blocks/steps never contribute.

Speed: the scores use the identity tanh(x) = 2 sigmoid(2x) - 1. On CPU torch's sigmoid is
vectorised and ~10x faster than its tanh (0.3 vs 3.4 ms for 640k floats, one thread), and the
(N, M, T~, B, H, D) score tensor dominates the cost of the context network in training.
`Imitator.act` runs the same function through policy/inference.py (fused, per-demo caches).
"""

from __future__ import annotations

import torch
from torch import nn

from oneshot_ros.policy.weight_norm import linear


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None, dim: int) -> torch.Tensor:
    """Softmax over `dim` with masked-out entries (mask False) set to -inf first."""
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=dim)


_compiled_scores = None  # torch.compile'd _additive_scores, made once on first use
_use_compiled = False  # see use_compiled_scores()


def use_compiled_scores(enabled: bool = True) -> None:
    """Route additive_scores through torch.compile while gradients are on (training).

    The eager version writes the (..., H, D) sigmoid tensor and several temporaries of that size
    to memory (~85% of a CPU training step); the compiled kernel fuses add, sigmoid, multiply
    and sum into one pass and recomputes in the backward (bench/bench_policy.py: ~2.5x
    samples/s). Same function, same weights; the first batches pay ~1-2 min of compilation.
    Inference (no grad: Imitator, evaluation) always stays eager.
    """
    global _compiled_scores, _use_compiled
    if enabled and _compiled_scores is None:
        _compiled_scores = torch.compile(_additive_scores, dynamic=True)
    _use_compiled = bool(enabled)


def additive_scores(query: torch.Tensor, context: torch.Tensor,
                    score: torch.Tensor) -> torch.Tensor:
    """v_h^T tanh(q + c): query, context broadcast to (..., H, D), score v (H, D) -> (..., H)."""
    if _use_compiled and torch.is_grad_enabled():
        return _compiled_scores(query, context, score)
    return _additive_scores(query, context, score)


def _additive_scores(query: torch.Tensor, context: torch.Tensor,
                     score: torch.Tensor) -> torch.Tensor:
    """The eager implementation of additive_scores."""
    hidden = (2.0 * query + 2.0 * context).sigmoid_()  # (..., H, D) = (tanh(q + c) + 1) / 2
    # Multiply-and-sum, not a matmul with a block-diagonal (H*D, H) matrix: on CPU the matmul's
    # backward is a skinny (H*D x L) @ (L x H) product that ran 5x slower than this (training
    # step 1.33x faster with 1 thread).
    return (hidden * (2.0 * score)).sum(-1) - score.sum(-1)  # 2 v.sigmoid(2x) - sum(v)


class SoftAttention(nn.Module):
    """H-head additive attention; queries, contexts of width D; memories of any width."""

    def __init__(self, dim: int, n_heads: int, weight_norm: bool = True):
        super().__init__()
        self.dim, self.n_heads = dim, n_heads
        self.query_proj = linear(dim, n_heads * dim, weight_norm, bias=False)  # W_1..W_H stacked
        self.score = nn.Parameter(torch.randn(n_heads, dim) / dim**0.5)  # v_h, no weight norm

    def project_query(self, query: torch.Tensor) -> torch.Tensor:
        """(..., Q, D) -> W_h q: (..., Q, H, D)."""
        return self.query_proj(query).unflatten(-1, (self.n_heads, self.dim))

    def weights(self, query: torch.Tensor, context: torch.Tensor,
                key_mask: torch.Tensor | None) -> torch.Tensor:
        """query (..., Q, D), context (..., K, D), key_mask (..., K) -> weights (..., Q, K, H)."""
        wq = self.project_query(query).unsqueeze(-3)  # (..., Q, 1, H, D)
        context = context.unsqueeze(-3).unsqueeze(-2)  # (..., 1, K, 1, D)
        scores = additive_scores(wq, context, self.score)  # (..., Q, K, H)
        mask = None if key_mask is None else key_mask.unsqueeze(-2).unsqueeze(-1)  # (.., 1,K,1)
        return masked_softmax(scores, mask, dim=-2)

    @staticmethod
    def read(weights: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """weights (..., Q, K, H), memory (..., K, M) -> (..., Q, H, M)."""
        return torch.einsum("...qkh,...km->...qhm", weights, memory)

    def forward(self, query, context, memory, key_mask=None):
        """-> output (..., Q, H, M), weights (..., Q, K, H)."""
        weights = self.weights(query, context, key_mask)
        return self.read(weights, memory), weights


class NeighborhoodAttention(nn.Module):
    """Every block attends over all blocks (itself included) at the same time step (§4.1).

    q_i = Linear(h_i), c_i = Linear(h_i) (separate layers), memory m_j = [xyz_j, h_j] (D+3);
    result_i = SoftAttention(q_i, {c_j}, {m_j}) in R^(H(D+3)).
    """

    def __init__(self, dim: int, n_heads: int, weight_norm: bool = True):
        super().__init__()
        self.query = linear(dim, dim, weight_norm)
        self.context = linear(dim, dim, weight_norm)
        self.attention = SoftAttention(dim, n_heads, weight_norm)

    def forward(self, h: torch.Tensor, positions: torch.Tensor,
                block_mask: torch.Tensor) -> torch.Tensor:
        """h (..., B, D), positions (..., B, 3), block_mask (..., B) -> (..., B, H(D+3))."""
        memory = torch.cat([positions, h], dim=-1)  # (..., B, D+3)
        out, _ = self.attention(self.query(h), self.context(h), memory, block_mask)
        return out.flatten(-2)  # (..., B, H(D+3))
