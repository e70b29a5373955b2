"""An evaluation directory: episodes.jsonl (resumable), settings.json, summary.json, figures.

    out = EvalDir("runs/eval", settings)      # refuses a directory evaluated with other settings
    done = out.done()                         # {(task, index)} already in episodes.jsonl
    out.append(record)                        # one JSON line, flushed: a crash loses one episode
    summary = out.write_summary(units, extra) # summary.json + fig3.png for the requested units
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from oneshot_ros.errors import InputError
from oneshot_ros.evaluate.metrics import summarize
from oneshot_ros.evaluate.plots import plot_success_by_stages

EPISODES_FILE = "episodes.jsonl"
SETTINGS_FILE = "settings.json"
SUMMARY_FILE = "summary.json"
FIGURE_FILE = "fig3.png"


class EvalDir:
    def __init__(self, path: str | Path, settings: dict):
        """settings: everything that changes an episode's result (model hash, ensemble, ...)."""
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"--out {self.path} is a file; pass a directory")
        self.path.mkdir(parents=True, exist_ok=True)
        self._check_settings(settings)
        self.records = self._read_records()

    @property
    def episodes_file(self) -> Path:
        return self.path / EPISODES_FILE

    def _check_settings(self, settings: dict) -> None:
        path = self.path / SETTINGS_FILE
        if path.is_file() and self.episodes_file.is_file():
            stored = json.loads(path.read_text())
            changed = sorted(k for k in set(stored) | set(settings)
                             if stored.get(k) != settings.get(k))
            if changed:
                raise InputError(f"{self.path} holds an evaluation with other settings "
                                 f"({', '.join(changed)}); pass a new --out, or the same "
                                 "settings to resume")
        path.write_text(json.dumps(settings, indent=2) + "\n")

    def _read_records(self) -> dict[tuple[str, int], dict]:
        records = read_records(self.episodes_file, cut_torn=True)
        return {(r["task"], r["index"]): r for r in records}

    def done(self) -> set[tuple[str, int]]:
        return set(self.records)

    def append(self, record: dict) -> None:
        with open(self.episodes_file, "a") as stream:
            stream.write(json.dumps(record) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        self.records[(record["task"], record["index"])] = record

    def write_summary(self, units: list[tuple[str, int]], extra: dict) -> dict:
        """summary.json and fig3.png over the records of `units` (in unit order)."""
        missing = [u for u in units if u not in self.records]
        if missing:
            raise RuntimeError(f"{len(missing)} episodes missing from {self.episodes_file}")
        summary = summarize([self.records[u] for u in units])
        summary.update(extra)
        (self.path / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
        if summary["splits"]:
            plot_success_by_stages(summary, self.path / FIGURE_FILE)
        return summary


def read_records(path: Path, cut_torn: bool = False) -> list[dict]:
    """The complete lines of an episodes.jsonl ([] when there is none); a torn last line (a
    crash) is left out, and with cut_torn cut off the file."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    if cut_torn and len(complete) != len(data):
        with open(path, "r+b") as stream:
            stream.truncate(len(complete))
    return [json.loads(line) for line in complete.decode().splitlines() if line.strip()]
