"""The plots of a sweep report: accuracy histories, each task's accuracy per row, and final accuracy
against memory size, beside the published numbers."""

from __future__ import annotations

from pathlib import Path
from statistics import mean

from spikereplay.plots import draw_accuracy_history, plt, save_figure  # plt with the Agg backend selected
from spikereplay.report.rows import (
    PUBLISHED,
    RowKey,
    history_columns,
    label_with_extras,
    mean_matrix,
    mean_std,
    num_tasks,
    row_label,
    task_labels,
)


def plot_history(rows: dict[RowKey, list[dict]], scenario: str, path: Path) -> None:
    """Average accuracy vs tasks trained, one line per row."""
    tasks = num_tasks([r for runs in rows.values() for r in runs])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, runs in rows.items():
        points = [(i + 1, *mean_std(col)) for i, col in enumerate(history_columns(runs, tasks)) if col]
        xs, ys, errs = zip(*points)
        ax.errorbar(xs, ys, yerr=[e or 0 for e in errs], marker="o", capsize=3, label=row_label(key))
    ax.set(xlabel="tasks trained", ylabel="average accuracy (%)", ylim=(0, 101), title=scenario)
    ax.set_xticks(range(1, tasks + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    save_figure(fig, path)


def plot_task_histories(rows: dict[RowKey, list[dict]], scenario: str, path: Path) -> bool:
    """One panel per continual row: each task's accuracy (mean over seeds) vs tasks trained, as in
    the seed's figure. Joint trains once and has no history; False when no row has one."""
    panels = [(key, runs) for key, runs in rows.items() if max(len(r["accuracy_matrix"]) for r in runs) > 1]
    if not panels:
        return False
    columns = min(4, len(panels))
    grid_rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(
        grid_rows, columns, figsize=(3.4 * columns, 2.8 * grid_rows), sharex=True, sharey=True, squeeze=False
    )
    for ax, (key, runs) in zip(axes.flat, panels):
        matrix = mean_matrix([r["accuracy_matrix"] for r in runs])
        draw_accuracy_history(ax, matrix, task_labels(runs, len(matrix[-1])))
        ax.set_title(f"{row_label(key)}, {len(runs)} seed{'s' if len(runs) > 1 else ''}", fontsize=9)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("tasks trained")
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy (%)")
    fig.suptitle(f"{scenario}: accuracy of each task (mean over seeds)")
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    return True


def memory_series(rows: dict[RowKey, list[dict]]) -> dict[str, list[tuple[int, list[float]]]]:
    """Label -> (memory size, final accuracies) per replay schedule/variant, naive as memory 0."""
    series: dict[str, list[tuple[int, list[float]]]] = {}
    naive = {k.variant: runs for k, runs in rows.items() if k.strategy == "naive"}
    for key, runs in rows.items():
        if key.strategy != "replay":
            continue
        points = series.setdefault(label_with_extras("replay", key), [])
        if not points and key.variant in naive:
            points.append((0, [r["final_average_accuracy"] for r in naive[key.variant]]))
        points.append((key.memory, [r["final_average_accuracy"] for r in runs]))
    return series


def zoom_floor(lows: list[float], margin: float = 1.0) -> float:
    """Bottom of the zoomed panel: a whole percent at least ``margin`` under the lowest point."""
    return float(int(min(lows) - margin)) if lows else 90.0


def plot_final_vs_memory(
    groups: dict[str, dict[RowKey, list[dict]]], path: Path, published_curve: bool = False
) -> None:
    """Final average accuracy vs replay memory size, ours (solid) and, for a sweep of the published
    protocol, published (dashed); the right panel zooms on our default replay schedule (memory > 0)
    with joint drawn as a line."""
    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(12, 4.5))
    lows = []
    for color, (scenario, rows) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], groups.items()):
        for n, (label, points) in enumerate(memory_series(rows).items()):
            stats = [mean_std(values) for _, values in points]
            style = dict(color=color, marker="os^vD"[n % 5], linestyle="-" if n == 0 else ":", capsize=3)
            ax.errorbar(
                [m for m, _ in points], [m for m, _ in stats], yerr=[s or 0 for _, s in stats],
                label=f"{scenario} {label}", **style,
            )  # fmt: skip
            if label != "replay":
                continue
            kept = [(m, avg, std or 0) for (m, _), (avg, std) in zip(points, stats) if m > 0]
            if kept:
                zoom.errorbar(*zip(*kept), label=f"{scenario} replay", **style)
                lows += [avg - std for _, avg, std in kept]
        joint = [r["final_average_accuracy"] for k, runs in rows.items() if k.strategy == "joint" for r in runs]
        if joint:
            zoom.axhline(mean(joint), color=color, linestyle="-.", label=f"{scenario} joint")
            lows.append(mean(joint))
        paper = {k: v for k, v in PUBLISHED.get(scenario, {}).items() if k != "joint"} if published_curve else {}
        if paper:
            xs = [0 if k == "naive" else int(k[2:]) for k in paper]
            ax.plot(xs, list(paper.values()), "--", color=color, marker="x", label=f"{scenario} (published)")
    ax.set(xlabel="replay memory (batches per task; 0 = naive)", ylabel="final average accuracy (%)", ylim=(0, 101))
    zoom.set(xlabel="replay memory (batches per task)", ylim=(zoom_floor(lows), 100), title="replay, zoomed")
    memories = sorted(
        {m for rows in groups.values() for label, points in memory_series(rows).items() for m, _ in points}
    )
    if len(memories) == 1:  # one memory size: a readable span around it, not matplotlib's +-5 %
        ax.set_xlim(memories[0] - 10, memories[0] + 10)
        zoom.set_xlim(memories[0] - 10, memories[0] + 10)
    for axis in (ax, zoom):
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:  # a sweep with no replay rows leaves the zoom empty
            axis.legend(fontsize=7)
    save_figure(fig, path)
