"""DistributedDataParallel setup from torchrun's environment; a plain process otherwise.

    torchrun --nproc_per_node 2 -m ... # sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT
    ctx = init_distributed()        # world_size 1 without those variables
    model = wrap_model(model, ctx)  # DDP when world_size > 1
    ...
    shutdown(ctx)

Backend: NCCL when each process has a GPU, gloo on CPU (tested with 2 CPU processes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(backend: str | None = None, use_gpu: bool = True) -> DistributedContext:
    """Join the process group described by torchrun's env vars, or return a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = use_gpu and torch.cuda.is_available()
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world_size <= 1:
        return DistributedContext(device=device)
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise ValueError(f"WORLD_SIZE={world_size} but {name} is unset; launch with torchrun")
    if not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if cuda else "gloo"))
    return DistributedContext(dist.get_rank(), world_size, local_rank, device)


def wrap_model(model: nn.Module, ctx: DistributedContext) -> nn.Module:
    """Move to the context's device; wrap in DDP (weights broadcast from rank 0) if distributed."""
    model = model.to(ctx.device)
    if not ctx.enabled:
        return model
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain policy inside a DDP wrapper (for its head, config and checkpoints)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def shutdown(ctx: DistributedContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
