"""Evaluation metrics: per-episode records -> success by number of stages, train vs test.

    summary = summarize(records)       # records: the dicts of episodes.jsonl
    summary["success_rate"], summary["by_stages"]["2"], summary["splits"]["test"]["table"]

Success rates are fractions in [0, 1]; the paper's numbers (Tables 3/4, in %) are converted to
fractions too. Episodes whose conditioning demonstration could not be produced (outcome
NO_DEMO) are counted but excluded from every rate.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from oneshot_ros.world.success import OUTCOMES
from oneshot_ros.world.tasks import parse_task, split_tasks

NO_DEMO = "no_demonstration"  # the demonstrator failed on every demo seed: not evaluated
SPLITS = ("train", "test", "val", "other")

# Duan et al. 2017, Tables 3 (train) and 4 (test): success % by number of stages.
PAPER_BC = {"train": {1: 99.1, 2: 93.7, 3: 86.9, 4: 76.7, 5: 65.4, 6: 52.4, 7: 37.5},
            "test": {2: 95.9, 4: 74.8, 5: 64.3, 6: 46.5, 7: 38.5, 8: 24.0}}
PAPER_DEMO = {"train": {1: 99.1, 2: 95.6, 3: 88.5, 4: 78.6, 5: 67.3, 6: 55.7, 7: 42.8},
              "test": {2: 95.8, 4: 77.6, 5: 65.9, 6: 49.4, 7: 46.5, 8: 29.0}}
PAPER_DAGGER = {"train": {1: 99.1, 2: 94.3, 3: 88.0, 4: 78.2, 5: 65.9, 6: 51.5, 7: 34.3},
                "test": {2: 94.9, 4: 77.0, 5: 65.9, 6: 50.6, 7: 36.5, 8: 18.0}}
# The paper's §6 baselines (trained with DAgger there): Snapshot and Final state.
PAPER_SNAPSHOT = {"train": {1: 97.2, 2: 92.6, 3: 86.7, 4: 76.4, 5: 62.5, 6: 47.0, 7: 31.4},
                  "test": {2: 92.8, 4: 77.2, 5: 61.1, 6: 42.6, 7: 32.8, 8: 19.0}}
PAPER_FINAL_STATE = {"train": {1: 98.8, 2: 86.7, 3: 84.8, 4: 71.9, 5: 60.6, 6: 43.6, 7: 31.5},
                     "test": {2: 94.1, 4: 75.8, 5: 51.9, 6: 35.9, 7: 32.0, 8: 20.0}}
PAPER_COLUMNS = {"demo": PAPER_DEMO, "dagger": PAPER_DAGGER, "bc": PAPER_BC,
                 "snapshot": PAPER_SNAPSHOT, "final_state": PAPER_FINAL_STATE}


@lru_cache(maxsize=1)
def _split_sets() -> dict[str, frozenset]:
    # split_tasks() is what config/tasks/{train,test,val}.txt hold (test_tasks checks the files).
    split = split_tasks()
    return {name: frozenset(t.string for t in getattr(split, name))
            for name in ("train", "test", "val")}


def split_of(task: str) -> str:
    """'train', 'test' or 'val' by membership in config/tasks/*.txt, else 'other'."""
    name = parse_task(task).string
    return next((split for split, tasks in _split_sets().items() if name in tasks), "other")


def _rate(records: list[dict], key: str = "success") -> float | None:
    values = [bool(r[key]) for r in records if r.get(key) is not None]
    return sum(values) / len(values) if values else None


def _evaluated(records: list[dict]) -> list[dict]:
    return [r for r in records if r["outcome"] != NO_DEMO]


def _by_stages(records: list[dict], key: str = "success") -> dict[str, float]:
    groups: dict[int, list[dict]] = {}
    for r in records:
        groups.setdefault(r["stages"], []).append(r)
    rates = {str(s): _rate(groups[s], key) for s in sorted(groups)}
    return {s: v for s, v in rates.items() if v is not None}


def _table(records: list[dict], split: str) -> list[dict]:
    """One row per number of stages: ours beside the demonstrator and the paper."""
    rows = []
    for stages in sorted({r["stages"] for r in records}):
        group = [r for r in records if r["stages"] == stages]
        paper_bc = PAPER_BC.get(split, {}).get(stages)
        paper_demo = PAPER_DEMO.get(split, {}).get(stages)
        rows.append({"stages": stages, "tasks": len({r["task"] for r in group}),
                     "episodes": len(group), "success_rate": _rate(group),
                     "demo_success_rate": _rate(group, "demo_success"),
                     "paper_bc": None if paper_bc is None else paper_bc / 100,
                     "paper_demo": None if paper_demo is None else paper_demo / 100})
    return rows


def _group(records: list[dict], split: str) -> dict:
    return {"episodes": len(records), "tasks": len({r["task"] for r in records}),
            "success_rate": _rate(records), "demo_success_rate": _rate(records, "demo_success"),
            "by_stages": _by_stages(records),
            "demo_by_stages": _by_stages(records, "demo_success"),
            "table": _table(records, split)}


def summarize(records: list[dict]) -> dict:
    """The summary.json object (also what `oneshot-ros eval --json` prints)."""
    evaluated = _evaluated(records)
    outcomes = Counter(r["outcome"] for r in records)
    demo_outcomes = Counter(r["demo_outcome"] for r in evaluated if r.get("demo_outcome"))
    splits = {s: _group([r for r in evaluated if r["split"] == s], s) for s in SPLITS}
    return {
        "episodes": len(records),
        "evaluated_episodes": len(evaluated),
        "tasks": len({r["task"] for r in records}),
        "success_rate": _rate(evaluated),
        "demo_success_rate": _rate(evaluated, "demo_success"),
        "by_stages": _by_stages(evaluated),
        "demo_by_stages": _by_stages(evaluated, "demo_success"),
        "outcomes": {k: outcomes.get(k, 0) for k in (*OUTCOMES, NO_DEMO)},
        "demo_outcomes": {k: demo_outcomes.get(k, 0) for k in OUTCOMES},
        "mean_stages_placed": _mean([r["n_placed"] for r in evaluated]),
        "expert_agreement": expert_agreement(evaluated),
        "splits": {s: group for s, group in splits.items() if group["episodes"]},
    }


def expert_agreement(records: list[dict]) -> dict[str, float]:
    """Stages placed -> mean over episodes of the policy's agreement with the expert there
    (rollout.ExpertAgreement); episodes that never reached a stage count do not enter it."""
    per_stage: dict[int, list[float]] = {}
    for r in records:
        for stage, fraction in r.get("expert_agreement", {}).items():
            per_stage.setdefault(int(stage), []).append(fraction)
    return {str(k): _mean(v) for k, v in sorted(per_stage.items())}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
