import pytest

from spikereplay.environment import cpu_key
from spikereplay.loader import config_from_dict

TINY = {
    "data": {"train_per_class": 60, "test_per_class": 40, "class_order": [[0, 1], [2, 3]]},
    "training": {"num_steps": 4, "batch_size": 32, "epochs": 1, "val_samples": 20, "log_every": 2},
    "output": {"progress": False},
}


def pytest_report_header(config):
    # the exact-bits records (tests/regression/) are per CPU, and CI machines vary between CPUs: a
    # failing log names the one it ran on
    return f"spikereplay: this CPU is {cpu_key()}"


def merge(base: dict, extra: dict) -> dict:
    out = {**base}
    for key, value in extra.items():
        out[key] = merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


@pytest.fixture
def tiny_config(tmp_path):
    """A config that trains on a few hundred real MNIST images in seconds."""

    def make(**sections):
        raw = merge(TINY, {"output": {"runs_dir": str(tmp_path / "runs")}})
        return config_from_dict(merge(raw, sections))

    return make
