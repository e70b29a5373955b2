"""Action head: expert actions <-> network outputs (our decision: docs/design.md, Action space).

"categorical": per axis of (dx, dy, dz) a categorical over K evenly spaced bins spanning
[-max_step_m, +max_step_m] (spacing 2 max / (K-1), K odd so 0 is a bin) and a 2-way gripper
categorical (class 0 = close, 1 = open): 3K + 2 logits. Targets are the nearest bin of the
clipped expert displacement; the loss is the sum of the four cross-entropies. Greedy decoding
takes each argmax (axes -> bin centre, gripper -> +1 open / -1 close). The ensemble averages each
categorical's probabilities over members before the argmax (Duan et al. Fig. 3).

"l2": 4 outputs regressing (dx, dy, dz) / max_step_m (clipped to [-1, 1]) and grip = +-1 with
a summed squared error; decoding clips and rescales; the ensemble averages the outputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from oneshot_ros.policy.configuration import DECODE_MODES, PolicyConfig
from oneshot_ros.world.robot import ActionLayout

CLOSE_CLASS, OPEN_CLASS = 0, 1


class ActionHead:
    def __init__(self, kind: str = "categorical", n_bins: int = 21,
                 max_step_m: float = ActionLayout.max_step_m):
        self.kind, self.n_bins, self.max_step_m = kind, n_bins, max_step_m
        self.spacing_m = 2.0 * max_step_m / (n_bins - 1)

    @classmethod
    def from_config(cls, config: PolicyConfig) -> ActionHead:
        return cls(config.action_head, config.n_bins, config.max_step_m)

    def bin_centres(self) -> torch.Tensor:
        """(K,) bin centres in m, from -max_step_m to +max_step_m."""
        return torch.linspace(-self.max_step_m, self.max_step_m, self.n_bins)

    def targets(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """action (..., 4) -> axis bins (..., 3) long, gripper class (...,) long."""
        move = action[..., ActionLayout.MOVE].clamp(-self.max_step_m, self.max_step_m)
        bins = torch.round((move + self.max_step_m) / self.spacing_m).long()  # nearest bin
        grip = (action[..., ActionLayout.GRIP] > 0).long()  # ActionLayout: > 0 opens
        return bins.clamp(0, self.n_bins - 1), grip

    def split_logits(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., 3K+2) -> axis logits (..., 3, K), gripper logits (..., 2)."""
        k3 = 3 * self.n_bins
        return logits[..., :k3].unflatten(-1, (3, self.n_bins)), logits[..., k3:]

    def loss(self, logits: torch.Tensor, action: torch.Tensor,
             mask: torch.Tensor | None = None) -> torch.Tensor:
        """logits (..., A), expert action (..., 4), mask (...) -> mean loss over real pairs."""
        per_pair = self._categorical_loss(logits, action) if self.kind == "categorical" \
            else self._l2_loss(logits, action)  # (...)
        if mask is None:
            return per_pair.mean()
        mask = mask.to(per_pair.dtype)
        return (per_pair * mask).sum() / mask.sum().clamp(min=1.0)

    def _categorical_loss(self, logits, action):
        axis_logits, grip_logits = self.split_logits(logits)  # (..., 3, K), (..., 2)
        bins, grip = self.targets(action)  # (..., 3), (...)
        axis_ce = F.cross_entropy(axis_logits.flatten(0, -2), bins.flatten(), reduction="none")
        grip_ce = F.cross_entropy(grip_logits.flatten(0, -2), grip.flatten(), reduction="none")
        return axis_ce.view(bins.shape).sum(-1) + grip_ce.view(grip.shape)  # sum of 4 CEs

    def _l2_loss(self, outputs, action):
        return ((outputs - self.l2_targets(action)) ** 2).sum(-1)

    def l2_targets(self, action: torch.Tensor) -> torch.Tensor:
        move = (action[..., ActionLayout.MOVE] / self.max_step_m).clamp(-1.0, 1.0)
        grip = torch.where(action[..., ActionLayout.GRIP:] > 0, 1.0, -1.0)
        return torch.cat([move, grip.to(move.dtype)], dim=-1)  # (..., 4)

    def distribution(self, logits: torch.Tensor) -> torch.Tensor:
        """(..., A) -> what the ensemble averages: probabilities (..., 3K+2) or outputs (...,4)."""
        if self.kind != "categorical":
            return logits
        axis_logits, grip_logits = self.split_logits(logits)
        return torch.cat([axis_logits.softmax(-1).flatten(-2), grip_logits.softmax(-1)], -1)

    def ensemble(self, distributions: torch.Tensor) -> torch.Tensor:
        """(E, ..., A) member distributions -> (..., A) averaged (probabilities or outputs)."""
        return distributions.mean(dim=0)

    def decode(self, distribution: torch.Tensor, mode: str = "argmax") -> torch.Tensor:
        """(..., A) distribution -> action (..., 4) in ActionLayout order.

        mode "argmax": each axis's most likely bin centre (the paper's greedy action);
        "mean": each axis's expected displacement under its categorical. Argmax snaps a
        spread-out distribution to one bin, so a small correction whose mass is shared by
        the 0 bin and its neighbours becomes exactly 0 (a dead zone near targets); the mean
        keeps it. The gripper is always the more likely class. L2 heads ignore `mode`.
        """
        if mode not in DECODE_MODES:
            raise ValueError(f"decode mode {mode!r}: use one of {DECODE_MODES}")
        if self.kind != "categorical":
            move = distribution[..., :3].clamp(-1.0, 1.0) * self.max_step_m
            grip = torch.where(distribution[..., 3:] > 0, ActionLayout.OPEN, ActionLayout.CLOSE)
            return torch.cat([move, grip.to(move.dtype)], dim=-1)
        axis_probs, grip_probs = self.split_logits(distribution)  # (..., 3, K), (..., 2)
        centres = self.bin_centres().to(distribution)  # (K,)
        if mode == "mean":
            move = (axis_probs * centres).sum(-1) / axis_probs.sum(-1)  # (..., 3)
        else:
            move = centres[axis_probs.argmax(-1)]  # (..., 3)
        is_open = grip_probs.argmax(-1, keepdim=True) == OPEN_CLASS  # (..., 1)
        grip = torch.where(is_open, ActionLayout.OPEN, ActionLayout.CLOSE).to(move.dtype)
        return torch.cat([move, grip], dim=-1)

    def describe(self) -> dict:
        return {"kind": self.kind, "n_bins": self.n_bins, "max_step_m": self.max_step_m,
                "bin_spacing_m": self.spacing_m,
                "gripper_classes": {"0": "close (-1)", "1": "open (+1)"}}
