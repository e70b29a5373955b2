"""Does the context network look at the current state? A diagnostic for multi-stage failures.

    python bench/context_probe.py --model models/bc_stack --data data/le2 [--tasks 10] [--json]

For demonstrations of 2+ stage tasks: condition the policy on one demonstration of a task and
feed it the states of ANOTHER demonstration of the same task (every 5th step, stage 1 and
stage 2 alike), with one fixed temporal-dropout draw. Then measure, per task:
- lstm_std_states: std of the final LSTM output over those states (mean over blocks, units);
- lstm_std_blocks: std over the blocks at one state (the demo-driven part, for scale);
- final_attention_change: largest change of any final-attention weight (2 queries x H heads
  over blocks) between any two of the states.
A policy that tracks progress must change which blocks it attends to between stage 1 and
stage 2 (e.g. `cba`: B onto A, then C onto B); if the LSTM output does not move with the
state, the final attention reads the same two blocks at every step and the policy keeps doing
stage 1. Also prints two saturation measures that explain a state-blind LSTM:
- gates_saturated: share of the LSTM cells' gate pre-activations with |.| > 4 (sigmoid/tanh
  flat: a small change of the state inputs cannot move the cell), with the mean size of the
  state inputs (robot + block xyz, metres) beside the demo-derived ones (temp + spatial);
- attention_saturated: share of the final attention's tanh units with |W q + c| > 3.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from oneshot_ros.data.batch import ACTION, DEMO_OBS, OBS, collate
from oneshot_ros.data.storage import DemoReader
from oneshot_ros.policy import checkpoint
from oneshot_ros.world.tasks import parse_task


def probe_task(model, demo, other, stride: int = 5) -> dict:
    steps = np.arange(0, len(other.obs), stride)
    batch = collate([{DEMO_OBS: demo.obs, OBS: other.obs[steps],
                      ACTION: other.expert_actions[steps]}])
    captured, cells = {}, []
    final = model.context_net.final
    hooks = [final.register_forward_hook(lambda _m, args, _o: captured.update(context=args[1]))]
    for step in model.context_net.steps:
        hooks.append(step.cell.register_forward_hook(
            lambda m, args, _o: cells.append((args[0], _input_gates(m, args[0])))))
    with torch.no_grad():
        _, attention = model(batch, torch.Generator().manual_seed(0))
    for hook in hooks:
        hook.remove()
    inputs = torch.cat([x for x, _ in cells])  # (steps * M * B, 5 + rest)
    context = captured["context"][0]  # (M, B, D) final LSTM output at each state
    weights = attention["block"][0]  # (M, 2, B, H)
    projected = final.project_query(model.context_net.final_queries)  # (2, H, D)
    pre = projected[None, :, None] + context[:, None, :, None]  # (M, 2, B, H, D)
    return {"task": other.task, "states": len(steps),
            "lstm_std_states": float(context.std(0).mean()),
            "lstm_std_blocks": float(context.std(1).mean()),
            "final_attention_change": float((weights.amax(0) - weights.amin(0)).max()),
            "gates_saturated": float(torch.cat([g for _, g in cells]).abs().gt(4).float().mean()),
            "state_input": float(inputs[:, :5].abs().mean()),
            "demo_input": float(inputs[:, 5:].abs().mean()),
            "attention_saturated": float((pre.abs() > 3).float().mean())}


def _input_gates(cell: torch.nn.LSTMCell, x: torch.Tensor) -> torch.Tensor:
    """Gate pre-activations from the input alone (the recurrent part is added on top)."""
    return x @ cell.weight_ih.T + cell.bias_ih + cell.bias_hh  # (rows, 4D)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="demonstration file or directory")
    ap.add_argument("--tasks", type=int, default=10, help="2+ stage tasks to probe")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, _ = checkpoint.load(args.model)
    model.eval()
    reader = DemoReader(args.data)
    multi = [t for t in sorted(reader.tasks) if parse_task(t).n_stages >= 2][: args.tasks]
    if not multi:
        raise SystemExit(f"{args.data}: no task with 2 or more stages to probe")
    rows = [probe_task(model, reader[reader.tasks[t][0]], reader[reader.tasks[t][1]])
            for t in multi]
    summary = {key: float(np.mean([r[key] for r in rows]))
               for key in rows[0] if key not in ("task", "states")}
    if args.json:
        print(json.dumps({"model": args.model, "tasks": rows, "mean": summary}))
        return
    columns = [key for key in summary]
    print(f"{'task':24} states  " + "  ".join(columns))
    for r in [*rows, {"task": "mean", "states": "", **summary}]:
        print(f"{r['task']:24} {r['states']:>6}  "
              + "  ".join(f"{r[key]:>{len(key)}.4f}" for key in columns))

if __name__ == "__main__":
    main()
