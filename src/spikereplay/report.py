"""Summarize a sweep's results.jsonl as report.md and PNG plots, beside the published numbers.

Runs are grouped into rows by (scenario, strategy, memory size, replay schedule) and any
other setting the sweep varied; each row averages its runs over seeds (mean ± sample std).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import mean, stdev
from typing import NamedTuple

from spikereplay.errors import SpikeReplayError
from spikereplay.metrics import intransigence, learning_accuracy
from spikereplay.sweep import RESULTS_FILE, read_results

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
SCENARIO_ORDER = ["class_incremental", "task_free"]
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


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def published_mode(directory: Path) -> str | None:
    """What the sweep's files declare (``published: reproduce | beat``), None where none does."""
    import yaml

    modes = set()
    for path in sorted((directory / "sweeps").glob("*.yaml")):
        try:
            mode = (yaml.safe_load(path.read_text()) or {}).get("published")
        except (OSError, yaml.YAMLError, AttributeError):
            continue
        if mode:
            modes.add(mode)
    return "beat" if "beat" in modes else next(iter(modes), None)


def beats(paper: float | None, finals: list[float]) -> str:
    """Whether every seed beats the published value, and the mean's margin."""
    if paper is None or not finals:
        return "–"
    centre = mean(finals)
    if min(finals) > paper:
        return f"yes: {centre - paper:+.1f} (every seed above)"
    return f"**no**: {centre - paper:+.1f} (lowest seed {min(finals):.2f})"


def reproduces(paper: float | None, finals: list[float], margin: float = 5.0) -> str:
    """Whether a published value is reproduced by our seeds: inside their range, or within
    ``margin`` points of their mean; else how far it lies from the range and the mean."""
    if paper is None or not finals:
        return "–"
    low, high, centre = min(finals), max(finals), mean(finals)
    if low <= paper <= high:
        return "yes (in the seeds' range)"
    if abs(paper - centre) <= margin:
        return f"yes ({paper - centre:+.1f} from the mean)"
    outside = paper - (high if paper > high else low)
    return f"**no**: {outside:+.2f} beyond the seeds' range, {paper - centre:+.1f} from the mean"


def seed_finals(runs: list[dict]) -> tuple[list[float], str]:
    """The runs' final average accuracies in seed order, and the same as ``s<seed>: <value>`` text."""
    by_seed = sorted((r["seed"], r["final_average_accuracy"]) for r in runs)
    return [value for _, value in by_seed], ", ".join(f"s{seed}: {value:.2f}" for seed, value in by_seed)


# the report's verdict column per published mode (sweep file key ``published``)
VERDICTS = {"reproduce": ("published value reproduced?", reproduces), "beat": ("beats the published value?", beats)}


def final_row(key: RowKey, runs: list[dict], mode: str | None = None) -> list[str]:
    """Label, final average accuracy as mean ± std (2 decimals), each seed's value, silent outputs,
    and where the sweep declares a published ``mode``: the published value and the verdict."""
    finals, per_seed = seed_finals(runs)
    row = [row_label(key), format_mean_std(finals, digits=2), per_seed, format_mean_std(final_silent_shares(runs))]
    if mode is None:
        return row
    paper = published(key)
    return row + [_fmt(paper), VERDICTS[mode][1](paper, finals)]


def final_silent_shares(runs: list[dict]) -> list[float | None]:
    """Per run, the % of test samples whose true class's output fired no spike after the last task."""
    return [(r.get("silent_outputs") or [{}])[-1].get("silent_share") for r in runs]


