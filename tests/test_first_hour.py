"""What a new user meets first: runs that say why they failed, and errors that say what to do."""

import csv
import subprocess
import sys

import pytest
import torch

from spikereplay import cli
from spikereplay.errors import ConfigError
from spikereplay.experiment import run_experiment
from spikereplay.metrics import silent_outputs

quiet = lambda *_: None  # noqa: E731


def test_the_silent_output_figure_on_a_hand_made_evaluation():
    # classes 0 and 1; True = the true class's output fired no spike on that sample
    labels = torch.tensor([0, 0, 1, 1, 1])
    silent = torch.tensor([True, False, True, True, True])
    figure = silent_outputs([(labels[:2], silent[:2]), (labels[2:], silent[2:])])
    assert figure["silent_share"] == pytest.approx(80.0)  # 4 of 5 samples
    assert figure["silent_classes"] == [1]  # class 0 fired on one of its samples, class 1 on none
    assert silent_outputs([]) == {"silent_share": None, "silent_classes": []}


def test_every_run_records_the_silent_output_figure_after_each_task(tiny_config):
    metrics = run_experiment(tiny_config(), log=quiet)
    figures = metrics["silent_outputs"]
    assert len(figures) == len(metrics["accuracy_matrix"])
    assert all(0.0 <= f["silent_share"] <= 100.0 for f in figures)


def test_a_run_driven_to_chance_says_so_at_its_end_with_its_likely_cause(tiny_config):
    lines = []
    metrics = run_experiment(tiny_config(training={"lr": 1e3}), log=lines.append)
    chance = [w for w in metrics["warnings"] if w.startswith("the run ended at chance")]
    assert len(chance) == 1 and "training.lr 1000 is far above" in chance[0]
    assert any("warning: the run ended at chance" in line for line in lines)


def test_a_warmup_longer_than_a_task_is_refused_before_anything_is_written(tiny_config):
    cfg = tiny_config(training={"warmup_steps": 300})
    with pytest.raises(ConfigError, match=r"training.warmup_steps 300 is not shorter than task 1's \d+ iterations"):
        run_experiment(cfg, log=quiet)
    assert not cfg.run_dir.exists()


def test_a_task_shorter_than_log_every_still_leaves_a_log_row(tiny_config):
    cfg = tiny_config(training={"log_every": 10_000})
    run_experiment(cfg, log=quiet)
    rows = list(csv.DictReader((cfg.run_dir / "train_log.csv").open()))
    assert [row["task"] for row in rows] == ["1", "2"]


def test_test_refuses_an_override_it_would_not_use(tiny_config, capsys):
    cfg = tiny_config()
    run_experiment(cfg, log=quiet)
    assert cli.main(["test", "--run-dir", str(cfg.run_dir), "data.test_per_class=100"]) == 2
    err = capsys.readouterr().err
    assert "would not use 'data.test_per_class=100'" in err and len(err.strip().splitlines()) == 1


def test_the_cli_prints_one_line_with_the_suggestion_and_exits_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "spikereplay.cli", "train", "--config", "configs/quick.yaml", "training.num_step=4"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "did you mean 'training.num_steps'?" in proc.stderr and "training.num_step=4" in proc.stderr


def test_an_lr_too_large_for_the_arithmetic_is_refused_in_one_line_naming_the_key():
    proc = subprocess.run(
        [sys.executable, "-m", "spikereplay.cli", "train", "--config", "configs/quick.yaml", "training.lr=1e38"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "'training.lr': Input should be less than or equal to 1000" in proc.stderr
