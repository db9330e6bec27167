"""Summarize the metrics files of this folder into summary.md: python results/engine-accuracy/summarize.py"""

import json
import statistics
from pathlib import Path

here = Path(__file__).resolve().parent
runs = {p.name.removesuffix(".metrics.json"): json.loads(p.read_text()) for p in sorted(here.glob("*.metrics.json"))}


def fmt(value):
    return "-" if value is None else f"{value:.2f}"


lines = [
    "# Short runs on configs/quick.yaml",
    "",
    "2000 training images per class, T=10, batch 16, 1 epoch per task, full MNIST test set; class-incremental",
    "MR10 interleaved replay unless the name says otherwise. Commands: run.sh, seeds.sh, scenarios.sh; logs beside them.",
    "Training seconds are wall time on the shared 2-core machine; some runs overlapped other jobs (cil_naive ran",
    "beside the test suite), so compare speed in results/benchmark.md, not here.",
    "",
    "| run | final avg acc % | forgetting | BWT | task-incremental % | training s |",
    "|---|---|---|---|---|---|",
]
for name, m in runs.items():
    lines.append(
        f"| {name} | {fmt(m['final_average_accuracy'])} | {fmt(m['forgetting'])} | {fmt(m['backward_transfer'])} "
        f"| {fmt(m['task_incremental_final_average_accuracy'])} | {m['train_seconds']:.0f} |"
    )
lines += ["", "## Engines over seeds 0-2 (same config)", "", "| engine | mean final avg acc % | std |", "|---|---|---|"]
for engine in ("textbook_fp32", "fused_fp32", "fused_bf16"):
    values = [m["final_average_accuracy"] for n, m in runs.items() if n == engine or n.startswith(engine + "_seed")]
    lines.append(f"| {engine} ({len(values)} seeds) | {statistics.mean(values):.2f} | {statistics.stdev(values):.2f} |")
(here / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
