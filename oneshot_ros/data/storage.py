"""The ONE on-disk format for demonstrations (robomimic-like HDF5), its writer and its reader.

    with DemoWriter("demos.h5", world_config=dataclasses.asdict(WorldConfig())) as writer:
        writer.append(episode)                     # committed: survives a SIGKILL from here on
    reader = DemoReader(["shard0.h5", "shard1.h5"])  # or one file, or a directory of *.h5 shards
    episode = reader[0]; reader.tasks["ab cd"]     # -> [global indices]

Layout (format_version 1):

    /                       attrs: format="oneshot_ros.demos", format_version=1,
                                   package_version, world_config (JSON), obs_layout (JSON),
                                   action_layout (JSON)
    /data                   attrs: n_demos = committed demonstrations (demo_0 .. demo_{n-1})
    /data/demo_<k>/obs              (T, 3B+2) float32  observation before each step (ObsLayout)
    /data/demo_<k>/actions          (T, 4) float32     executed (noisy) actions (ActionLayout)
    /data/demo_<k>/expert_actions   (T, 4) float32     noise-free expert labels (train on these)
    /data/demo_<k>          attrs: task, seed, noise, success, outcome, length, n_blocks,
                                   stage_ends (int64 array), source, attempts (-1 = unknown)

Checks: every demonstration's attributes when a file is opened (types, ranges, consistency with
its task), its arrays when they are written or read (float32, finite, plausible magnitudes):
one line naming the file, the demonstration and the field, never a NaN trained on later.

Crash safety: the writer goes through `journal.JournaledFile`, so every `append` is one atomic
commit (the demonstration and the new n_demos together, or neither); a killed writer leaves the
file as of its last completed append, and the next open finishes or drops the interrupted commit.
A file is written by one process at a time (an flock enforces it); use `--shard i/n` for parallel
jobs and read the shards together.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import h5py
import numpy as np

from oneshot_ros import __version__
from oneshot_ros.config import ConfigError, from_dict
from oneshot_ros.data import journal
from oneshot_ros.data.episode import Episode
from oneshot_ros.errors import FileFormatError, InputError, OutOfRangeError
from oneshot_ros.world.robot import MIN_BLOCKS, ActionLayout, ObsLayout
from oneshot_ros.world.success import OUTCOMES
from oneshot_ros.world.tasks import TaskError, parse_task
from oneshot_ros.world.world_config import WorldConfig, with_defaults

log = logging.getLogger(__name__)

FORMAT = "oneshot_ros.demos"
FORMAT_VERSION = 1
DATA = "data"
N_DEMOS = "n_demos"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ARRAYS = ("obs", "actions", "expert_actions")
REQUIRED_ATTRS = ("task", "seed", "noise", "success", "outcome", "stage_ends", "source")


class DemoFormatError(FileFormatError):
    """A file that is not, or no longer, a readable demonstration file; says what to do."""


def obs_layout_description() -> dict:
    """ObsLayout.describe() for any block count (files mix tasks with 2..10 blocks)."""
    return {**ObsLayout(MIN_BLOCKS).describe(), "dim": "3 * n_blocks + 2"}


def action_layout_description(world_config: dict) -> dict:
    return ActionLayout(world_config.get("max_step_m", ActionLayout.max_step_m)).describe()


def _dumps(value) -> str:
    return json.dumps(value, sort_keys=True)


def demo_name(index: int) -> str:
    return f"demo_{index}"


# --- opening and checking --------------------------------------------------------------------
def _open_h5(path: Path) -> h5py.File:
    """Open read-only after finishing a killed writer's commit; clear errors for foreign files."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such demonstration file")
    try:
        journal.recover(path)
    except PermissionError:
        raise DemoFormatError(
            f"{path} has an unfinished commit from a killed writer; open it once with write "
            "permission (e.g. `oneshot-ros info` as its owner) to finish it"
        ) from None
    with open(path, "rb") as probe:
        journal.lock(probe.fileno(), path, exclusive=False)  # refuse while a writer is live
        if probe.read(8) != _HDF5_SIGNATURE:
            raise DemoFormatError(
                f"{path} is not an HDF5 file; pass a file written by `oneshot-ros collect`"
            )
    try:
        return h5py.File(path, "r", locking=False)
    except OSError as err:
        raise DemoFormatError(
            f"{path} is a truncated or damaged HDF5 file ({err}); re-collect it or restore a copy"
        ) from None


