"""Imitator: the runtime policy used by evaluation, the CLI and the ROS imitator node alike.

    imitator = Imitator.from_checkpoint("models/bc", ensemble=10, seed=0)
    imitator.set_demo(demo_obs)          # (T, 3B+2), once per episode
    action, attention = imitator.act(obs)  # (3B+2,) -> (4,) every control step

`act` raises NonFiniteActionError rather than return an action decoded from NaN/inf outputs.

`set_demo` embeds the demonstration ONCE per episode for every ensemble member, each with its own
temporal-dropout draw (Duan et al. Fig. 3: 10 downsampled copies), and precomputes everything
state-independent (policy/inference.py). `act` then runs only the state-dependent part for all
members as one batch, through FastPolicy (the training network's function with fused weights and
~100 instead of ~1400 torch ops), and averages their action distributions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from oneshot_ros.policy import checkpoint
from oneshot_ros.policy.configuration import DECODE_MODES
from oneshot_ros.policy.inference import DemoPlan, FastPolicy
from oneshot_ros.policy.modeling import OneShotPolicy
from oneshot_ros.policy.weight_norm import fold_weight_norm
from oneshot_ros.world.robot import ObsLayout


class NonFiniteActionError(ValueError):
    """The policy produced NaN or inf for this observation: no action may be taken from it."""


class Imitator:
    def __init__(self, model: OneShotPolicy, ensemble: int | None = None, seed: int = 0,
                 decoding: str = "argmax"):
        config = model.config
        if decoding not in DECODE_MODES:
            raise ValueError(f"decoding={decoding!r}: use one of {DECODE_MODES}")
        self.decoding = decoding  # ActionHead.decode: "argmax" (paper) or "mean"
        ensemble = config.ensemble_size if ensemble is None else ensemble
        if ensemble < 1:
            raise ValueError(f"ensemble={ensemble}: use at least 1 member, e.g. 10")
        # Baselines (final_state, snapshot) select frames deterministically: one member suffices.
        self.ensemble = ensemble if config.uses_temporal_dropout else 1
        self.model = _inference_copy(model)
        self.fast = FastPolicy(self.model)
        self.generator = torch.Generator().manual_seed(seed)
        self._plan: DemoPlan | None = None
        self._time_index: torch.Tensor | None = None  # (E, T~) kept demo steps per member
        self._demo_len = 0
        self._n_blocks: int | None = None

    @classmethod
    def from_checkpoint(cls, model_dir: str | Path, ensemble: int | None = None,
                        seed: int = 0, decoding: str = "argmax") -> Imitator:
        model, _ = checkpoint.load(model_dir)
        return cls(model, ensemble, seed, decoding)

    @property
    def n_blocks(self) -> int | None:
        return self._n_blocks

    @torch.inference_mode()
    def set_demo(self, demo_obs: np.ndarray, stage_ends: list[int] | None = None) -> None:
        """demo_obs (T, 3B+2): embed the demonstration for every ensemble member.

        stage_ends: the step index ending each stage, needed only by the "snapshot" variant.
        """
        demo = np.asarray(demo_obs, dtype=np.float32)
        if demo.ndim != 2 or len(demo) == 0 or not np.all(np.isfinite(demo)):
            raise ValueError(f"demo has shape {demo.shape}; pass a finite (T, 3B+2) array, T>=1")
        n_blocks = ObsLayout.n_blocks_of(demo.shape[1])
        e, t = self.ensemble, len(demo)
        demo_obs_t = torch.from_numpy(demo).expand(e, -1, -1)  # (E, T, 3B+2)
        demo_mask = torch.ones(e, t, dtype=torch.bool)  # (E, T)
        block_mask = torch.ones(e, n_blocks, dtype=torch.bool)  # (E, B)
        stage_end = _stage_end_mask(stage_ends, t, e)
        embedding = self.model.embed_demo(demo_obs_t, demo_mask, block_mask, stage_end,
                                          self.generator)
        self._plan = self.fast.prepare(embedding, block_mask)
        self._time_index, self._demo_len, self._n_blocks = embedding.time_index, t, n_blocks

    @torch.inference_mode()
    def act(self, obs: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """obs (3B+2,) -> action (4,) float64 (ActionLayout order), attention weights.

        attention["temporal"]: (t_lstm, H, T) weight of each demo step (0 where dropped),
        attention["block"]: (2, H, B) final-attention weights of the 2 queries over blocks;
        both averaged over the ensemble.
        """
        if self._plan is None:
            raise RuntimeError("call set_demo(demo_obs) before act(obs)")
        obs_t = self._check_obs(obs)
        logits, attention = self.fast.logits(self._plan, obs_t)  # (E, A)
        head = self.model.head
        action = head.decode(head.ensemble(head.distribution(logits)), self.decoding)  # (4,)
        # argmax over NaN logits picks an extreme bin (a full-speed move): refuse instead
        if not bool(torch.isfinite(logits).all() & torch.isfinite(action).all()):
            raise NonFiniteActionError(
                "the policy's outputs are NaN or inf (non-finite or overflowing weights, or an "
                "observation far outside training): no action; check the checkpoint")
        return action.double().numpy(), self._attention_numpy(attention)

    def _check_obs(self, obs: np.ndarray) -> torch.Tensor:
        obs = np.asarray(obs, dtype=np.float32)
        if obs.shape != (3 * self.n_blocks + 2,):
            raise ValueError(f"observation has shape {obs.shape}; the demo has {self.n_blocks} "
                             f"blocks, so pass ({3 * self.n_blocks + 2},)")
        return torch.from_numpy(obs).expand(self.ensemble, -1)  # (E, 3B+2)

    def _attention_numpy(self, attention: dict) -> dict[str, np.ndarray]:
        kept = attention["temporal"]  # (E, t_lstm, T~, H)
        e, steps, _, heads = kept.shape
        # the ensemble mean of each member's weights scattered onto its kept demo steps, as one
        # index_add over (E T~) into (t_lstm H, T): 10x less to zero than per member
        values = kept.permute(1, 3, 0, 2).reshape(steps * heads, -1)  # (t_lstm H, E T~)
        temporal = kept.new_zeros(steps * heads, self._demo_len).index_add_(
            1, self._time_index.reshape(-1), values, alpha=1.0 / e)  # (t_lstm H, T)
        temporal = temporal.view(steps, heads, self._demo_len)  # (t_lstm, H, T)
        block = attention["block"].permute(0, 1, 3, 2).mean(dim=0)  # (2, H, B)
        return {"temporal": temporal.numpy(), "block": block.numpy()}


def _inference_copy(model: OneShotPolicy) -> OneShotPolicy:
    """A folded eval copy. Not copy.deepcopy: a deep copy shares the parametrized layer classes,
    so folding it would strip the weight-norm `weight` property from the caller's model too."""
    copy = OneShotPolicy(model.config)
    copy.load_state_dict(model.state_dict())
    return fold_weight_norm(copy).eval()


def _stage_end_mask(stage_ends: list[int] | None, length: int, ensemble: int):
    if stage_ends is None:
        return None
    mask = torch.zeros(ensemble, length, dtype=torch.bool)
    for step in stage_ends:
        if not 0 <= step < length:
            raise ValueError(f"stage end {step} is outside the demo (0..{length - 1})")
        mask[:, step] = True
    return mask
