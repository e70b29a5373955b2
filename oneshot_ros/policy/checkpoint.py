"""Policy checkpoints: `model.safetensors` + `config.json` in one directory. Never unpickles.

config.json holds everything needed to rebuild the policy and to refuse a mismatch:
    format, format_version, package_version, policy (PolicyConfig, every field), action_head
    (binning), obs_layout, action_layout, tensors (name -> shape), sha256 of model.safetensors,
    provenance (free-form: training data and its size, iterations, wall time, world config ...),
    config_sha256 (of all the above: an edited or trimmed config.json is refused, since a missing
    key such as demo_norm would silently load a different policy).
`load` checks each of them, and that every weight is finite, and raises CheckpointError naming
the file and the fix. Checkpoints of format_version 1 (no config_sha256) are refused until
`python -m oneshot_ros.policy.checkpoint upgrade DIR` re-hashes them, once, on purpose.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from oneshot_ros import __version__
from oneshot_ros.errors import FileFormatError
from oneshot_ros.policy.action_head import ActionHead
from oneshot_ros.policy.configuration import PolicyConfig
from oneshot_ros.policy.modeling import OneShotPolicy
from oneshot_ros.world.robot import MAX_BLOCKS, MIN_BLOCKS, ObsLayout

FORMAT = "oneshot_ros.policy"
FORMAT_VERSION = 2  # 2: config_sha256 covers config.json; 1: weights' sha256 only
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
_FIX = "pass a directory written by oneshot_ros.policy.checkpoint.save (e.g. `oneshot-ros train`)"


class CheckpointError(FileFormatError):
    """A missing, truncated, foreign or mismatched checkpoint."""


def save(model: OneShotPolicy, out_dir: str | Path, provenance: dict | None = None) -> Path:
    """Write model.safetensors + config.json into out_dir (each atomically); returns out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = out_dir / WEIGHTS_FILE
    _atomic(weights, lambda tmp: save_file(tensors, str(tmp), metadata={"format": FORMAT}))
    meta = describe(model.config, tensors, provenance or {})
    meta["sha256"] = _sha256(weights)
    _write_config(out_dir, meta)
    return out_dir


def _write_config(model_dir: Path, meta: dict) -> None:
    meta = json.loads(json.dumps(meta))  # hash what load will read (int keys become strings)
    meta["config_sha256"] = config_sha256(meta)
    _atomic(model_dir / CONFIG_FILE, lambda tmp: tmp.write_text(json.dumps(meta, indent=2)))


def config_sha256(meta: dict) -> str:
    """sha256 of config.json's canonical JSON, without the config_sha256 key itself."""
    body = {k: v for k, v in meta.items() if k != "config_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def describe(config: PolicyConfig, tensors: dict, provenance: dict) -> dict:
    obs = ObsLayout(MAX_BLOCKS).describe()
    obs["dim"] = f"3B+2, B in {MIN_BLOCKS}..{MAX_BLOCKS}"
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "package_version": __version__,
        "policy": config.to_dict(), "action_head": ActionHead.from_config(config).describe(),
        "obs_layout": obs, "action_layout": config.action_layout.describe(),
        "tensors": {k: list(v.shape) for k, v in tensors.items()}, "provenance": provenance,
    }


def load(model_dir: str | Path, map_location: str = "cpu") -> tuple[OneShotPolicy, dict]:
    """Rebuild the policy from a checkpoint directory -> (model in eval mode, config.json dict)."""
    model_dir = Path(model_dir)
    meta = read_metadata(model_dir)
    config = _policy_config(meta, model_dir / CONFIG_FILE)
    weights = model_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{weights}: file missing; {_FIX}")
    if meta.get("sha256") != _sha256(weights):
        raise CheckpointError(f"{weights}: contents do not match the sha256 in {CONFIG_FILE} "
                              f"(truncated or modified); copy the checkpoint again or {_FIX}")
    try:
        tensors = load_file(str(weights), device=map_location)
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({err}); {_FIX}") \
            from None
    _check_finite(tensors, weights)
    model = OneShotPolicy(config)
    _load_state(model, tensors, weights)
    return model.eval(), meta