def check_file(h5: h5py.File, path: Path) -> None:
    """Raise DemoFormatError unless `h5` is a demonstration file this version can read."""
    attrs = h5.attrs
    if attrs.get("format") != FORMAT:
        raise DemoFormatError(
            f"{path} is an HDF5 file but not an oneshot_ros demonstration file (no "
            f"format={FORMAT!r} attribute); pass a file written by `oneshot-ros collect`"
        )
    version = int(attrs.get("format_version", -1))
    if version > FORMAT_VERSION:
        raise DemoFormatError(
            f"{path} has format_version {version}, newer than this oneshot_ros reads "
            f"({FORMAT_VERSION}); upgrade oneshot_ros (it was written by "
            f"{attrs.get('package_version')})"
        )
    if version != FORMAT_VERSION:
        raise DemoFormatError(
            f"{path} has format_version {version}; this oneshot_ros reads {FORMAT_VERSION} only: "
            "re-collect the demonstrations"
        )
    _check_layouts(h5, path)
    if DATA not in h5 or N_DEMOS not in h5[DATA].attrs:
        raise DemoFormatError(f"{path} lacks /{DATA} or its {N_DEMOS}: damaged; re-collect it")
    _check_demo_count(h5[DATA], path)


def _check_demo_count(data: h5py.Group, path: Path) -> None:
    """n_demos must be a count whose groups demo_0 .. demo_{n-1}, and no others, exist."""
    n_demos = data.attrs[N_DEMOS]
    if np.ndim(n_demos) != 0 or not np.issubdtype(np.asarray(n_demos).dtype, np.integer) \
            or n_demos < 0:
        raise DemoFormatError(f"{path}: /{DATA} {N_DEMOS}={n_demos} is not a count of "
                              "demonstrations: damaged; re-collect it")
    stored = {int(name[5:]) for name in data if name.startswith("demo_") and name[5:].isdigit()}
    missing = sorted(set(range(int(n_demos))) - stored)
    extra = sorted(k for k in stored if k >= n_demos)
    if missing or extra:
        problem = (f"demo_{missing[0]} is missing" if missing
                   else f"demo_{extra[0]} lies beyond them")
        raise DemoFormatError(f"{path}: /{DATA} {N_DEMOS}={int(n_demos)} but {problem} "
                              f"({len(stored)} demo groups stored): damaged; re-collect it")


def _json_attr(h5: h5py.File, key: str, path: Path):
    if key not in h5.attrs:
        raise DemoFormatError(f"{path} lacks its {key!r} attribute: damaged; re-collect it")
    try:
        return json.loads(h5.attrs[key], parse_constant=_refuse_constant)
    except (TypeError, ValueError):
        raise DemoFormatError(f"{path}: its {key!r} attribute is not valid JSON (or holds NaN "
                              "or Infinity): damaged; re-collect it") from None


def _refuse_constant(name: str):
    """json.loads accepts NaN and Infinity, which no configuration holds (and `info --json`
    could not print)."""
    raise ValueError(f"{name} in JSON")


def _check_layouts(h5: h5py.File, path: Path) -> None:
    world = world_config_of(h5, path)
    expected = {"obs_layout": obs_layout_description(),
                "action_layout": action_layout_description(world)}
    for key, want in expected.items():
        stored = _json_attr(h5, key, path)
        if stored != want:
            raise DemoFormatError(
                f"{path}: {key} {stored} differs from this oneshot_ros's {want}; the data "
                "cannot be used with this code: re-collect it or use the version that wrote it"
            )


def world_config_of(h5: h5py.File, path: Path) -> dict:
    world = _json_attr(h5, "world_config", path)
    if not isinstance(world, dict):
        raise DemoFormatError(f"{path}: its world_config is not a mapping: damaged; re-collect it")
    try:  # replay and training rebuild the world from it: refuse what WorldConfig refuses
        from_dict(WorldConfig, world, "world_config")
    except ConfigError as err:
        raise DemoFormatError(f"{path}: its {err}: damaged; re-collect it") from None
    return world


