"""Tiny runs whose exact accuracy matrices were recorded before the strategies refactor
(``python -m tests.regression.cases --record``); every later layout change must reproduce them
bit for bit (``tests/test_regression.py``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RECORD = Path(__file__).with_name("matrices.json")

BASE = {
    "data": {"train_per_class": 200, "test_per_class": 60},
    "training": {"num_steps": 6, "batch_size": 16, "epochs": 1, "val_samples": 20, "log_every": 10},
    "output": {"progress": False},
}

CASES = {
    "cil_naive": {"strategy": "naive"},
    "tf_naive": {"scenario": "task_free", "strategy": "naive"},
    "cil_replay_mr5": {"strategy": "replay", "memory": {"batches_per_task": 5}, "training": {"current_heads": "all"}},
    "tf_replay_mr5_shift_masked": {
        "scenario": "task_free",
        "strategy": "replay",
        "memory": {"batches_per_task": 5},
        "replay": {"shift_pixels": 2, "batch_size": 24},
        "training": {"mask_unseen_classes": True},
    },
    "cil_replay_mr5_own_heads_cosine": {
        "strategy": "replay",
        "memory": {"batches_per_task": 5},
        "replay": {"heads": "own"},
        "training": {"lr_schedule": "cosine", "warmup_steps": 5},
    },
    "cil_separate_pass_mr5": {
        "strategy": "replay",
        "memory": {"batches_per_task": 5},
        "replay": {"schedule": "separate_pass"},
    },
    "tf_joint": {"scenario": "task_free", "strategy": "joint", "data": {"class_order": [[0, 1], [2, 3], [4, 5]]}},
}


def merge(base: dict, extra: dict) -> dict:
    out = {**base}
    for key, value in extra.items():
        out[key] = merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def case_config(name: str, runs_dir: Path):
    from spikereplay.config import config_from_dict

    raw = merge(BASE, CASES[name])
    return config_from_dict(merge(raw, {"name": name, "output": {"runs_dir": str(runs_dir)}}))


def run_case(name: str, runs_dir: Path) -> dict:
    from spikereplay.experiment import run_experiment

    metrics = run_experiment(case_config(name, runs_dir), log=lambda *_: None)
    return {
        "accuracy_matrix": metrics["accuracy_matrix"],
        "task_incremental_matrix": metrics["task_incremental_matrix"],
    }


if __name__ == "__main__":
    import tempfile

    parser = argparse.ArgumentParser()
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        got = {name: run_case(name, Path(tmp)) for name in CASES}
    if args.record:
        RECORD.write_text(json.dumps(got, indent=1) + "\n")
    else:
        want = json.loads(RECORD.read_text())
        for name in CASES:
            print(name, "identical" if got[name] == want.get(name) else "DIFFERENT")
