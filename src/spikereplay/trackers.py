"""Experiment trackers (optional extras, imported only when a run asks for them): the training log's
rows and the per-task accuracies as scalars. The run directory's JSON and CSV files stay the source
of truth: a tracker that fails to import or to write gives one warning and is dropped, never
stopping the run.

- ``tensorboard``: event files in ``<run dir>/tensorboard`` (extra ``[tensorboard]``);
- ``wandb``: Weights & Biases, offline unless the user has configured it (``WANDB_MODE``, or an
  API key from ``wandb login``); extra ``[wandb]``.
"""

from __future__ import annotations

import os
from pathlib import Path


class TensorBoardTracker:
    def __init__(self, run_dir: Path, config: dict):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        self.writer.add_text("config", "```\n" + str(config) + "\n```")

    def log(self, scalars: dict[str, float], step: int, axis: str) -> None:
        for name, value in scalars.items():
            self.writer.add_scalar(name, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbTracker:
    def __init__(self, run_dir: Path, config: dict):
        import wandb

        configured = (
            os.environ.get("WANDB_MODE") or os.environ.get("WANDB_API_KEY") or (Path.home() / ".netrc").exists()
        )
        self.run = wandb.init(
            dir=str(run_dir), name=run_dir.name, config=config, mode=None if configured else "offline", reinit=True
        )
        # W&B drops a row whose step= is below the last one, and accuracies (per task) come after
        # training rows (per iteration): each family gets its own x-axis instead
        for axis in AXES:
            self.run.define_metric(axis)
        self.run.define_metric("train/*", step_metric="iteration")
        self.run.define_metric("accuracy/*", step_metric="task")

    def log(self, scalars: dict[str, float], step: int, axis: str) -> None:
        self.run.log({**scalars, axis: step})

    def close(self) -> None:
        self.run.finish()


AXES = ("iteration", "task")  # the steps scalars are logged against: training iterations, finished tasks
TRACKERS = {"tensorboard": TensorBoardTracker, "wandb": WandbTracker}


class Trackers:
    """The run's trackers; each failure warns once (through ``warn``) and drops that tracker."""

    def __init__(self, names: list[str], run_dir: Path, config: dict, warn=print):
        self.warn = warn
        self.active: dict[str, object] = {}
        for name in names:
            self._guard(name, lambda name=name: self.active.__setitem__(name, TRACKERS[name](run_dir, config)))

    def _guard(self, name: str, action) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - a tracker must never break a run
            self.active.pop(name, None)
            self.warn(
                f"warning: tracker {name} disabled ({type(exc).__name__}: {exc}); metrics.json and train_log.csv are unaffected"
            )

    def log(self, scalars: dict[str, float], step: int, axis: str = "iteration") -> None:
        """``scalars`` at ``step`` of ``axis`` (one of ``AXES``)."""
        scalars = {k: float(v) for k, v in scalars.items() if v is not None}
        for name, tracker in list(self.active.items()):
            self._guard(name, lambda tracker=tracker: tracker.log(scalars, step, axis))

    def close(self) -> None:
        for name, tracker in list(self.active.items()):
            self._guard(name, tracker.close)