# --- checking one demonstration --------------------------------------------------------------
def check_demo_arrays(where: str, task: str, arrays: dict[str, np.ndarray]) -> None:
    """Raise DemoFormatError unless the arrays are float32, finite and as wide as the layout.

    Vectorised, once per demonstration: a single NaN would otherwise train NaN weights silently.
    """
    length = len(arrays["obs"])
    want = {"obs": (length, ObsLayout(parse_task(task).n_blocks).dim),
            "actions": (length, ActionLayout.DIM), "expert_actions": (length, ActionLayout.DIM)}
    if length < 1:
        raise DemoFormatError(f"{where}: no steps stored; re-collect it")
    for key, shape in want.items():
        array = arrays[key]
        if array.dtype != np.float32:
            raise DemoFormatError(f"{where}: {key} has dtype {array.dtype}, the format stores "
                                  "float32; re-collect it with `oneshot-ros collect`")
        if array.shape != shape:
            raise DemoFormatError(f"{where}: {key} has shape {array.shape}, task {task!r} needs "
                                  f"{shape}; re-collect it")
        finite = np.isfinite(array).all(axis=1)
        if not finite.all():
            raise DemoFormatError(f"{where}: {key} holds NaN or inf (first at step "
                                  f"{int(np.argmin(finite))}); re-collect it")
        _check_magnitude(where, key, array)


# Plausible magnitudes: finite garbage (3e38) trains NaN weights as surely as a NaN does.
# Observations are block offsets from the gripper and finger positions, metres within reach;
# an action moves centimetres per step (max_step_m <= 0.1) and grips +1 (open) or -1 (close).
MAX_ABS = {"obs": 10.0, "actions": 1.0, "expert_actions": 1.0}
_PLAUSIBLE = {"obs": "observations are metres from the gripper, within +-10",
              "actions": "actions are centimetre moves and grips of +-1, within +-1",
              "expert_actions": "actions are centimetre moves and grips of +-1, within +-1"}


def _check_magnitude(where: str, key: str, array: np.ndarray) -> None:
    over = np.abs(array) > MAX_ABS[key]
    if over.any():
        step, column = (int(i) for i in np.argwhere(over)[0])
        raise DemoFormatError(f"{where}: {key} holds {array[step, column]:.3g} at step {step}, "
                              f"column {column}, but {_PLAUSIBLE[key]}; re-collect it")


