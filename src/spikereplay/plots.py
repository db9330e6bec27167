"""Figures of a run, rendered off-screen (Agg) and written atomically."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from spikereplay import io as atomic  # noqa: E402
from spikereplay.metrics import average_accuracy  # noqa: E402


def save_figure(fig, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic.write_bytes(path, buffer.getvalue())


def draw_accuracy_history(ax, matrix: list[list], task_labels: list[str]) -> None:
    """On ``ax``: each task's accuracy vs the number of tasks trained, and the running average."""
    steps = list(range(1, len(matrix) + 1))
    for j, label in enumerate(task_labels):
        points = [(i, row[j]) for i, row in zip(steps, matrix) if j < len(row) and row[j] is not None]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", label=label)
    ax.plot(steps, average_accuracy(matrix), "k--", marker="s", label="average (seen)")
    ax.set_xticks(steps)
    ax.set_ylim(0, 101)
    ax.grid(alpha=0.3)


def accuracy_history(matrix: list[list], task_labels: list[str], path: Path, title: str = "") -> None:
    """Accuracy of each task vs the number of tasks trained, plus the running average."""
    fig, ax = plt.subplots(figsize=(6, 4))
    draw_accuracy_history(ax, matrix, task_labels)
    ax.set_xlabel("tasks trained")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))  # outside: lines reach every corner
    save_figure(fig, path)


def draw_confusion(ax, confusion: dict, title: str = "", annotate: bool = True, fontsize: float = 9):
    """A confusion matrix with each row normalised to 100 %, classes in the order given (named by
    ``confusion["names"]`` where present)."""
    import numpy as np

    counts = np.array(confusion["matrix"], dtype=float)
    percent = 100 * counts / np.maximum(counts.sum(1, keepdims=True), 1)
    classes = confusion.get("names") or confusion["classes"]
    image = ax.imshow(percent, vmin=0, vmax=100, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=90 if max(len(str(c)) for c in classes) > 2 else 0)
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    for i in range(len(classes)):
        for k in range(len(classes)):
            if annotate and percent[i, k] >= 1:
                color = "white" if percent[i, k] > 50 else "black"
                ax.text(k, i, f"{percent[i, k]:.0f}", ha="center", va="center", fontsize=fontsize, color=color)
    return image


def confusion_plot(confusion: dict, path: Path, title: str = "") -> None:
    """The confusion matrix after the last task, each row normalised to 100 %, classes in order of arrival."""
    size = len(confusion["classes"])
    fig, ax = plt.subplots(figsize=(0.6 * size + 2.5, 0.6 * size + 2))
    image = draw_confusion(ax, confusion, title, fontsize=9 if size <= 10 else 7)
    fig.colorbar(image, label="% of the true class")
    save_figure(fig, path)


def confusion_grid(panels: list[tuple[str, dict]], path: Path, title: str = "") -> None:
    """One confusion panel per (title, confusion), side by side in rows of four."""
    columns = min(4, len(panels))
    rows = -(-len(panels) // columns)
    size = len(panels[0][1]["classes"])
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(columns * (0.5 * size + 1.4), rows * (0.5 * size + 1.4) + 0.4),
        squeeze=False,
        layout="constrained",  # the title sits on the panels, with no gap under it
    )
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, (label, confusion) in zip(axes.flat, panels):
        image = draw_confusion(ax, confusion, label, annotate=size <= 10, fontsize=7)
    fig.suptitle(title)
    fig.colorbar(image, ax=axes, label="% of the true class", shrink=0.6)
    save_figure(fig, path)
