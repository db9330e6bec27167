"""Layout changes must not change a single number: exact matrices recorded before the refactor."""

import json
import shutil
from pathlib import Path

import pytest

from spikereplay.config import config_from_dict, config_to_yaml
from spikereplay.experiment import run_experiment
from tests.regression.cases import CASES, RECORD, run_case

FIXTURES = Path(__file__).parent / "fixtures" / "legacy_run"


@pytest.mark.parametrize("name", list(CASES))
def test_tiny_run_matrices_are_bit_identical_to_the_record(name, tmp_path):
    assert run_case(name, tmp_path) == json.loads(RECORD.read_text())[name]


def test_checkpoint_of_the_old_layout_resumes_to_the_same_matrix(tmp_path):
    expected = json.loads((FIXTURES / "expected.json").read_text())
    raw = {**expected["config"], "output": {**expected["config"]["output"], "runs_dir": str(tmp_path)}}
    cfg = config_from_dict(raw)
    (cfg.run_dir / "checkpoints").mkdir(parents=True)
    (cfg.run_dir / "config.yaml").write_text(config_to_yaml(cfg))
    shutil.copy(FIXTURES / "task_1.pt", cfg.run_dir / "checkpoints" / "task_1.pt")
    lines = []
    metrics = run_experiment(cfg, log=lines.append)
    assert any(line.startswith("resuming") for line in lines)
    assert metrics["accuracy_matrix"] == expected["accuracy_matrix"]
