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
from oneshot_ros.errors import InputError
from oneshot_ros.policy.demo_network import snapshot_marks
from oneshot_ros.train.distributed import unwrap


class TrainingDivergedError(InputError):
    """A non-finite loss or gradient: refused before the optimizer changes any weight."""


def bc_loss(model: nn.Module, batch: dict[str, torch.Tensor],
            stage_attention_weight: float = 0.0) -> torch.Tensor:
    """Mean summed cross-entropy (or L2) over the real (obs, action) pairs of the batch, plus
    stage_attention_weight x the stage-attention loss (snapshot variant only)."""
    logits, attention = model(batch)  # (N, M, A); temporal dropout is drawn inside
    mask = batch.get(keys.ACTION_MASK)
    loss = unwrap(model).head.loss(logits, batch[keys.ACTION], mask)
    if stage_attention_weight:
        nll, _ = stage_attention(attention["temporal"], batch)  # (N, M)
        loss = loss + stage_attention_weight * _masked_mean(nll, mask)
    return loss


def stage_attention(temporal: torch.Tensor, batch: dict[str, torch.Tensor]):
    """Where the snapshot policy looks, against the stage each observation is in.

    temporal (N, M, t_lstm, T~, H): the context network's weights over the demo's snapshots
    (stage ends in time order, then the final frame). The label of an observation in stage k is
    snapshot k, the frame showing that stage done; past the last stage, the final frame. Only
    the last context step's first head is supervised: the other head and the earlier steps stay
    free. -> nll (N, M), hit (N, M) bool (that snapshot has the largest weight).
    """
    n_snapshots = snapshot_marks(batch[keys.DEMO_MASK], batch[keys.DEMO_STAGE_END]).sum(1)
    target = torch.minimum(batch[keys.OBS_STAGE], n_snapshots[:, None] - 1)  # (N, M)
    weights = temporal[:, :, -1, :, 0]  # (N, M, T~)
    picked = weights.gather(-1, target[..., None]).squeeze(-1)  # (N, M)
    return -torch.log(picked.clamp_min(1e-8)), weights.argmax(dim=-1) == target


def _masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of x (N, M) over the real pairs (mask None: all)."""
    if mask is None:
        return x.mean()
    weight = mask.to(x.dtype)
    return (x * weight).sum() / weight.sum().clamp(min=1.0)


def bc_step(model: nn.Module, optimizer: torch.optim.Optimizer,
            batch: dict[str, torch.Tensor], max_grad_norm: float | None = None,
            stage_attention_weight: float = 0.0) -> dict:
    """One optimizer step on `batch` -> {"loss": float, "grad_norm": float}.

    Raises TrainingDivergedError, with the weights untouched, when the loss or the gradient is
    NaN or inf: one such step makes every weight NaN, and training on would only hide it.
    """
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss = bc_loss(model, batch, stage_attention_weight)
    loss.backward()  # also with a NaN loss: DDP's ranks must all reach the gradient all-reduce
    norm = max_grad_norm if max_grad_norm is not None else float("inf")
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), norm)
    check_finite({"loss": loss, "gradient norm": grad_norm})
    optimizer.step()
    return {"loss": float(loss.detach()), "grad_norm": float(grad_norm)}


def check_finite(values: dict[str, torch.Tensor]) -> None:
    for name, value in values.items():
        if not bool(torch.isfinite(value.detach()).all()):
            raise TrainingDivergedError(f"the {name} is {float(value.detach().max())}")


@torch.no_grad()
def eval_metrics(model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, float]:
    """Validation on held-out demos (temporal dropout still applies, as at test time).

    loss: the training loss (not comparable across action heads);
    move_err_mm: mean |greedy action - expert action| over dx, dy, dz, in mm (comparable
    across heads: the categorical and L2 heads are judged by the same number);
    grip_acc: fraction of steps with the expert's open/close command;
    stage_attn_nll, stage_attn_acc (snapshot variant, batches with OBS_STAGE): see
    stage_attention, reported also when that loss is off.
    """
    model.eval()
    logits, attention = model(batch)  # (N, M, A)
    head = unwrap(model).head
    action, mask = batch[keys.ACTION], batch.get(keys.ACTION_MASK)  # (N, M, 4), (N, M)
    decoded = head.decode(head.distribution(logits))  # (N, M, 4)
    target = action[..., :3].clamp(-head.max_step_m, head.max_step_m)
    move_err = (decoded[..., :3] - target).abs().mean(-1)  # (N, M), m
    grip_ok = ((decoded[..., 3] > 0) == (action[..., 3] > 0)).to(move_err.dtype)  # (N, M)
    metrics = {"loss": float(head.loss(logits, action, mask)),
               "move_err_mm": float(1000.0 * _masked_mean(move_err, mask)),
               "grip_acc": float(_masked_mean(grip_ok, mask))}
    if unwrap(model).config.variant == "snapshot" and keys.OBS_STAGE in batch:
        nll, hit = stage_attention(attention["temporal"], batch)
        metrics["stage_attn_nll"] = float(_masked_mean(nll, mask))
        metrics["stage_attn_acc"] = float(_masked_mean(hit.to(nll.dtype), mask))
    return metrics


def make_optimizer(model: nn.Module, lr: float = 1e-3) -> torch.optim.Optimizer:
    """Duan et al. §3.3: Adamax, learning rate 0.001."""
    return torch.optim.Adamax(model.parameters(), lr=lr)
