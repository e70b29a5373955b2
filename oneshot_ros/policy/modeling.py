"""OneShotPolicy: demonstration network -> context network -> manipulation network.

    demo (N, T, 3B+2) --DemoNetwork--> (N, T~, B, D) --prepare--> ContextCache (once per demo)
    obs (N, M, 3B+2) + cache --ContextNetwork--> (N, M, 14) --MLP 256-256--> (N, M, 3K+2)

The network has no fixed block slots: blocks are a batch axis everywhere, mixed only through
attention, so any number of blocks (2-10) and any demo length share one batch via masks
(conventions in data/batch.py).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from oneshot_ros.data import batch as keys
from oneshot_ros.policy.action_head import ActionHead
from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.policy.context_network import ContextCache, ContextNetwork
from oneshot_ros.policy.demo_network import DemoEmbedding, DemoNetwork
from oneshot_ros.policy.weight_norm import data_dependent_init, linear


class ManipulationNetwork(nn.Module):
    """Module 3: context embedding (14) -> Dense 256 ReLU -> Dense 256 ReLU -> |A| logits."""

    def __init__(self, config: PolicyConfig):
        super().__init__()
        widths = (config.context_embedding_dim, *config.mlp_hidden)
        self.hidden = nn.ModuleList(linear(a, b, config.weight_norm)
                                    for a, b in itertools.pairwise(widths))
        self.out = linear(widths[-1], config.n_action_logits, config.weight_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.out(x)


class OneShotPolicy(nn.Module):
    def __init__(self, config: PolicyConfig):
        super().__init__()
        self.config = config
        self.demo_net = DemoNetwork(config)
        self.context_net = ContextNetwork(config)
        self.manipulation_net = ManipulationNetwork(config)
        self.head = ActionHead.from_config(config)

    def embed_demo(self, demo_obs: torch.Tensor, demo_mask: torch.Tensor,
                   block_mask: torch.Tensor, stage_end: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> DemoEmbedding:
        """(N, T, 3B+2) demos -> DemoEmbedding (N, T~, B, D); a fresh frame draw every call."""
        return self.demo_net(demo_obs, demo_mask, block_mask, stage_end, generator)

    def prepare(self, demo: DemoEmbedding, block_mask: torch.Tensor) -> ContextCache:
        """Per-demo, state-independent work (step 1 of the context network)."""
        return self.context_net.prepare(demo, block_mask)

    def act_logits(self, cache: ContextCache, obs: torch.Tensor):
        """obs (N, M, 3B+2) -> logits (N, M, A), attention dict (see ContextNetwork)."""
        embedding, attention = self.context_net(cache, obs)  # (N, M, 14)
        return self.manipulation_net(embedding), attention

    def forward(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None):
        """A batch (data/batch.py keys) -> logits (N, M, A), attention dict."""
        demo = self.embed_demo(batch[keys.DEMO_OBS], batch[keys.DEMO_MASK],
                               batch[keys.BLOCK_MASK], batch.get(keys.DEMO_STAGE_END), generator)
        cache = self.prepare(demo, batch[keys.BLOCK_MASK])  # embedded once, shared over M
        return self.act_logits(cache, batch[keys.OBS])

    def loss(self, batch: dict[str, torch.Tensor],
             generator: torch.Generator | None = None) -> torch.Tensor:
        logits, _ = self(batch, generator)
        return self.head.loss(logits, batch[keys.ACTION], batch.get(keys.ACTION_MASK))

    def initialize(self, batch: dict[str, torch.Tensor]) -> int:
        """Data-dependent weight-norm init on a (first) batch; returns the layers initialised."""
        return data_dependent_init(self, lambda: self(batch))
