"""What a demonstration collection holds: counts per task and stage count, lengths, success."""

from __future__ import annotations

from collections import Counter

import numpy as np

from oneshot_ros.data.storage import DemoReader
from oneshot_ros.world.tasks import parse_task


def summarize(reader: DemoReader) -> dict:
    """One JSON-able dict (the `oneshot-ros info --json` object).

    "demos" counts every stored demonstration; the figures cover the usable ones, and
    "bad_demos" lists the others (index, why) as far as the reader knows them: a reader opened
    with keep_bad=True and check_all() knows them all.
    """
    metas = [reader.meta(i) for i in range(len(reader)) if i not in reader.bad]
    lengths = np.array([m["length"] for m in metas], dtype=np.int64)
    attempts = [m["attempts"] for m in metas if m["attempts"] > 0]
    stages = Counter(parse_task(m["task"]).n_stages for m in metas)
    return {
        "format_version": reader.format_version,
        "files": [str(p) for p in reader.paths],
        "bytes": sum(p.stat().st_size for p in reader.paths),
        "demos": len(reader),
        "bad_demos": [{"index": i, "problem": why} for i, why in sorted(reader.bad.items())],
        "tasks": dict(sorted(Counter(m["task"] for m in metas).items())),
        "demos_by_stages": {str(k): stages[k] for k in sorted(stages)},
        "mean_length": float(lengths.mean()) if len(lengths) else 0.0,
        "length": _range(lengths),
        "mean_length_by_stages": _mean_length_by_stages(metas),
        "success_rate": float(np.mean([m["success"] for m in metas])) if metas else 0.0,
        # demos kept / seeds tried, over demos whose collector recorded its attempts
        "demonstrator_success_rate": len(attempts) / sum(attempts) if attempts else None,
        "noise": sorted({float(m["noise"]) for m in metas}),
        "sources": dict(Counter(str(m["source"]) for m in metas)),
        "world_config": reader.world_config,
    }


def _range(values: np.ndarray) -> dict:
    if not len(values):
        return {"min": 0, "max": 0}
    return {"min": int(values.min()), "max": int(values.max())}


def _mean_length_by_stages(metas: list[dict]) -> dict:
    by_stage: dict[int, list[int]] = {}
    for m in metas:
        by_stage.setdefault(parse_task(m["task"]).n_stages, []).append(m["length"])
    return {str(k): float(np.mean(v)) for k, v in sorted(by_stage.items())}
