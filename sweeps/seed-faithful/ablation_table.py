"""The cumulative ablation table of results/seed-faithful-ablation (markdown on stdout).

Each grid of the ablation sweeps adds one switched-off quirk to the previous grid's, so a run's
step is the number of keys its point varies beyond seed and memory, and the step's label is the
key it adds. Usage: python sweeps/seed-faithful/ablation_table.py [results/seed-faithful-ablation]
"""

from __future__ import annotations

import sys
from pathlib import Path

from spikereplay.metrics import first_scores
from spikereplay.report import format_mean_std, seed_finals
from spikereplay.sweep.results import read_results

FIXED = {"seed", "memory.batches_per_task"}
# speed settings, not quirks, so they do not make a step: compile_forward changes only the float summation
# order, and bf16 measured level with fp32 (93.9 % vs 93.5 %, configs/quick.yaml, 3 seeds, results/engine-accuracy/)
ENGINE = {"model.compile", "model.compile_forward", "precision"}
LABELS = {"scenario": {"class_incremental": "class-incremental MR40", "task_free": "task-free MR100"}}


def steps_of(records: list[dict]) -> dict[str, list[tuple[frozenset, list[dict]]]]:
    """Scenario -> [(switched-off keys, runs)] in step order."""
    by_scenario: dict[str, dict[frozenset, list[dict]]] = {}
    for record in records:
        point = record.get("point") or {}
        keys = frozenset((k, str(v)) for k, v in point.items() if k not in FIXED | ENGINE)
        by_scenario.setdefault(record["scenario"], {}).setdefault(keys, []).append(record)
    return {s: sorted(steps.items(), key=lambda item: len(item[0])) for s, steps in by_scenario.items()}


def unlearnt_tasks(runs: list[dict], below: float = 50.0) -> str:
    """How many of the runs' tasks after the first score under ``below`` % right after their own
    training (``first_scores``, the matrix's diagonal): the sign of a new head that never wins."""
    firsts = [
        v for run in runs if run.get("accuracy_matrix") for j, v in first_scores(run["accuracy_matrix"]).items() if j
    ]
    return f"{sum(value < below for value in firsts)}/{len(firsts)}" if firsts else "–"


def render(records: list[dict]) -> str:
    lines = [
        "# Ablation: the published code's quirks switched off one at a time (cumulative)",
        "",
        "Final average accuracy, %, mean ± sample std over the seeds listed; each row switches off one "
        "more quirk than the row above it. Under 50 % when trained: of the tasks after the first, how many "
        "score under 50 % right after their own training (the accuracy table's diagonal, as scored by that "
        "step). Made by `python sweeps/seed-faithful/ablation_table.py`.",
    ]
    for scenario, steps in steps_of(records).items():
        lines += ["", f"## {LABELS['scenario'].get(scenario, scenario)}", ""]
        lines += [
            "| step | switched off | final average accuracy | per seed | under 50 % when trained |",
            "|---|---|---|---|---|",
        ]
        previous: frozenset = frozenset()
        for index, (keys, runs) in enumerate(steps):
            added = ", ".join(f"{k}={v}" for k, v in sorted(keys - previous)) or "none (faithful)"
            engine = sorted({f"{k}={v}" for run in runs for k, v in (run.get("point") or {}).items() if k in ENGINE})
            added += f" (engine: {', '.join(engine)})" if engine else ""
            finals, per_seed = seed_finals(runs)
            lines.append(
                f"| {index} | {added} | {format_mean_std(finals, digits=2)} | {per_seed} | {unlearnt_tasks(runs)} |"
            )
            previous = keys
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else "results/seed-faithful-ablation")
    sys.stdout.write(render(list(read_results(directory / "results.jsonl").values())))
