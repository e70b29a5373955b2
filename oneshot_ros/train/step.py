"""One behavioral-cloning step (Duan et al. §3.3), shared by train/bc.py, DAgger and tests.

The batch follows data/batch.py: N tasks, each with one conditioning demo (embedded once) and M
(observation, expert action) pairs from another demo of the same task. The loss is computed from
the wrapped module's forward (so DistributedDataParallel's gradient hooks fire) with the
unwrapped policy's action head.
"""

from __future__ import annotations

import torch
from torch import nn

from oneshot_ros.data import batch as keys
from oneshot_ros.train.distributed import unwrap


def bc_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean summed cross-entropy (or L2) over the real (obs, action) pairs of the batch."""
    logits, _ = model(batch)  # (N, M, A); temporal dropout is drawn inside
    return unwrap(model).head.loss(logits, batch[keys.ACTION], batch.get(keys.ACTION_MASK))


def bc_step(model: nn.Module, optimizer: torch.optim.Optimizer,
            batch: dict[str, torch.Tensor], max_grad_norm: float | None = None) -> dict:
    """One optimizer step on `batch` -> {"loss": float, "grad_norm": float}."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss = bc_loss(model, batch)
    loss.backward()
    norm = max_grad_norm if max_grad_norm is not None else float("inf")
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), norm)
    optimizer.step()
    return {"loss": float(loss.detach()), "grad_norm": float(grad_norm)}


@torch.no_grad()
def eval_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> float:
    """Validation loss on held-out demos (temporal dropout still applies, as at test time)."""
    model.eval()
    return float(bc_loss(model, batch))


def make_optimizer(model: nn.Module, lr: float = 1e-3) -> torch.optim.Optimizer:
    """Duan et al. §3.3: Adamax, learning rate 0.001."""
    return torch.optim.Adamax(model.parameters(), lr=lr)
