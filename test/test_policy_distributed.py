"""train.distributed: DDP on 2 real CPU processes (gloo) keeps identical weights on both ranks."""

import os
import socket

import torch
import torch.multiprocessing as mp
from policy_data import random_batch, tiny_config
from safetensors.torch import load_file, save_file

from oneshot_ros.policy.modeling import OneShotPolicy
from oneshot_ros.train.distributed import init_distributed, shutdown, unwrap, wrap_model
from oneshot_ros.train.step import bc_step, make_optimizer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch.manual_seed(rank)  # different initial weights: DDP must broadcast rank 0's
    ctx = init_distributed(backend="gloo", use_gpu=False)
    model = wrap_model(OneShotPolicy(tiny_config()), ctx)
    optimizer = make_optimizer(model)
    for step in range(3):
        batch, _ = random_batch(seed=100 * rank + step)  # every rank sees different data
        bc_step(model, optimizer, batch)
    state = {k: v.detach().clone() for k, v in unwrap(model).state_dict().items()}
    save_file(state, os.path.join(out_dir, f"rank{rank}.safetensors"))
    shutdown(ctx)


def test_ddp_on_two_cpu_processes_keeps_identical_weights(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    rank0 = load_file(tmp_path / "rank0.safetensors")
    rank1 = load_file(tmp_path / "rank1.safetensors")
    torch.manual_seed(0)
    initial = OneShotPolicy(tiny_config()).state_dict()
    assert rank0.keys() == rank1.keys()
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    assert not all(torch.equal(rank0[k], initial[k]) for k in rank0)  # training moved them


def test_single_process_without_torchrun_variables(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = init_distributed(use_gpu=False)
    assert ctx.world_size == 1 and ctx.is_main and not ctx.enabled
    model = OneShotPolicy(tiny_config())
    assert wrap_model(model, ctx) is model
