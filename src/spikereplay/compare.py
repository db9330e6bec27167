"""Compare runs: final metrics side by side, the config keys that differ, and optionally a plot of
their accuracy histories.

    spikereplay compare runs/a runs/b results/strategies/table [--plot histories.png]

A sweep directory stands for all its runs.
"""

from __future__ import annotations

import argparse
import json
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


def run_dirs(paths: list[str]) -> list[Path]:
    """The run directories named, a sweep directory standing for the runs under its ``runs/``."""
    found = []
    for text in paths:
        path = Path(text)
        if (path / "metrics.json").is_file():
            found.append(path)
        elif (path / "runs").is_dir():
            found += sorted(p for p in (path / "runs").iterdir() if (p / "metrics.json").is_file())
        else:
            raise SpikeReplayError(
                f"{path} is neither a run directory (no metrics.json) nor a sweep directory (no runs/)"
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


def render(dirs: list[Path]) -> str:
    metrics = [json.loads((d / "metrics.json").read_text()) for d in dirs]
    configs = [yaml.safe_load((d / "config.yaml").read_text()) if (d / "config.yaml").is_file() else {} for d in dirs]
    lines = ["| run | " + " | ".join(label for _, label in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for d, m in zip(dirs, metrics):
        cells = ["–" if m.get(k) is None else f"{m[k]:.2f}" for k, _ in COLUMNS]
        lines.append(f"| {d.name}{'' if m.get('complete') else ' (incomplete)'} | " + " | ".join(cells) + " |")
    differences = config_differences(configs)
    lines += ["", "Config differences:" if differences else "Config differences: none"]
    for key, values in differences.items():
        lines.append(f"- {key}: " + ", ".join(f"{d.name}={json.dumps(v)}" for d, v in zip(dirs, values)))
    return "\n".join(lines)


def plot_histories(dirs: list[Path], path: Path) -> None:
    import matplotlib.pyplot as plt

    from spikereplay.plots import save_figure

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for d in dirs:
        history = json.loads((d / "metrics.json").read_text())["average_accuracy"]
        ax.plot(range(1, len(history) + 1), history, marker="o", label=d.name)
    ax.set(xlabel="tasks trained", ylabel="average accuracy over seen tasks (%)", ylim=(0, 101))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", help="run or sweep directories")
    parser.add_argument("--plot", help="also write a PNG of the runs' accuracy histories")


def main(args) -> int:
    dirs = run_dirs(args.dirs)
    print(render(dirs))
    if args.plot:
        plot_histories(dirs, Path(args.plot))
        print(f"written to {args.plot}")
    return 0
