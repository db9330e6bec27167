"""The Python API does what the command line does, and raises what the command line reports."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import spikereplay
from spikereplay.errors import ConfigError

TINY = {
    "strategy": "er",
    "memory": {"size": 40},
    "data": {"train_per_class": 40, "test_per_class": 20, "class_order": [[0, 1], [2, 3]]},
    "training": {"num_steps": 4, "batch_size": 32, "epochs": 1, "val_samples": 0},
}


def test_api_result_equals_the_cli_metrics(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, "output": {"runs_dir": str(tmp_path / "cli")}}))
    cli = subprocess.run(
        [sys.executable, "-m", "spikereplay.cli", "train", "--config", str(config)], capture_output=True, text=True
    )
    assert cli.returncode == 0, cli.stderr
    cli_metrics = json.loads((tmp_path / "cli" / "tiny" / "metrics.json").read_text())

    cfg = spikereplay.load_config(str(config), [f"output.runs_dir={tmp_path / 'api'}"])
    result = spikereplay.run(cfg)
    assert result.run_dir == tmp_path / "api" / "tiny"
    assert result.accuracy_matrix == cli_metrics["accuracy_matrix"]
    assert result.task_incremental_matrix == cli_metrics["task_incremental_matrix"]
    assert result.final_average_accuracy == cli_metrics["final_average_accuracy"]
    assert spikereplay.evaluate(result.run_dir).accuracy_matrix == result.accuracy_matrix


def test_api_is_silent_and_raises_the_cli_message(tmp_path, capsys):
    cfg = spikereplay.load_config({**TINY, "output": {"runs_dir": str(tmp_path)}}, ["data.class_order=[[0, 1]]"])
    spikereplay.run(cfg)
    assert capsys.readouterr().out == ""
    with pytest.raises(ConfigError, match="unknown strategy 'nope'"):
        spikereplay.load_config({"strategy": "nope"})


def test_example_script_runs_and_plots(tmp_path):
    example = Path(__file__).parents[1] / "examples" / "tiny_experiment.py"
    done = subprocess.run([sys.executable, str(example), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "matrix.png").read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads((tmp_path / "runs" / "tiny" / "metrics.json").read_text())
    assert metrics["complete"] and len(metrics["accuracy_matrix"]) == 3