# --- writing ---------------------------------------------------------------------------------
def _create(path: Path, world_config: dict) -> bool:
    """Create an empty demonstration file unless `path` exists; True if this call created it.

    Written to a temporary file, then hard-linked into place: the link is atomic and fails when
    another process created `path` meanwhile (a rename would silently replace that process's
    file while it writes to it, losing its demonstrations).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w") as h5:
            h5.attrs.update({
                "format": FORMAT, "format_version": FORMAT_VERSION,
                "package_version": __version__, "world_config": _dumps(world_config),
                "obs_layout": _dumps(obs_layout_description()),
                "action_layout": _dumps(action_layout_description(world_config)),
            })
            h5.create_group(DATA).attrs[N_DEMOS] = 0
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


class DemoWriter:
    """Append episodes to a new or existing demonstration file; each append is one commit."""

    def __init__(self, path: str | Path, world_config: dict, compression: str | None = "gzip",
                 fsync: bool = True):
        self.path = Path(path)
        self.world_config = json.loads(_dumps(world_config))  # JSON-able, normalised
        self.compression = compression
        if self.path.exists() or not _create(self.path, self.world_config):
            with _open_h5(self.path) as h5:
                check_file(h5, self.path)
                self._check_world(world_config_of(h5, self.path))
        self._io = journal.JournaledFile(self.path, fsync=fsync)
        self._h5 = h5py.File(self._io, "a")
        self._data = self._h5[DATA]
        existing = [_checked_attrs(self._data[demo_name(k)], f"{self.path} {demo_name(k)}")
                    for k in range(len(self))]
        self._keys = {_key(attrs) for attrs in existing}
        self._noise = {float(attrs["noise"]) for attrs in existing}

    def _check_world(self, stored: dict) -> None:
        if with_defaults(stored) != with_defaults(self.world_config):
            diff = sorted(k for k in set(stored) | set(self.world_config)
                          if stored.get(k) != self.world_config.get(k))
            raise DemoFormatError(
                f"{self.path} was collected with a different world config (differs in {diff}); "
                "write these demonstrations to a new file"
            )

    def __len__(self) -> int:
        return int(self._data.attrs[N_DEMOS])

    def keys(self) -> set[tuple[str, int]]:
        """(task, seed) of every committed demonstration: what a resumed collection skips."""
        return set(self._keys)

    def noise_levels(self) -> set[float]:
        """Demonstrator noise std of the stored demonstrations (a resume must not mix them)."""
        return set(self._noise)

    def append(self, episode: Episode, attempts: int = -1) -> int:
        """Write one episode and commit it; returns its index in this file."""
        index = len(self)
        try:
            check_demo_arrays(f"episode ({episode.task!r}, seed {episode.seed})", episode.task,
                              {key: getattr(episode, key) for key in ARRAYS})
        except DemoFormatError as err:
            raise InputError(f"{err}; not written to {self.path}") from None
        try:
            self._write_group(demo_name(index), episode, attempts)
        except BaseException:
            if demo_name(index) in self._data:  # never leave a half-written group behind
                del self._data[demo_name(index)]
            raise
        self._data.attrs[N_DEMOS] = index + 1
        self._h5.flush()
        self._io.commit()
        self._keys.add((episode.task, int(episode.seed)))
        self._noise.add(float(episode.noise))
        return index

    def _write_group(self, name: str, episode: Episode, attempts: int) -> None:
        group = self._data.create_group(name)
        for key in ARRAYS:
            group.create_dataset(key, data=getattr(episode, key), compression=self.compression,
                                 shuffle=self.compression is not None)
        group.attrs.update(_episode_attrs(episode, attempts))

    def close(self) -> None:
        if self._h5.id.valid:
            self._h5.close()
            self._io.commit()
            self._io.close()

    def __enter__(self) -> DemoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _episode_attrs(episode: Episode, attempts: int) -> dict:
    return {
        "task": episode.task, "seed": int(episode.seed), "noise": float(episode.noise),
        "success": bool(episode.success), "outcome": episode.outcome,
        "length": episode.length, "n_blocks": episode.n_blocks,
        "stage_ends": np.asarray(episode.stage_ends, dtype=np.int64),
        "source": episode.source, "attempts": int(attempts),
    }


def _key(attrs) -> tuple[str, int]:
    return str(attrs["task"]), int(attrs["seed"])


def _checked_attrs(group: h5py.Group, where: str) -> dict:
    """The demonstration's attributes, with every required one present and a valid task."""
    attrs = dict(group.attrs)
    missing = [key for key in REQUIRED_ATTRS if key not in attrs]
    if missing:
        raise DemoFormatError(f"{where} lacks the attribute(s) {missing}: damaged; re-collect it")
    try:
        attrs["task"] = parse_task(str(attrs["task"])).string
    except TaskError as err:
        raise DemoFormatError(f"{where}: {err}") from None
    return attrs


def _checked_meta(group: h5py.Group, where: str) -> dict:
    """The demonstration's attributes, typed, in range and consistent with its task.

    Checked for every demonstration when a file is opened (no array is read), so a damaged
    attribute is one clear line, not a crash or a wrong summary later. Whether `length` matches
    the arrays is checked when they are read (_check_demo_length): a damaged array refuses its
    demonstration only.
    """
    attrs = _checked_attrs(group, where)
    task = parse_task(attrs["task"])
    meta = {**attrs,
            "seed": _integer(attrs, "seed", where, minimum=0),
            "noise": _real(attrs, "noise", where, 0.0, MAX_ABS["actions"]),
            "success": _boolean(attrs, "success", where),
            "outcome": _one_of(attrs, "outcome", where, OUTCOMES),
            "source": _text(attrs, "source", where),
            "length": _integer(attrs, "length", where, minimum=1, default=_rows(group)),
            "n_blocks": _integer(attrs, "n_blocks", where, minimum=1, default=task.n_blocks),
            "attempts": _integer(attrs, "attempts", where, minimum=-1, default=-1)}
    if meta["n_blocks"] != task.n_blocks:
        raise DemoFormatError(f"{where}: n_blocks={meta['n_blocks']} but task "
                              f"{meta['task']!r} has {task.n_blocks} blocks: damaged; "
                              "re-collect it")
    meta["stage_ends"] = _stage_ends(attrs["stage_ends"], meta["length"], task.n_stages, where)
    return meta


def _rows(group: h5py.Group) -> int:
    """Steps stored, from the obs header (files that predate the `length` attribute)."""
    obs = group.get("obs")
    return int(obs.shape[0]) if obs is not None and len(obs.shape) == 2 else -1


