"""Layout changes must not change a single number: exact results of tiny runs recorded before a
refactor, in fp64 with pinned kernels per CPU vendor and in fp32 bit for bit per CPU
(tests/regression/cases.py)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from spikereplay.experiment import run_experiment
from spikereplay.loader import config_from_dict
from tests.regression.cases import (
    CASES,
    EXACT_RECORD,
    PINNED_RECORD,
    cpu_key,
    fingerprint_mismatches,
    pinned_kernels,
    pinned_key,
    read_record,
    run_case,
    run_each,
    run_pinned,
    weight_fingerprint,
    write_record,
)

FIXTURES = Path(__file__).parent / "fixtures" / "legacy_run"


@pytest.fixture(scope="module")
def pinned_fp64(tmp_path_factory):
    """Every case in fp64, in one child process with the pinned kernels (tests/regression/cases.py)."""
    return run_pinned(list(CASES), tmp_path_factory.mktemp("fp64"))


@pytest.mark.parametrize("name", list(CASES))
def test_tiny_run_in_pinned_fp64_gives_the_matrices_and_weights_recorded_for_this_cpu_vendor(name, pinned_fp64):
    if "unpinned" in pinned_fp64:
        pytest.skip(f"the fp64 record is for x86-64 CPUs with AVX2 and MKL: {pinned_fp64['unpinned']}")
    record = read_record(PINNED_RECORD).get(pinned_key())
    if record is None or name not in record:
        pytest.skip(
            f"no pinned fp64 record of {name} for this CPU vendor ({pinned_key()}) in {PINNED_RECORD.name}: "
            "record one on trusted code with `python -m tests.regression.cases --record pinned`"
        )
    want = record[name]
    got = pinned_fp64["cases"][name]
    if "error" in got:
        pytest.fail(f"{name} raised in the pinned fp64 process:\n{got['error']}")
    assert got["accuracy_matrix"] == want["accuracy_matrix"]
    assert got["task_incremental_matrix"] == want["task_incremental_matrix"]
    assert fingerprint_mismatches(got["weights"], want["weights"]) == []


@pytest.mark.parametrize("name", list(CASES))
def test_tiny_run_in_fp32_is_bit_identical_to_this_cpus_record(name, tmp_path):
    record = read_record(EXACT_RECORD).get(cpu_key())
    if record is None or name not in record:
        pytest.skip(
            f"no fp32 record of {name} for this CPU ({cpu_key()}) in {EXACT_RECORD.name}: "
            "record one on trusted code with `python -m tests.regression.cases --record exact`"
        )
    assert run_case(name, tmp_path) == record[name]


def test_the_weight_fingerprint_tolerates_fp64_noise_but_not_one_float32_rounding():
    weights = torch.randn(64, 1024, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    want = weight_fingerprint({"w": weights})
    noisy = weights * (
        1 + 1e-13 * torch.randn(weights.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    )
    assert fingerprint_mismatches(weight_fingerprint({"w": noisy}), want) == []
    rounded = weights.float().double()  # what one stray .float() in the maths does
    assert len(fingerprint_mismatches(weight_fingerprint({"w": rounded}), want)) == 1


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


def test_a_case_that_raises_is_recorded_with_its_traceback_and_the_others_still_run(monkeypatch, tmp_path):
    import tests.regression.cases as cases

    def fake_run(name, runs_dir, precision):
        if name == "tf_naive":
            raise ValueError("broken on purpose")
        return {"ran": [name, precision]}

    monkeypatch.setattr(cases, "run_case", fake_run)
    results = run_each(["cil_naive", "tf_naive", "tf_joint"], tmp_path, "fp64")
    assert results["cil_naive"] == {"ran": ["cil_naive", "fp64"]}
    assert results["tf_joint"] == {"ran": ["tf_joint", "fp64"]}
    assert set(results["tf_naive"]) == {"error"}
    assert "ValueError: broken on purpose" in results["tf_naive"]["error"]


def test_the_fp64_cases_refuse_to_count_as_pinned_in_an_unpinned_process(monkeypatch):
    monkeypatch.delenv("MKL_CBWR", raising=False)  # so this process is not pinned, whatever the shell set
    why = pinned_kernels()
    assert why is not None and ("does not set" in why or "no MKL" in why)


def test_recording_a_machine_replaces_only_its_own_cases_and_keeps_other_machines(tmp_path):
    path = tmp_path / "record.json"
    write_record(path, "AuthenticAMD torch=x", {"a": 1, "b": 2})
    write_record(path, "GenuineIntel torch=x", {"a": 3})
    write_record(path, "AuthenticAMD torch=x", {"b": 4})
    assert read_record(path) == {"AuthenticAMD torch=x": {"a": 1, "b": 4}, "GenuineIntel torch=x": {"a": 3}}
    assert read_record(tmp_path / "absent.json") == {}


def test_within_the_ieee_sqrt_trial_a_float64_sqrt_is_numpys_correctly_rounded_one_and_float32_is_untouched():
    from tests.regression.kernels import IEEESqrt

    generator = torch.Generator().manual_seed(0)
    x = torch.rand(4096, 3, dtype=torch.float64, generator=generator).mul(1e6).t()  # not contiguous
    small = x.float()
    with IEEESqrt():
        root, root32 = x.sqrt(), small.sqrt()
    assert torch.equal(root, torch.from_numpy(np.sqrt(x.numpy())))
    assert root.stride() == x.stride()
    assert torch.equal(root32, small.sqrt())
