"""Resumable training state beside the checkpoint, without pickle.

    train_state.safetensors   optimizer tensors, keyed "<param index>.<name>"
    train_state.json          iteration, wall time, the TrainConfig, optimizer scalars

`--resume` reloads the model from model.safetensors, the optimizer from these two files, and
continues at the saved iteration; a config that changes the architecture is refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from oneshot_ros.errors import InputError
from oneshot_ros.policy import checkpoint

TENSORS, META = "train_state.safetensors", "train_state.json"


def save(out: Path, optimizer: torch.optim.Optimizer, iteration: int, wall_s: float,
         cfg) -> None:
    tensors, scalars = {}, {}
    for index, param_state in optimizer.state_dict()["state"].items():
        for name, value in param_state.items():
            key = f"{index}.{name}"
            if torch.is_tensor(value):
                tensors[key] = value.detach().cpu().contiguous()
            else:
                scalars[key] = value
    save_file(tensors, str(out / (TENSORS + ".tmp")))
    (out / (TENSORS + ".tmp")).replace(out / TENSORS)
    meta = {"iteration": iteration, "wall_s": wall_s, "scalars": scalars,
            "train_config": json.loads(json.dumps(asdict(cfg), default=list))}
    (out / (META + ".tmp")).write_text(json.dumps(meta, indent=1))
    (out / (META + ".tmp")).replace(out / META)


def load_into(out: Path, model: torch.nn.Module, cfg) -> tuple[int, float]:
    """Load weights saved in `out` into `model`; returns (iteration, wall seconds so far)."""
    out = Path(out)
    meta_path = out / META
    if not meta_path.is_file():
        raise InputError(f"--resume: {meta_path} missing; train into {out} first (no --resume)")
    saved, _ = checkpoint.load(out)
    if saved.config != cfg.policy:
        raise InputError(f"--resume: the policy config differs from the checkpoint in {out}; "
                         "resume with the same --config or train into a new --out")
    model.load_state_dict(saved.state_dict())
    meta = json.loads(meta_path.read_text())
    return int(meta["iteration"]), float(meta["wall_s"])


def load_optimizer(out: Path, optimizer: torch.optim.Optimizer) -> None:
    tensors = load_file(str(Path(out) / TENSORS))
    scalars = json.loads((Path(out) / META).read_text())["scalars"]
    per_param: dict[int, dict] = {}
    for key, value in [*tensors.items(), *scalars.items()]:
        index, name = key.split(".", 1)
        per_param.setdefault(int(index), {})[name] = value
    current = optimizer.state_dict()
    current["state"] = per_param
    optimizer.load_state_dict(current)
