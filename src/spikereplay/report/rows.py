"""A sweep's result lines grouped into the report's rows, and the statistics every part of the
report shares (mean ± std over seeds, mean matrices, labels), so that the markdown, the plots and
the strategies table read one module."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean, stdev
from typing import NamedTuple

# Final average accuracy (%) of Proietti et al., MLSP 2023 (the seed), by row label.
PUBLISHED = {
    "class_incremental": {
        "naive": 43.9,
        "MR10": 47.9,
        "MR20": 42.5,
        "MR30": 50.0,
        "MR40": 51.0,
        "MR50": 46.7,
        "MR100": 49.3,
        "joint": 90.1,
    },
    "task_free": {
        "naive": 21.6,
        "MR10": 24.5,
        "MR20": 27.1,
        "MR30": 28.1,
        "MR40": 28.3,
        "MR50": 33.1,
        "MR100": 36.0,
        "joint": 90.1,
    },
}
SCENARIO_ORDER = ["class_incremental", "task_free", "domain_incremental"]
STRATEGY_ORDER = {"naive": 0, "replay": 1, "joint": 2}
# Point keys that the row key already covers; any other varied key makes its own row.
ROW_KEYS = {"scenario", "strategy", "memory.batches_per_task", "replay.schedule", "seed"}


class RowKey(NamedTuple):
    scenario: str
    strategy: str
    memory: int
    schedule: str | None
    variant: tuple[tuple[str, str], ...] = ()


def row_key(record: dict) -> RowKey:
    variant = tuple(sorted((k, json.dumps(v)) for k, v in (record.get("point") or {}).items() if k not in ROW_KEYS))
    return RowKey(
        record["scenario"], record["strategy"], record["batches_per_task"], record.get("replay_schedule"), variant
    )


def _sort_key(key: RowKey):
    return (STRATEGY_ORDER.get(key.strategy, 9), key.memory, key.schedule not in (None, "interleaved"), key)


def base_label(key: RowKey) -> str:
    return f"MR{key.memory}" if key.strategy == "replay" else key.strategy


def label_with_extras(label: str, key: RowKey) -> str:
    """Append the schedule (when not the default) and any other varied settings."""
    extras = [key.schedule] if key.schedule not in (None, "interleaved") else []
    extras += [f"{k}={v}" for k, v in key.variant]
    return label + (f" ({', '.join(extras)})" if extras else "")


def row_label(key: RowKey) -> str:
    return label_with_extras(base_label(key), key)


def published(key: RowKey) -> float | None:
    return PUBLISHED.get(key.scenario, {}).get(base_label(key))


def group_rows(records: list[dict]) -> dict[str, dict[RowKey, list[dict]]]:
    """Scenario -> row key -> its runs, scenarios and rows in report order."""
    groups: dict[str, dict[RowKey, list[dict]]] = {}
    for record in records:
        key = row_key(record)
        groups.setdefault(key.scenario, {}).setdefault(key, []).append(record)
    order = sorted(groups, key=lambda s: (SCENARIO_ORDER.index(s) if s in SCENARIO_ORDER else 9, s))
    return {s: {k: groups[s][k] for k in sorted(groups[s], key=_sort_key)} for s in order}


def mean_std(values: list) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof=1) of the values given; None where undefined."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return mean(values), (stdev(values) if len(values) > 1 else None)


def format_mean_std(values: list, digits: int = 1) -> str:
    m, s = mean_std(values)
    if m is None:
        return "–"
    return f"{m:.{digits}f}" if s is None else f"{m:.{digits}f} ± {s:.{digits}f}"


def num_tasks(records: list[dict]) -> int:
    return max(len(r["accuracy_matrix"][-1]) for r in records)


def history_columns(runs: list[dict], tasks: int) -> list[list[float]]:
    """Per column T1..T<tasks>, the average accuracy of each run; joint (one step) fills the last column."""
    columns: list[list[float]] = [[] for _ in range(tasks)]
    for run in runs:
        history = run["average_accuracy"]
        offset = tasks - len(history) if len(history) == 1 else 0
        for i, value in enumerate(history):
            columns[offset + i].append(value)
    return columns


def mean_matrix(matrices: list[list[list]]) -> list[list]:
    """Element-wise mean over runs; entries no run has (tasks not yet seen) stay None."""
    steps = max(len(m) for m in matrices)
    width = max(len(row) for m in matrices for row in m)
    out = []
    for i in range(steps):
        row = []
        for j in range(width):
            values = [m[i][j] for m in matrices if i < len(m) and j < len(m[i]) and m[i][j] is not None]
            row.append(mean(values) if values else None)
        out.append(row)
    return out


def repeated_seeds(runs: list[dict]) -> list[int]:
    seeds = [r["seed"] for r in runs]
    return sorted({s for s in seeds if seeds.count(s) > 1})


def seed_finals(runs: list[dict]) -> tuple[list[float], str]:
    """The runs' final average accuracies in seed order, and the same as ``s<seed>: <value>`` text."""
    by_seed = sorted((r["seed"], r["final_average_accuracy"]) for r in runs)
    return [value for _, value in by_seed], ", ".join(f"s{seed}: {value:.2f}" for seed, value in by_seed)


def final_silent_shares(runs: list[dict]) -> list[float | None]:
    """Per run, the % of test samples whose true class's output fired no spike after the last task."""
    return [(r.get("silent_outputs") or [{}])[-1].get("silent_share") for r in runs]


def task_labels(runs: list[dict], count: int) -> list[str]:
    """The runs' task labels ("task 1 (0, 1)"; older runs: "task 1"), the same scheme as a run's plots."""
    recorded = next((r["task_labels"] for r in runs if r.get("task_labels")), None)
    return recorded[:count] if recorded and len(recorded) >= count else [f"task {j + 1}" for j in range(count)]


def joint_reference(rows: dict[RowKey, list[dict]]) -> list | None:
    """The final row of the joint runs (mean over seeds), the reference of intransigence; None without one."""
    joint = [r["accuracy_matrix"] for k, runs in rows.items() if k.strategy == "joint" for r in runs]
    return mean_matrix(joint)[-1] if joint else None


def run_confusion(record: dict, directory: Path) -> dict | None:
    """A run's final confusion matrix: from its result line, or (older sweeps) its run directory."""
    if record.get("confusion"):
        return record["confusion"]
    path = directory / "runs" / record["run"] / "metrics.json"
    return json.loads(path.read_text()).get("confusion") if path.exists() else None


def summed_confusions(rows: dict[RowKey, list[dict]], directory: Path) -> list[tuple[str, dict]]:
    """(row label, confusion counts summed over the row's seeds) for each row whose runs all have one."""
    panels = []
    for key, runs in rows.items():
        found = [run_confusion(r, directory) for r in runs]
        if not found or any(c is None for c in found) or any(c["classes"] != found[0]["classes"] for c in found):
            continue
        total = [
            [sum(c["matrix"][i][k] for c in found) for k in range(len(row))] for i, row in enumerate(found[0]["matrix"])
        ]
        seeds = f"{len(found)} seed{'s' if len(found) > 1 else ''}"
        panels.append((f"{row_label(key)} ({seeds})", {"classes": found[0]["classes"], "matrix": total}))
    return panels
