"""Categorical vs L2 action head on the same data and budget (both reported).

    for h in categorical l2; do
      oneshot-ros train --config config/train/heads_$h.yaml --data data/train.h5 \
          --out runs/heads_$h
    done
    python bench/compare_heads.py runs/heads_categorical runs/heads_l2

The two configs differ only in policy.action_head. Training losses are not comparable across
heads (cross-entropy vs squared error), so the runs are judged by the validation metrics the
trainer logs for every head: the greedy action's mean |error| per axis in mm against the expert
label on held-out demonstrations, and the gripper command accuracy. Prints a table, writes
<out>.json and <out>.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load_run(run: Path) -> dict:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
            if line]
    config = json.loads((run / "config.json").read_text())
    val = [r for r in rows if "val_move_err_mm" in r]
    if not val:
        raise SystemExit(f"{run}: no validation rows with val_move_err_mm; train it first")
    return {"run": str(run), "action_head": config["policy"]["action_head"],
            "iterations": rows[-1]["iteration"], "wall_s": round(rows[-1]["wall_s"], 1),
            "curve": [[r["iteration"], round(r["val_move_err_mm"], 3),
                       round(r["val_grip_acc"], 4)] for r in val],
            "final_move_err_mm": round(val[-1]["val_move_err_mm"], 3),
            "final_grip_acc": round(val[-1]["val_grip_acc"], 4)}


def plot(results: list[dict], out_png: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for r in results:
        its, err, _ = zip(*r["curve"], strict=True)
        ax.plot(its, err, "o-", label=r["action_head"])
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation |action - expert|, mm per axis")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="training output directories")
    ap.add_argument("--out", type=Path, default=Path("bench/results/action_heads"))
    args = ap.parse_args()
    results = [load_run(run) for run in args.runs]
    print("head         iterations  wall s  val |a - a*| mm/axis  val gripper accuracy")
    for r in results:
        print(f"{r['action_head']:<12} {r['iterations']:>10}  {r['wall_s']:>6.0f}  "
              f"{r['final_move_err_mm']:>20.2f}  {100 * r['final_grip_acc']:>19.1f}%")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    plot(results, args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
