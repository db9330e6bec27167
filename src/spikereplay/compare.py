"""Compare runs: final metrics side by side, the config keys that differ, and optionally a plot of
their accuracy histories.

    spikereplay compare runs/a runs/b results/strategies/table [--plot histories.png]

A sweep directory stands for all its runs.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from spikereplay.errors import SpikeReplayError

COLUMNS = (
    ("final_average_accuracy", "class-IL"),
    ("task_incremental_final_average_accuracy", "task-IL"),
    ("learning_accuracy", "learning acc."),
    ("forgetting", "forgetting"),
    ("backward_transfer", "BWT"),
    ("train_seconds", "train s"),
)


@dataclass
class Entry:
    """One run as compare shows it: its name, its metrics and its config (or a sweep point's values)."""

    name: str
    metrics: dict
    config: dict


def _run_entry(path: Path) -> Entry:
    config = yaml.safe_load((path / "config.yaml").read_text()) if (path / "config.yaml").is_file() else {}
    return Entry(path.name, json.loads((path / "metrics.json").read_text()), config or {})


def _record_entry(record: dict) -> Entry:
    """A sweep's results line: the point's values and the run-level keys stand for its config."""
    config: dict = {key: record.get(key) for key in ("scenario", "strategy", "seed")}
    for key, value in (record.get("point") or {}).items():
        node = config
        *sections, last = key.split(".")
        for section in sections:
            node = node.setdefault(section, {})
        node[last] = value
    return Entry(record["run"], {"complete": True, **record}, config)


def entries(paths: list[str]) -> list[Entry]:
    """The runs named: a run directory, or a sweep directory standing for its runs: the lines of its
    ``results.jsonl`` (a committed sweep has no ``runs/``), then the unfinished runs under ``runs/``."""
    from spikereplay.sweep.results import RESULTS_FILE, read_results

    found: list[Entry] = []
    for text in paths:
        path = Path(text)
        if (path / "metrics.json").is_file():
            found.append(_run_entry(path))
        elif (path / "runs").is_dir() or (path / RESULTS_FILE).is_file():
            # a sweep: its finished runs from results.jsonl (complete even where runs/ holds only some,
            # or none on a fresh clone), then any unfinished run directory
            records = read_results(path / RESULTS_FILE)
            found += [_record_entry(record) for record in records.values()]
            runs = sorted((path / "runs").iterdir()) if (path / "runs").is_dir() else []
            found += [_run_entry(p) for p in runs if p.name not in records and (p / "metrics.json").is_file()]
        elif not path.exists():
            raise SpikeReplayError(f"{path} does not exist")
        else:
            raise SpikeReplayError(
                f"{path} is neither a run directory (no metrics.json) nor a sweep directory (no runs/ or {RESULTS_FILE})"
            )
    if not found:
        raise SpikeReplayError("no runs to compare")
    return found


def flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_differences(configs: list[dict]) -> dict[str, list]:
    """Dotted key -> each run's value, for the keys whose values are not all equal (names and output excluded)."""
    flats = [flatten({k: v for k, v in c.items() if k not in ("name", "output")}) for c in configs]
    keys = sorted(set().union(*flats))
    return {
        k: [f.get(k) for f in flats] for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flats}) > 1
    }


def difference_lines(title: str, names: list[str], differences: dict[str, list]) -> list[str]:
    """``title:`` and one line per differing key with each run's value, or ``title: none``."""
    if not differences:
        return [f"{title}: none"]
    return [f"{title}:"] + [
        f"- {key}: " + ", ".join(f"{name}={json.dumps(v)}" for name, v in zip(names, values))
        for key, values in differences.items()
    ]


def render(runs: list[Entry]) -> str:
    lines = ["| run | " + " | ".join(label for _, label in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for run in runs:
        m = run.metrics
        cells = ["–" if m.get(k) is None else f"{m[k]:.2f}" for k, _ in COLUMNS]
        lines.append(f"| {run.name}{'' if m.get('complete') else ' (incomplete)'} | " + " | ".join(cells) + " |")
    names = [run.name for run in runs]
    lines += ["", *difference_lines("Config differences", names, config_differences([r.config for r in runs]))]
    # Same config, same seed, other bits: the thread count, the CPU and the versions decide them too
    if any(run.metrics.get("environment") for run in runs):
        environments = [run.metrics.get("environment") or {"recorded": False} for run in runs]
        differences = config_differences(environments)
        title = "Environment differences (each can change the numbers)" if differences else "Environment differences"
        lines += ["", *difference_lines(title, names, differences)]
    return "\n".join(lines)


def plot_histories(runs: list[Entry], path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from spikereplay.plots import save_figure

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for run in runs:
        history = run.metrics["average_accuracy"]
        ax.plot(range(1, len(history) + 1), history, marker="o", label=run.name)
    ax.set(xlabel="tasks trained", ylabel="average accuracy over seen tasks (%)", ylim=(0, 101))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole tasks only
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", help="run or sweep directories")
    parser.add_argument("--plot", help="also write a PNG of the runs' accuracy histories")


def main(args) -> int:
    runs = entries(args.dirs)
    print(render(runs))
    if args.plot:
        plot_histories(runs, Path(args.plot))
        print(f"written to {args.plot}")
    return 0