def _check_demo_length(where: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    if len(arrays["obs"]) != meta["length"]:
        raise DemoFormatError(f"{where}: length={meta['length']} but obs holds "
                              f"{len(arrays['obs'])} steps: damaged; re-collect it")


def _stage_ends(value, length: int, n_stages: int, where: str) -> list[int]:
    """Steps at which each stage first held: at most one per stage, in order, within the demo
    (two stages may end at one step, so equal neighbours are fine)."""
    ends = np.asarray(value)
    if ends.ndim != 1 or (ends.size and not np.issubdtype(ends.dtype, np.integer)):
        raise DemoFormatError(f"{where}: stage_ends={_shown(value)} is not a list of step "
                              "indices: damaged; re-collect it")
    problem = ("more ends than the task's stages" if len(ends) > n_stages
               else "not in increasing order" if np.any(np.diff(ends) < 0)
               else f"outside the demo's steps 0..{length - 1}" if np.any((ends < 0)
                                                                         | (ends >= length))
               else None)
    if problem:
        raise DemoFormatError(f"{where}: stage_ends={_shown(value)} is {problem}: damaged; "
                              "re-collect it")
    return [int(s) for s in ends]


_NO_DEFAULT = object()


def _integer(attrs: dict, name: str, where: str, minimum: int, default=_NO_DEFAULT) -> int:
    if name not in attrs and default is not _NO_DEFAULT:
        return default
    value = attrs[name]
    if not _is_integer(value) or value < minimum:
        raise DemoFormatError(f"{where}: {name}={_shown(value)} is not an integer >= {minimum}: "
                              "damaged; re-collect it")
    return int(value)


def _is_integer(value) -> bool:
    return np.ndim(value) == 0 and np.issubdtype(np.asarray(value).dtype, np.integer)


def _real(attrs: dict, name: str, where: str, low: float, high: float) -> float:
    value = attrs[name]
    kind = np.asarray(value).dtype
    if not (np.ndim(value) == 0 and (np.issubdtype(kind, np.floating) or _is_integer(value))
            and low <= float(value) <= high):  # NaN fails the comparison
        raise DemoFormatError(f"{where}: {name}={_shown(value)} is not a number in "
                              f"{low:g}..{high:g}: damaged; re-collect it")
    return float(value)


def _boolean(attrs: dict, name: str, where: str) -> bool:
    value = attrs[name]
    if not (isinstance(value, bool | np.bool_) or (_is_integer(value) and value in (0, 1))):
        raise DemoFormatError(f"{where}: {name}={_shown(value)} is not true or false: damaged; "
                              "re-collect it")
    return bool(value)


def _one_of(attrs: dict, name: str, where: str, choices: Sequence[str]) -> str:
    value = attrs[name]
    if not isinstance(value, str) or value not in choices:
        raise DemoFormatError(f"{where}: {name}={_shown(value)} is not one of {list(choices)}: "
                              "damaged; re-collect it")
    return value


def _text(attrs: dict, name: str, where: str) -> str:
    value = attrs[name]
    if not isinstance(value, str) or not value:
        raise DemoFormatError(f"{where}: {name}={_shown(value)} is not a name: damaged; "
                              "re-collect it")
    return value


def _shown(value) -> str:
    """numpy scalars and arrays as plain Python values (np.int64(-5) -> -5)."""
    return repr(value.tolist() if isinstance(value, np.ndarray | np.generic) else value)


# --- reading ---------------------------------------------------------------------------------
def shard_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """A file, several files, or directories of *.h5 shards -> sorted list of files."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            shards = sorted(item.glob("*.h5"))
            if not shards:
                raise FileNotFoundError(f"{item} is a directory without *.h5 shards")
            files += shards
        else:
            files.append(item)
    if not files:
        raise InputError("no demonstration files given")
    return files


class DemoReader:
    """Read-only view of one or more demonstration files as one indexed collection."""

    def __init__(self, paths: str | Path | Sequence[str | Path], keep_bad: bool = False):
        """`keep_bad`: note a demonstration with damaged attributes in `bad` (index -> why) and
        leave it out of `tasks` instead of refusing the whole collection (`oneshot-ros info`
        lists them; training and replay must refuse)."""
        self.paths = shard_paths(paths)
        self._files: list[h5py.File] = []
        self._index: list[tuple[int, str]] = []  # global index -> (file number, group name)
        self.bad: dict[int, str] = {}
        try:
            for number, path in enumerate(self.paths):
                self._add(number, path)
            self._meta = [self._attrs(i, keep_bad) for i in range(len(self))]
        except BaseException:
            self.close()
            raise
        self.tasks: dict[str, list[int]] = {}
        for i, meta in enumerate(self._meta):
            if meta is not None:
                self.tasks.setdefault(meta["task"], []).append(i)
        usable = len(self) - len(self.bad)
        if len(self.keys()) < usable:
            log.warning("%s: %d demonstrations repeat a (task, seed) of another; overlapping "
                        "shards?", self.paths, usable - len(self.keys()))

    def _add(self, number: int, path: Path) -> None:
        h5 = _open_h5(path)
        self._files.append(h5)
        check_file(h5, path)
        world = world_config_of(h5, path)
        if number == 0:
            self.world_config = world
        elif with_defaults(world) != with_defaults(self.world_config):
            raise DemoFormatError(
                f"{path} was collected with a different world config than {self.paths[0]}; "
                "read files of one world together"
            )
        n_demos = int(h5[DATA].attrs[N_DEMOS])
        self._index += [(number, demo_name(k)) for k in range(n_demos)]

    @property
    def format_version(self) -> int:
        return FORMAT_VERSION

    def __len__(self) -> int:
        return len(self._index)

    def _check_index(self, index: int) -> None:
        if not -len(self) <= index < len(self):
            raise OutOfRangeError(f"demonstration {index} out of range: there are {len(self)} "
                                  f"(indices 0..{len(self) - 1}, or -{len(self)}..-1)")

    def _group(self, index: int) -> h5py.Group:
        self._check_index(index)
        number, name = self._index[index]
        return self._files[number][DATA][name]

    def _where(self, index: int) -> str:
        number, name = self._index[index]
        return f"{self.paths[number]} {name} (demonstration {index % len(self)})"

    def _attrs(self, index: int, keep_bad: bool) -> dict | None:
        try:
            return _checked_meta(self._group(index), self._where(index))
        except DemoFormatError as err:
            if not keep_bad:
                raise
            self.bad[index] = str(err)
            return None

    def meta(self, index: int) -> dict:
        """The attributes of demonstration `index` (no arrays are read)."""
        return dict(self._usable_meta(index))

    def _usable_meta(self, index: int) -> dict:
        self._check_index(index)
        meta = self._meta[index]
        if meta is None:  # only with keep_bad
            raise DemoFormatError(self.bad[index % len(self)])
        return meta

    def check_all(self) -> dict[int, str]:
        """Read every demonstration's arrays too (all of them: slow on big files); returns
        `bad`, index -> why that demonstration cannot be used, for each one that cannot."""
        for index in range(len(self)):
            if index not in self.bad:
                try:
                    self._arrays(index)
                except DemoFormatError as err:
                    self.bad[index] = str(err)
        self.bad = dict(sorted(self.bad.items()))
        return dict(self.bad)

    def __getitem__(self, index: int) -> Episode:
        meta = self._usable_meta(index)
        arrays = self._arrays(index)
        return Episode(
            task=meta["task"], seed=meta["seed"], noise=float(meta["noise"]),
            obs=arrays["obs"], actions=arrays["actions"],
            expert_actions=arrays["expert_actions"], success=bool(meta["success"]),
            outcome=str(meta["outcome"]), stage_ends=meta["stage_ends"],
            source=str(meta["source"]),
        )

    def _arrays(self, index: int) -> dict[str, np.ndarray]:
        """The demonstration's arrays, refused unless check_demo_arrays accepts them."""
        group, where = self._group(index), self._where(index)
        missing = [key for key in ARRAYS if key not in group]
        if missing:
            raise DemoFormatError(f"{where} lacks the array(s) {missing}: damaged; re-collect it")
        arrays = {key: group[key][()] for key in ARRAYS}
        meta = self._usable_meta(index)
        check_demo_arrays(where, meta["task"], arrays)
        _check_demo_length(where, meta, arrays)
        return arrays

    def keys(self) -> set[tuple[str, int]]:
        return {(m["task"], m["seed"]) for m in self._meta if m is not None}

    def close(self) -> None:
        for h5 in self._files:
            if h5.id.valid:
                h5.close()
        self._files = []

    def __enter__(self) -> DemoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
