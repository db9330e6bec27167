"""The published code's own runs beside the faithful mode's on the same seed (markdown on stdout).

Reads results/seed-faithful/published-code/<scenario>_mr<k>_run<r>/accuracy.json (the published
test.py's table: one entry per trained task, "Acc task j" as a fraction) and the
faithful sweep's results.jsonl. Usage: python sweeps/seed-faithful/published_table.py [RESULTS_DIR]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from spikereplay.report import PUBLISHED
from spikereplay.sweep.results import read_results

SCENARIOS = {"cil": "class_incremental", "tf": "task_free"}


def final_row(table: list[dict]) -> list[float]:
    """Accuracies (%) of every task after the last task, from the published test.py's json."""
    last = max(table, key=lambda entry: entry["Trained task"])
    values = [last[f"Acc task {j}"] for j in range(last["Trained task"] + 1)]
    return [100 * v for v in values]  # batch_accuracy and the stored validation accuracy are fractions


def render(directory: Path) -> str:
    faithful = read_results(directory / "results.jsonl")
    lines = [
        "| row | seed | published code, final row (%) | published code, final average | faithful mode, same seed | published (paper) |",
        "|---|---|---|---|---|---|",
    ]
    for run_dir in sorted((directory / "published-code").glob("*_mr*_run*")):
        match = re.fullmatch(r"(cil|tf)_mr(\d+)_run(\d+)", run_dir.name)
        if not match or not (run_dir / "accuracy.json").is_file():
            continue
        short, memory, run = match.group(1), int(match.group(2)), int(match.group(3))
        seed = 123 + 10 * run
        row = final_row(json.loads((run_dir / "accuracy.json").read_text()))
        ours = faithful.get(f"{short}_replay_mr{memory}_seed{seed}", {}).get("final_average_accuracy")
        paper = PUBLISHED.get(SCENARIOS[short], {}).get(f"MR{memory}")
        lines.append(
            f"| {SCENARIOS[short]} MR{memory} | {seed} | {', '.join(f'{v:.2f}' for v in row)} | "
            f"{sum(row) / len(row):.2f} | {'–' if ours is None else f'{ours:.2f}'} | {paper if paper is not None else '–'} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(Path(sys.argv[1] if len(sys.argv) > 1 else "results/seed-faithful")))