def render_report(records: list[dict], title: str = "sweep", mode: str | None = None) -> str:
    """The markdown report of a list of result records (pure: no files); ``mode`` (``reproduce`` or
    ``beat``) adds the published values of Proietti et al. where the sweep ran their protocol."""
    lines = [
        f"# Sweep report: {title}",
        "",
        f"{len(records)} runs. Accuracy in %, mean ± sample std over seeds (just the mean for one seed). "
        "T<i>: average accuracy over the tasks seen after training task i (joint trains once: T-last). "
        "Silent: % of test samples whose true class's output fired no spike after the last task "
        "(– for runs older than the figure). "
        + (
            "Published: final average accuracy of Proietti et al., MLSP 2023, under the protocol this sweep runs."
            if mode
            else "No published value applies: this sweep does not declare the published protocol."
        ),
    ]
    for scenario, rows in group_rows(records).items():
        tasks = num_tasks([r for runs in rows.values() for r in runs])
        lines += ["", f"## {scenario}", "", "### Final average accuracy", ""]
        header = ["row", "mean ± std", "per seed", "silent %"]
        lines += _table(
            header + (["published", VERDICTS[mode][0]] if mode else []),
            [final_row(k, runs, mode) for k, runs in rows.items()],
        )
        lines += ["", "### Average accuracy after each task", ""]
        header = ["row", *(f"T{i + 1}" for i in range(tasks)), *(["published"] if mode else []), "seeds"]
        body = [
            [
                row_label(k),
                *map(format_mean_std, history_columns(runs, tasks)),
                *([_fmt(published(k))] if mode else []),
                str(len(runs)),
            ]
            for k, runs in rows.items()
        ]
        lines += _table(header, body)
        lines += ["", "### Forgetting, backward transfer, learning accuracy, intransigence", ""]
        reference = joint_reference(rows)
        body = [
            [
                row_label(k),
                format_mean_std([r["forgetting"] for r in runs]),
                format_mean_std([r["backward_transfer"] for r in runs]),
                format_mean_std([learning_accuracy(r["accuracy_matrix"]) for r in runs]),
                "–"
                if k.strategy == "joint" or reference is None
                else format_mean_std([intransigence(r["accuracy_matrix"], reference) for r in runs]),
                format_mean_std([r.get("task_incremental_final_average_accuracy") for r in runs]),
            ]
            for k, runs in rows.items()
        ]
        header = ["row", "forgetting", "BWT", "learning accuracy", "intransigence", "task-incremental final"]
        transfer = {k: [r.get("forward_transfer") for r in runs] for k, runs in rows.items()}
        if any(v is not None for values in transfer.values() for v in values):  # runs with training.forward_transfer
            header.append("forward transfer")
            body = [line + [format_mean_std(transfer[k])] for line, k in zip(body, rows)]
        lines += _table(header, body)
        lines += [
            "",
            "Learning accuracy: mean of each task's accuracy right after training it (Riemer et al. 2019). "
            "Forward transfer (where runs measured it): accuracy on a task before training it, minus the "
            "untrained network's (GEM, Lopez-Paz & Ranzato 2017). Intransigence (Chaudhry et al. 2018): the "
            "mean over tasks of (joint accuracy on the task - its accuracy right after training it), the joint "
            "reference being "
            + (
                "this sweep's joint row (mean final row over its seeds)."
                if reference
                else "absent: no joint row here (–)."
            ),
        ]
        lines += ["", "### Accuracy matrices (mean over seeds; row: after task i, column: task j)"]
        for k, runs in rows.items():
            matrix = mean_matrix([r["accuracy_matrix"] for r in runs])
            header = [row_label(k), *task_labels(runs, len(matrix[0]))]
            lines += ["", *_table(header, [[f"after {i + 1}", *map(_fmt, row)] for i, row in enumerate(matrix)])]
        # e.g. naive runs that differ only in replay settings, which naive ignores
        notes = [
            f"{row_label(k)} has seed(s) {repeated_seeds(r)} more than once"
            for k, r in rows.items()
            if repeated_seeds(r)
        ]
        if notes:
            lines += ["", "Note: " + "; ".join(notes) + " (all such runs are averaged)."]
    warned = [(r["run"], w) for r in records for w in r.get("warnings") or []]
    if warned:
        lines += [
            "",
            "## Warnings",
            "",
            "Runs in which a task did not take (their numbers are in the tables above):",
            "",
        ]
        lines += [f"- {run}: {warning}" for run, warning in warned]
    return "\n".join(lines) + "\n"


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


def not_a_sweep_directory(path: Path) -> str:
    """Why ``path`` gives no report, in the words that fit what it is."""
    if not path.exists():
        return f"{path} does not exist: give a sweep's output directory (its output_dir)"
    if path.is_file() and path.suffix in (".yaml", ".yml"):
        from spikereplay.sweep_file import load_sweep, sweep_dir

        try:
            spec, _ = load_sweep(path)
        except SpikeReplayError:
            return f"{path} is a file: give the sweep's output directory, not its sweep file"
        return f"{path} is a sweep file: its results are in {sweep_dir(spec)} (report that directory)"
    if (path / "metrics.json").is_file():
        return f"{path} is a run directory, not a sweep: use `spikereplay compare {path} ...` for runs"
    return f"no results in {path / RESULTS_FILE}: run the sweep first"


def write_report(directory: Path, published: str | None = None) -> list[Path]:
    """Write report.md and the plots into a sweep directory; return the paths written. ``published``
    (reproduce / beat) overrides what the sweep's recorded files declare."""
    from spikereplay import io as atomic

    records = list(read_results(directory / RESULTS_FILE).values())
    if not records:
        raise SpikeReplayError(not_a_sweep_directory(directory))
    from spikereplay.plots import confusion_grid
    from spikereplay.report_plots import plot_final_vs_memory, plot_history, plot_task_histories
    from spikereplay.report_strategies import is_strategies_sweep, plot_final_vs_buffer, render_strategies_report

    if is_strategies_sweep(records):
        written = [directory / "report.md", directory / "final_vs_buffer.png"]
        atomic.write_text(written[0], render_strategies_report(records, directory.name))
        plot_final_vs_buffer(records, written[1])
        return written
    groups = group_rows(records)
    mode = published or published_mode(directory)
    written = [directory / "report.md"]
    atomic.write_text(written[0], render_report(records, directory.name, mode))
    for scenario, rows in groups.items():
        written.append(directory / f"accuracy_history_{scenario}.png")
        plot_history(rows, scenario, written[-1])
        per_task = directory / f"task_accuracy_{scenario}.png"
        if plot_task_histories(rows, scenario, per_task):
            written.append(per_task)
        panels = summed_confusions(rows, directory)
        if panels:
            written.append(directory / f"confusion_{scenario}.png")
            confusion_grid(panels, written[-1], f"{scenario}: confusion after the last task (summed over seeds)")
            written.append(directory / f"confusion_{scenario}.json")  # the plotted counts
            atomic.write_json(written[-1], {label: confusion for label, confusion in panels})
    written.append(directory / "final_vs_memory.png")
    plot_final_vs_memory(groups, written[-1], published_curve=mode is not None)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep_dir", help="sweep directory holding results.jsonl")
    parser.add_argument(
        "--published",
        choices=sorted(VERDICTS),
        help="set the rows beside Proietti et al.'s table (default: as the sweep file's 'published' key says)",
    )


def main(args) -> int:
    for path in write_report(Path(args.sweep_dir), args.published):
        print(path)
    return 0
