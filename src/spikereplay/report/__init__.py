"""Summarize a sweep's results.jsonl as report.md and PNG plots, beside the published numbers.

Runs are grouped into rows by (scenario, strategy, memory size, replay schedule) and any
other setting the sweep varied; each row averages its runs over seeds (mean ± sample std).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from spikereplay.errors import SpikeReplayError
from spikereplay.report.markdown import VERDICTS, beats, final_row, render_report, reproduces
from spikereplay.report.rows import (
    PUBLISHED,
    RowKey,
    format_mean_std,
    group_rows,
    history_columns,
    mean_matrix,
    mean_std,
    published,
    row_key,
    row_label,
    seed_finals,
    summed_confusions,
)
from spikereplay.sweep.results import RESULTS_FILE, read_results


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


def not_a_sweep_directory(path: Path) -> str:
    """Why ``path`` gives no report, in the words that fit what it is."""
    if not path.exists():
        return f"{path} does not exist: give a sweep's output directory (its output_dir)"
    if path.is_file() and path.suffix in (".yaml", ".yml"):
        from spikereplay.sweep.file import load_sweep, sweep_dir

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
    from spikereplay.report.plots import plot_final_vs_memory, plot_history, plot_task_histories
    from spikereplay.report.strategies import is_strategies_sweep, plot_final_vs_buffer, render_strategies_report

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


__all__ = [
    "PUBLISHED",
    "VERDICTS",
    "RowKey",
    "beats",
    "final_row",
    "format_mean_std",
    "group_rows",
    "history_columns",
    "mean_matrix",
    "mean_std",
    "published",
    "render_report",
    "reproduces",
    "row_key",
    "row_label",
    "summed_confusions",
    "seed_finals",
    "write_report",
]
