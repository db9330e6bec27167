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
            ax.plot(xs, ys, marker="o", label=f"task {label}")
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
