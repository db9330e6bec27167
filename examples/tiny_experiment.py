"""Run a tiny class-incremental experiment from Python and plot its accuracy matrix.

    python examples/tiny_experiment.py [output_dir]

About half a minute on 2 CPU cores: 3 tasks of Split-MNIST, 100 images per class, T=6, ER with a
buffer of 100 samples. Writes the run to <output_dir>/runs/tiny and the plot to <output_dir>/matrix.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import spikereplay  # noqa: E402


def main(output_dir: Path) -> spikereplay.Result:
    cfg = spikereplay.load_config(
        {
            "name": "tiny",
            "strategy": "er",
            "memory": {"size": 100},
            "encoding": {"kind": "direct"},
            "data": {"class_order": [[0, 1], [2, 3], [4, 5]], "train_per_class": 100, "test_per_class": 50},
            "training": {"num_steps": 6, "epochs": 1, "current_heads": "all", "val_samples": 0},
            "output": {"runs_dir": str(output_dir / "runs"), "progress": False},
        }
    )
    result = spikereplay.run(cfg, overwrite=True)
    matrix = np.array([[np.nan if v is None else v for v in row] for row in result.accuracy_matrix])
    fig, ax = plt.subplots(figsize=(4, 3.5))
    image = ax.imshow(matrix, vmin=0, vmax=100, cmap="viridis")
    tasks = range(matrix.shape[0])
    labels = result.metrics["task_labels"]
    ax.set_xticks(tasks, labels, rotation=30, ha="right")  # whole tasks, named as in the run's own plots
    ax.set_yticks(tasks, [f"after task {i + 1}" for i in tasks])
    ax.set(xlabel="task scored", title=f"{cfg.strategy}: final average {result.final_average_accuracy:.1f} %")
    fig.colorbar(image, label="accuracy (%)")
    fig.savefig(output_dir / "matrix.png", dpi=100, bbox_inches="tight")
    print(f"final average accuracy {result.final_average_accuracy:.2f} % -> {output_dir / 'matrix.png'}")
    return result


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/example"))