def read_metadata(model_dir: Path) -> dict:
    path = Path(model_dir) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: file missing; {_FIX}")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({err}); {_FIX}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{path}: format {found!r} is not {FORMAT!r} (a foreign file); "
                              f"{_FIX}")
    if meta.get("format_version") == 1:
        raise CheckpointError(f"{path}: format_version 1, written before config.json was covered "
                              "by its hash; if you trust this directory, run `python -m "
                              f"oneshot_ros.policy.checkpoint upgrade {Path(model_dir)}` once")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format_version {meta.get('format_version')!r}, this "
                              f"package (oneshot_ros {__version__}) reads {FORMAT_VERSION}; "
                              "use the oneshot_ros version that wrote it")
    if meta.get("config_sha256") != config_sha256(meta):
        raise CheckpointError(f"{path}: contents do not match its config_sha256 (edited, or keys "
                              f"removed); copy the checkpoint again or {_FIX}")
    return meta


# PolicyConfig fields added after checkpoints were shipped, with the value that reproduces how
# a checkpoint written before them was trained and is run (the option did not exist)
ADDED_POLICY_FIELDS = {"keep_stage_ends": False, "frame_reach": 0}


def _policy_config(meta: dict, path: Path) -> PolicyConfig:
    stored = meta.get("policy")
    if isinstance(stored, dict):
        stored = {**ADDED_POLICY_FIELDS, **stored}
    fields = {f.name for f in dataclasses.fields(PolicyConfig)}
    missing = sorted(fields - set(stored)) if isinstance(stored, dict) else ["policy"]
    if missing:  # a default filled in here could differ from the one the weights were trained with
        raise CheckpointError(f"{path}: policy lacks {missing}; {_FIX}")
    try:
        return PolicyConfig.from_dict(stored, where=f"{path}: policy")
    except ValueError as err:
        raise CheckpointError(f"{err}; the checkpoint does not match this package's "
                              f"PolicyConfig, {_FIX}") from None


def _load_state(model: OneShotPolicy, tensors: dict, path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors)
                   if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{path}: weights do not match the architecture in {CONFIG_FILE} (missing "
            f"{missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]}); {_FIX}")
    model.load_state_dict(tensors, strict=True)


def _check_finite(tensors: dict, path: Path) -> None:
    bad = sorted(name for name, tensor in tensors.items()
                 if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()))
    if bad:
        raise CheckpointError(f"{path}: weights {bad[:3]} hold NaN or inf (a diverged training "
                              "run); retrain, or use an earlier checkpoint")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def state_dicts_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """True when every tensor of the two models is bit-identical (tests, round-trip checks)."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# --- migration: format_version 1 -> 2 ---------------------------------------------------------
def upgrade(model_dir: str | Path) -> bool:
    """Re-hash a format_version 1 checkpoint as version 2; True if it was upgraded.

    Version 1 filled policy keys missing from config.json with today's defaults; they are written
    out explicitly now, so a later change of a default cannot change this checkpoint's policy.
    """
    model_dir = Path(model_dir)
    path = model_dir / CONFIG_FILE
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: cannot read it ({err}); {_FIX}") from None
    if meta.get("format_version") != 1 or meta.get("format") != FORMAT:
        return False
    if meta.get("sha256") != _sha256(model_dir / WEIGHTS_FILE):
        raise CheckpointError(f"{model_dir / WEIGHTS_FILE}: does not match the sha256 in {path}; "
                              "not upgraded")
    policy = PolicyConfig.from_dict(meta.get("policy", {}), where=f"{path}: policy")
    meta.update(format_version=FORMAT_VERSION, policy=policy.to_dict())
    _write_config(model_dir, meta)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oneshot_ros.policy.checkpoint")
    parser.add_argument("action", choices=["upgrade"])
    parser.add_argument("model_dirs", nargs="+", help="checkpoint directories")
    args = parser.parse_args(argv)
    for model_dir in args.model_dirs:
        done = upgrade(model_dir)
        print(f"{model_dir}: {'upgraded to' if done else 'already'} format_version "
              f"{FORMAT_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
