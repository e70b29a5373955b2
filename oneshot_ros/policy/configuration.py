"""PolicyConfig: every architecture setting of the one-shot policy, typed, in one place.

Defaults follow Duan et al. 2017 (B.1, Modules 1-3) and our resolutions in docs/design.md.
The config is saved in every checkpoint's config.json and rebuilds the model on load.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from oneshot_ros.config import from_dict
from oneshot_ros.world.robot import ActionLayout

VARIANTS = ("full", "final_state", "snapshot")  # §6 baselines: Final state, Snapshot
ACTION_HEADS = ("categorical", "l2")


DECODE_MODES = ("argmax", "mean")  # ActionHead.decode: the paper's greedy action, or the mean

@dataclass(frozen=True)
class PolicyConfig:
    embed_dim: int = 64  # D, every hidden width (B.1)
    n_heads: int = 2  # H, heads of every soft attention (our choice for the demo network)
    dilations: tuple[int, ...] = (1, 2, 4, 8)  # demo network residual blocks, kernel 2, causal
    lstm_steps: int = 4  # t_lstm, untied context-network steps (Module 2)
    # Duan et al.: temporal dropout drops p = 95% of demo steps; keeps max(1, floor(T(1-p))).
    temporal_dropout_p: float = 0.95
    variant: str = "full"  # "full" demo, "final_state" (last frame), "snapshot" (stage ends)
    # "full" only: temporal dropout also keeps the last frame of each stage and of the demo, so
    # every drawn subset shows where each stage ends (a long-task lever: the snapshot baseline,
    # which sees only those frames, loses less time finding the next stage at 6-8 stages)
    keep_stage_ends: bool = False
    mlp_hidden: tuple[int, ...] = (256, 256)  # manipulation network (Module 3)
    action_head: str = "categorical"  # per-axis categorical + 2-way gripper, or "l2" regression
    n_bins: int = 21  # K bins per axis spanning [-max_step_m, +max_step_m]; odd so 0 is a bin
    max_step_m: float = ActionLayout.max_step_m  # m per control step, from robot.ActionLayout
    ensemble_size: int = 10  # test-time demo downsamplings averaged (B.3: no gain beyond 10)
    weight_norm: bool = True  # on every Linear/Conv1d (B.1), not on LSTM cells or v vectors
    # The current state (metres, |x| ~ 0.1) enters the context network's LSTM cells beside
    # demonstration features of size ~1-5; this factor scales every state-derived LSTM input
    # (robot state, block xyz, the spatial reads of block xyz). 1 = the paper as written;
    # bench/context_probe.py measures whether the LSTM output follows the state at all.
    state_scale: float = 1.0
    # LayerNorm (no parameters) on the demonstration embedding: keeps the demo features that
    # enter the LSTM cells at unit scale (False = the paper as written; see demo_network.py)
    demo_norm: bool = False
    # A demo-network tap reads at most this many kept frames back: blocks whose dilation is
    # larger lose their past tap (0 = no limit, the paper). A tap never reached in training is
    # random: the snapshot variant trained on <= 7 stages (<= 8 frames) meets its dilation-8 tap
    # first on 8-stage demos; 7 masks it (demo_network.py; measured: no gain at 8 stages).
    frame_reach: int = 0

    def __post_init__(self):
        object.__setattr__(self, "dilations", tuple(self.dilations))
        object.__setattr__(self, "mlp_hidden", tuple(self.mlp_hidden))
        _check(self.embed_dim >= 1, f"embed_dim={self.embed_dim}: use a positive width, e.g. 64")
        _check(self.n_heads >= 1, f"n_heads={self.n_heads}: use at least 1 head")
        _check(len(self.dilations) > 0 and all(d >= 1 for d in self.dilations),
               f"dilations={self.dilations}: use positive integers, e.g. (1, 2, 4, 8)")
        _check(self.lstm_steps >= 1, f"lstm_steps={self.lstm_steps}: use at least 1")
        _check(0.0 <= self.temporal_dropout_p < 1.0,
               f"temporal_dropout_p={self.temporal_dropout_p}: use a value in [0, 1), e.g. 0.95")
        _check(self.variant in VARIANTS, f"variant={self.variant!r}: use one of {VARIANTS}")
        _check(not self.keep_stage_ends or self.variant == "full",
               f"keep_stage_ends=True with variant={self.variant!r}: it applies to temporal "
               "dropout, i.e. variant 'full'; drop it or use variant 'full'")
        _check(self.action_head in ACTION_HEADS,
               f"action_head={self.action_head!r}: use one of {ACTION_HEADS}")
        _check(self.n_bins >= 3 and self.n_bins % 2 == 1,
               f"n_bins={self.n_bins}: use an odd number >= 3 so 0 is a bin, e.g. 21")
        ActionLayout(self.max_step_m)  # validates the range with its own message
        _check(all(w >= 1 for w in self.mlp_hidden), f"mlp_hidden={self.mlp_hidden}: widths > 0")
        _check(self.ensemble_size >= 1, f"ensemble_size={self.ensemble_size}: use at least 1")
        _check(self.state_scale > 0, f"state_scale={self.state_scale}: use a positive factor")
        _check(self.frame_reach >= 0, f"frame_reach={self.frame_reach}: use 0 (no limit) or "
               "the most frames back a tap may read, e.g. 7")

    # --- derived sizes (Duan et al. Modules 1-2) --------------------------------------------
    @property
    def uses_temporal_dropout(self) -> bool:
        return self.variant == "full"  # baselines: no dropout, no ensemble (docs/design.md)

    def same_weights_as(self, other: PolicyConfig) -> bool:
        """True when a checkpoint of `other` loads into this config: they differ at most in
        which demo frames are selected or read or how many ensemble members run (no weight
        depends on these), so a fine-tune may switch them."""
        return dataclasses.replace(other, keep_stage_ends=self.keep_stage_ends,
                                   ensemble_size=self.ensemble_size,
                                   frame_reach=self.frame_reach) == self

    @property
    def needs_stage_ends(self) -> bool:
        """Frame selection reads the demo's stage ends (batch['demo_stage_end'])."""
        return self.variant == "snapshot" or self.keep_stage_ends

    @property
    def memory_dim(self) -> int:
        """Neighborhood-attention memory: block xyz + embedding (D + 3)."""
        return self.embed_dim + 3

    @property
    def demo_conv_in(self) -> int:
        """[h', attn, block_state, robot_state] = D + H(D+3) + 3 + 2 (203 for D=64, H=2)."""
        return self.embed_dim + self.n_heads * self.memory_dim + 3 + 2

    @property
    def lstm_input_dim(self) -> int:
        """[robot_state, block_state, spatial, temp] = 2 + 3 + H(HD+3) + HD (395)."""
        temp = self.n_heads * self.embed_dim
        return 2 + 3 + self.n_heads * (temp + 3) + temp

    @property
    def context_embedding_dim(self) -> int:
        """Gripper state + 2 queries x H heads x xyz = 2 + 6H (14)."""
        return 2 + 2 * self.n_heads * 3

    @property
    def n_action_logits(self) -> int:
        return 3 * self.n_bins + 2 if self.action_head == "categorical" else ActionLayout.DIM

    @property
    def action_layout(self) -> ActionLayout:
        return ActionLayout(self.max_step_m)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict, where: str = "policy config") -> PolicyConfig:
        return from_dict(cls, data, where)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)
