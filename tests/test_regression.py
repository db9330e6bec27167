"""Layout changes must not change a single number: exact matrices recorded before the refactor."""

import json
from pathlib import Path

import pytest
import torch

from spikereplay.config import config_from_dict
from spikereplay.experiment import run_experiment
from tests.regression.cases import CASES, RECORD, run_case

FIXTURES = Path(__file__).parent / "fixtures" / "legacy_run"


@pytest.mark.parametrize("name", list(CASES))
def test_tiny_run_matrices_are_bit_identical_to_the_record(name, tmp_path):
    assert run_case(name, tmp_path) == json.loads(RECORD.read_text())[name]


def old_layout(checkpoint: dict) -> dict:
    """A checkpoint as the layout before the strategies refactor wrote it: the optimizer and the seen
    classes inside the strategy's state, the memory as whole batches keyed by task."""
    store = checkpoint["strategy"]["memory"]["store"]["fields"]
    batches: dict[int, list] = {}
    for step in store["steps"].unique().tolist():
        rows = store["steps"] == step
        task = int(store["task_ids"][rows][0])
        batches.setdefault(task, []).append((store["images"][rows], store["labels"][rows]))
    strategy = {
        "optimizer": checkpoint["optimizer"],
        "seen_classes": checkpoint["scenario"]["seen_classes"],
        "memory": {"batches": batches, "generator": checkpoint["strategy"]["memory"]["generator"]},
    }
    kept = ("run_state", "model", "torch_rng", "cuda_rng", "shuffle_rng")
    return {**{key: checkpoint[key] for key in kept}, "strategy": strategy}


def test_checkpoint_of_the_old_layout_resumes_to_the_matrix_the_old_code_recorded(tmp_path):
    # expected.json: the config of a 2-task replay run and the matrix the old code gave it
    expected = json.loads((FIXTURES / "expected.json").read_text())
    raw = {**expected["config"], "output": {**expected["config"]["output"], "runs_dir": str(tmp_path)}}
    cfg = config_from_dict(raw)
    assert run_experiment(cfg, log=lambda *_: None)["accuracy_matrix"] == expected["accuracy_matrix"]
    checkpoints = cfg.run_dir / "checkpoints"
    first = torch.load(checkpoints / "task_1.pt", weights_only=False)
    (checkpoints / "task_2.pt").unlink()
    torch.save(old_layout(first), checkpoints / "task_1.pt")  # killed after task 1, written by the old code
    lines = []
    metrics = run_experiment(cfg, log=lines.append)
    assert any(line.startswith("resuming") for line in lines)
    assert metrics["accuracy_matrix"] == expected["accuracy_matrix"]
    resumed = torch.load(checkpoints / "task_2.pt", weights_only=False)
    assert "optimizer" in resumed and "batches" not in resumed["strategy"]["memory"]  # rewritten in the new layout
