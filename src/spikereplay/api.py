"""The Python API: the same runs as the command line, for notebooks and scripts, silent unless asked.

    import spikereplay
    cfg = spikereplay.load_config("configs/quick.yaml", ["training.epochs=1"])
    result = spikereplay.run(cfg)
    result.accuracy_matrix, result.final_average_accuracy, result.run_dir

Errors are the command line's (``spikereplay.errors``): the CLI turns them into exit code 2, the API
raises them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spikereplay.config import Config
from spikereplay.config_files import apply_overrides
from spikereplay.loader import config_from_dict
from spikereplay.loader import load_config as _load_config_file


@dataclass
class Result:
    """A run's directory and its ``metrics.json`` content (matrices and derived metrics)."""

    run_dir: Path
    metrics: dict

    @property
    def accuracy_matrix(self) -> list[list]:
        return self.metrics["accuracy_matrix"]

    @property
    def task_incremental_matrix(self) -> list[list]:
        return self.metrics["task_incremental_matrix"]

    @property
    def final_average_accuracy(self) -> float:
        return self.metrics["final_average_accuracy"]


def load_config(source: str | Path | dict | None = None, overrides: list[str] | None = None) -> Config:
    """A validated config from a YAML file, a dict of the same shape, or the defaults (None),
    with dotted ``key=value`` overrides applied."""
    if isinstance(source, dict):
        return config_from_dict(apply_overrides(source, overrides or []))
    return _load_config_file(source, overrides)


def _logger(verbose: bool):
    return print if verbose else (lambda *_: None)


def run(config: Config | str | Path | dict, overwrite: bool = False, verbose: bool = False) -> Result:
    """Train (or resume) a run, exactly as ``spikereplay train`` does."""
    from spikereplay.experiment import run_experiment

    cfg = config if isinstance(config, Config) else load_config(config)
    metrics = run_experiment(cfg, overwrite=overwrite, log=_logger(verbose))
    return Result(cfg.run_dir, metrics)


def evaluate(run_dir: str | Path, verbose: bool = False) -> Result:
    """Re-score a run's per-task checkpoints, exactly as ``spikereplay test --run-dir`` does."""
    from spikereplay.experiment import evaluate_run

    metrics = evaluate_run(Path(run_dir), log=_logger(verbose))
    return Result(Path(run_dir), metrics)
