"""Strict YAML → typed dataclass loading.

Each config dataclass lives beside its code and holds the defaults; YAML files contain overrides
only. An unknown key or a value of the wrong type is an error that names the key and the file.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import yaml

from oneshot_ros.errors import InputError


class ConfigError(InputError):
    """A bad configuration file or override."""


def _coerce(value, annotation, where: str):
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(annotation, value, where)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str):  # YAML 1.1 reads 1e30 as a string
        try:
            return float(value)
        except ValueError:
            pass
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(value)
    if annotation in (int, float, str, bool) and not (
        isinstance(value, annotation) and not (annotation is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r}")
    return value


def from_dict(cls, data: dict, where: str = "config"):
    """Build dataclass `cls` from a dict of overrides; unknown keys and wrong types fail."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(names))}"
        )
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from err


def load_yaml(cls, path: str | Path | None):
    """Defaults of `cls`, overridden by the YAML file at `path` (if given)."""
    if path is None:
        return cls()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except UnicodeDecodeError:  # e.g. an image or HDF5 file passed as --config
        raise ConfigError(f"{path}: not a text YAML file (it holds binary data); pass a .yaml "
                          "config") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of overrides at the top level")
    return from_dict(cls, data, str(path))


def to_dict(obj) -> dict:
    return dataclasses.asdict(obj)
