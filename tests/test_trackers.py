"""Trackers: TensorBoard for real (read back with tensorboard's own reader), and failures never break a run."""

import csv

import pytest

from spikereplay.experiment import run_experiment


def test_tensorboard_round_trip(tiny_config):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    cfg = tiny_config(
        strategy="er", memory={"size": 40}, output={"trackers": ["tensorboard"]}, training={"log_every": 2}
    )
    metrics = run_experiment(cfg, log=lambda *_: None)
    events = event_accumulator.EventAccumulator(str(cfg.run_dir / "tensorboard"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"train/loss", "train/val_accuracy", "accuracy/task_1", "accuracy/average"} <= set(scalars)
    average = [(e.step, e.value) for e in events.Scalars("accuracy/average")]
    assert [step for step, _ in average] == [1, 2]
    assert [value for _, value in average] == pytest.approx(metrics["average_accuracy"], abs=1e-4)
    task_1 = [e.value for e in events.Scalars("accuracy/task_1")]
    assert task_1 == pytest.approx([row[0] for row in metrics["accuracy_matrix"]], abs=1e-4)
    rows = list(csv.DictReader((cfg.run_dir / "train_log.csv").open()))
    losses = [(e.step, e.value) for e in events.Scalars("train/loss")]
    assert losses == [(int(r["iteration"]), pytest.approx(float(r["loss"]), abs=1e-5)) for r in rows]


def test_wandb_runs_offline_and_holds_the_run_s_values(tiny_config, monkeypatch):
    pytest.importorskip("wandb")
    from spikereplay import trackers

    for name in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tiny_config().run_dir.parent))  # no ~/.netrc: not configured
    monkeypatch.setenv("WANDB_SILENT", "true")
    seen = {}
    close = trackers.WandbTracker.close

    def close_and_keep(self):
        seen["mode"] = self.run.settings.mode
        seen["summary"] = dict(self.run.summary)
        close(self)

    monkeypatch.setattr(trackers.WandbTracker, "close", close_and_keep)
    cfg = tiny_config(output={"trackers": ["wandb"]})
    warnings = []
    metrics = run_experiment(cfg, log=warnings.append)
    assert not [w for w in warnings if "tracker" in w]
    assert seen["mode"] == "offline"
    # the summary holds each key's last logged value: the final row and averages
    assert seen["summary"]["accuracy/average"] == pytest.approx(metrics["final_average_accuracy"], abs=1e-4)
    assert seen["summary"]["accuracy/task_2"] == pytest.approx(metrics["accuracy_matrix"][-1][1], abs=1e-4)
    assert list((cfg.run_dir / "wandb").glob("offline-run-*/run-*.wandb"))


def test_a_tracker_that_cannot_start_warns_once_and_the_run_completes(tiny_config, monkeypatch):
    import spikereplay.trackers as trackers

    class Broken:
        def __init__(self, run_dir, config):
            raise ImportError("No module named 'wandb'")

    monkeypatch.setitem(trackers.TRACKERS, "wandb", Broken)
    lines: list[str] = []
    cfg = tiny_config(strategy="naive", output={"trackers": ["wandb"]})
    assert run_experiment(cfg, log=lines.append)["complete"]
    warned = [line for line in lines if "tracker wandb disabled" in line]
    assert len(warned) == 1 and "ImportError" in warned[0]


def test_a_tracker_that_fails_to_write_is_dropped_after_one_warning(tiny_config, monkeypatch):
    import spikereplay.trackers as trackers

    calls = []

    class Flaky:
        def __init__(self, run_dir, config):
            pass

        def log(self, scalars, step, axis):
            calls.append(step)
            raise OSError("disk full")

        def close(self):
            pass

    monkeypatch.setitem(trackers.TRACKERS, "tensorboard", Flaky)
    lines: list[str] = []
    cfg = tiny_config(strategy="naive", output={"trackers": ["tensorboard"]}, training={"log_every": 1})
    assert run_experiment(cfg, log=lines.append)["complete"]
    assert len(calls) == 1 and sum("tracker tensorboard disabled" in line for line in lines) == 1
