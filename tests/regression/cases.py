"""Tiny runs whose exact results every change of layout must reproduce (``tests/test_regression.py``).

Two records, because float kernels differ between CPUs:

- ``pinned_fp64.json``, keyed by CPU vendor and torch version (``pinned_key``): each case run in
  ``precision: fp64``, in a child process whose kernels are pinned (``PINNED_ENV``): MKL's
  reproducible branch ``COMPATIBLE``, ATen's AVX2 kernels, one thread. fp64 alone is not enough:
  the runs are chaotic, so a one-ulp change anywhere ends in a flipped spike some steps later.
  Measured on an AMD EPYC Zen 4: in fp64, MKL's ``COMPATIBLE`` branch instead of its default changes
  4 of the 9 matrices, and ATen's AVX2 kernels instead of its AVX-512 ones 3. The pin takes away the
  thread count and the AVX-512/AMX flags, so one record serves the CPU models of one vendor. It does
  not make AMD and Intel agree: measured on an Intel Xeon with AMX against the AMD record, 3 of 9
  matrices differ and 2 more cases' weights (results/regression-portability/README.md, where
  ``benchmarks/fp64_op_trace.py`` and ``fp64_kernel_bits.py`` wait to name the kernel on an AMD).
  Beside the matrices, a fingerprint of the final weights (per tensor, its sum and its dot product
  with a fixed random pattern) must agree within ``FINGERPRINT_TOLERANCE``: a float32 rounding that
  sneaks into the maths moves it.
- ``exact_fp32.json``, keyed by CPU (``cpu_key``): the same cases in fp32, the precision results
  are run in, bit for bit. One ulp of change in the maths flips some spike in a few hundred
  steps, so this catches what fp64 cannot.

A CPU with no record of its own skips that tier's tests, with the command that records one.
``python -m tests.regression.cases`` compares this machine against both records (the fp64 cases
in the pinned child process), and the fp64 results against every other vendor's record too;
``--record pinned exact`` writes this machine's (only ever on code whose numbers are trusted:
before a refactor, or after one whose records held on another CPU). ``--ieee-sqrt`` does the same
under a trial pin, with IEEE's sqrt in place of MKL's (kernels.py), against
``pinned_fp64_ieee_sqrt.json``: the trial holds if an AMD and an Intel agree under it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import traceback
from pathlib import Path

import torch

from spikereplay.environment import cpu_facts, cpu_key
from tests.regression.kernels import IEEESqrt

HERE = Path(__file__).parent
PINNED_RECORD = HERE / "pinned_fp64.json"
# A trial pin, not yet the test's: the same with IEEE's sqrt in place of MKL's (kernels.py); its
# records, per vendor, tell whether it makes an AMD and an Intel agree.
IEEE_SQRT_RECORD = HERE / "pinned_fp64_ieee_sqrt.json"
EXACT_RECORD = HERE / "exact_fp32.json"
# The fp64 noise between thread counts reaches 3.4e-12 in a weight; a float32 rounding is ~1e-8.
FINGERPRINT_TOLERANCE = 1e-9
# Read when torch loads, so they are set for a child process. MKL's CNR branch COMPATIBLE gives the
# same bits at a fixed thread count whatever the instruction set (its float64 product of
# benchmarks/mkl_branch_bits.py is the same on the AMD and the Intel); ATen's AVX2 kernels run on any
# x86-64 CPU of the last decade (AVX-512 ones only on some).
PINNED_ENV = {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

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
    # the published code's behaviour, every quirk on (configs/seed-faithful/), at the tiny size; the
    # snapshot every 5 iterations, so that it is taken several times per task
    "cil_faithful": {
        "_base": "configs/seed-faithful/cil.yaml",
        "memory": {"batches_per_task": 5},
        "quirks": {"snapshot_every": 5},
    },
    "tf_faithful": {
        "_base": "configs/seed-faithful/tf.yaml",
        "training": {"lr": 0.001},  # the published 1e-4 learns nothing in a run this short
        "memory": {"batches_per_task": 5},
        "quirks": {"snapshot_every": 5},
    },
}
REPO = Path(__file__).resolve().parents[2]


def merge(base: dict, extra: dict) -> dict:
    out = {**base}
    for key, value in extra.items():
        out[key] = merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def case_config(name: str, runs_dir: Path, precision: str = "fp32"):
    from spikereplay.config_files import read_config_file
    from spikereplay.loader import config_from_dict

    case = dict(CASES[name])
    base = read_config_file(REPO / case.pop("_base")) if "_base" in case else {}
    raw = merge(merge(base, BASE), case)
    return config_from_dict(merge(raw, {"name": name, "precision": precision, "output": {"runs_dir": str(runs_dir)}}))


def weight_fingerprint(state: dict) -> dict[str, list[float]]:
    """Per floating tensor: its sum and its dot product with a fixed normal pattern (seeded by the
    tensor's size), in float64. One weight moved by d moves the second by about d."""
    prints = {}
    for name, tensor in sorted(state.items()):
        if not tensor.is_floating_point():
            continue
        values = tensor.detach().double().flatten().cpu()
        pattern = torch.randn(
            values.numel(), generator=torch.Generator().manual_seed(values.numel()), dtype=torch.float64
        )
        prints[name] = [float(values.sum()), float(values @ pattern)]
    return prints


def run_case(name: str, runs_dir: Path, precision: str = "fp32") -> dict:
    """The case's accuracy matrices, and in fp64 the fingerprint of its final weights."""
    from spikereplay.experiment import run_experiment

    cfg = case_config(name, runs_dir, precision)
    metrics = run_experiment(cfg, log=lambda *_: None)
    result = {
        "accuracy_matrix": metrics["accuracy_matrix"],
        "task_incremental_matrix": metrics["task_incremental_matrix"],
    }
    if precision == "fp64":
        checkpoint = torch.load(cfg.run_dir / "checkpoints" / f"task_{metrics['steps_done']}.pt", weights_only=False)
        result["weights"] = weight_fingerprint(checkpoint["model"])
    return result


def run_each(names: list[str], runs_dir: Path, precision: str) -> dict:
    """``run_case`` for each name; a case that raises is recorded as ``{"error": its traceback}``, so
    that it fails alone and the others are still checked."""
    results = {}
    for name in names:
        try:
            results[name] = run_case(name, runs_dir, precision)
        except Exception:
            results[name] = {"error": traceback.format_exc()}
    return results


def pinned_key() -> str:
    """What still decides a pinned fp64 run's bits: the CPU vendor (measured: an Intel Xeon and an
    AMD EPYC differ under the pin, by a kernel not yet named) and the torch version (the key of the
    fp64 record)."""
    return f"{cpu_facts()['vendor'] or 'unknown-vendor'} torch={torch.__version__}"


def pinned_kernels() -> str | None:
    """Why this process's kernels are not those ``PINNED_ENV`` asks for, or None where they are."""
    if not torch.backends.mkl.is_available():
        return "this torch has no MKL (not an x86-64 build)"
    if any(os.environ.get(key) != value for key, value in PINNED_ENV.items()):
        return f"the environment does not set {PINNED_ENV}"
    if torch.backends.cpu.get_cpu_capability() != "AVX2":
        return f"ATen runs its {torch.backends.cpu.get_cpu_capability()} kernels, not AVX2 (no AVX2 on this CPU)"
    return None


def become_pinned() -> None:
    """Re-run this script under ``PINNED_ENV`` if it is not (the settings are read when torch
    loads); exit with one error line where the pinned kernels cannot run here."""
    if any(os.environ.get(key) != value for key, value in PINNED_ENV.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **PINNED_ENV})
    why = pinned_kernels()
    if why:
        sys.exit(f"error: the pinned kernels cannot run here: {why}")


def run_pinned(names: list[str], runs_dir: Path, ieee_sqrt: bool = False) -> dict:
    """``{"cases": {name: fp64 result}}`` for ``names``, run in a child process with ``PINNED_ENV``
    (and IEEE's sqrt, with ``ieee_sqrt``); ``{"unpinned": why}`` where this machine cannot run the
    pinned kernels."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    out = runs_dir / "pinned_fp64.json"
    command = [sys.executable, "-m", "tests.regression.cases", "--fp64-child", str(out), "--cases", *names]
    command += ["--ieee-sqrt"] if ieee_sqrt else []
    subprocess.run(command, env={**os.environ, **PINNED_ENV}, cwd=REPO, check=True)
    return json.loads(out.read_text())


def fingerprint_mismatches(got: dict, want: dict, tolerance: float = FINGERPRINT_TOLERANCE) -> list[str]:
    """The tensors whose fingerprints differ by more than ``tolerance`` (relative to 1 or the value).
    Records from before backbones (``conv1.weight``) name the tensors as checkpoints then did."""
    from spikereplay.model import current_names

    want = current_names(want)
    bad = [name for name in want if name not in got] + [name for name in got if name not in want]
    for name in sorted(set(got) & set(want)):
        for a, b in zip(got[name], want[name]):
            if not math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance):
                bad.append(f"{name}: {a!r} vs recorded {b!r}")
                break
    return bad


def read_record(path: Path) -> dict:
    """A record file: ``{machine key: {case: result}}``."""
    return json.loads(path.read_text()) if path.exists() else {}


def write_record(path: Path, key: str, results: dict) -> None:
    """The cases run replace their records under ``key``; the other cases and keys stay."""
    records = read_record(path)
    records[key] = {**records.get(key, {}), **results}
    path.write_text(json.dumps(records, indent=1) + "\n")


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--record",
        nargs="+",
        choices=["pinned", "exact"],
        default=[],
        help="write this machine's results as the record",
    )
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES), help="only these cases")
    parser.add_argument(
        "--ieee-sqrt",
        action="store_true",
        help=f"the trial pin: IEEE's sqrt in place of MKL's, against (or recorded in) {IEEE_SQRT_RECORD.name}",
    )
    parser.add_argument("--fp64-child", metavar="JSON", help=argparse.SUPPRESS)  # run_pinned's child
    args = parser.parse_args()
    if args.fp64_child:
        why = pinned_kernels()
        with tempfile.TemporaryDirectory() as tmp, IEEESqrt() if args.ieee_sqrt else contextlib.nullcontext():
            done = {"unpinned": why} if why else {"cases": run_each(args.cases, Path(tmp), "fp64")}
        Path(args.fp64_child).write_text(json.dumps(done))
        return
    with tempfile.TemporaryDirectory() as tmp:
        pinned = run_pinned(args.cases, Path(tmp) / "fp64", args.ieee_sqrt)
        if "unpinned" in pinned and "pinned" in args.record:
            sys.exit(
                f"error: the fp64 record needs the pinned kernels, which this machine cannot run: {pinned['unpinned']}"
            )
        results = pinned.get("cases")  # None where the pin cannot hold; the fp32 tier still runs
        exact = {name: run_case(name, Path(tmp) / "fp32") for name in args.cases}
    fp64_record = IEEE_SQRT_RECORD if args.ieee_sqrt else PINNED_RECORD
    if "pinned" in args.record:
        write_record(fp64_record, pinned_key(), results)
    if "exact" in args.record:
        write_record(EXACT_RECORD, cpu_key(), exact)
    fp64_records = read_record(fp64_record)
    want_fp32 = read_record(EXACT_RECORD).get(cpu_key(), {})
    print(f"this CPU: {cpu_key()} (fp64 record: {pinned_key()} in {fp64_record.name})")
    if results is None:
        print(f"fp64: skipped, the pinned kernels cannot run here: {pinned['unpinned']}")
    for name in args.cases:
        own = fp64_verdict(results, fp64_records.get(pinned_key(), {}), name)
        print(f"{name}: fp64 {own}; fp32 {fp32_verdict(exact, want_fp32, name)}")
        for key in sorted(set(fp64_records) - {pinned_key()}):  # does the pin hold across vendors?
            print(f"    fp64 against {key}'s record: {fp64_verdict(results, fp64_records[key], name)}")


def fp64_verdict(results: dict | None, want: dict, name: str) -> str:
    if results is None:
        return "not run"
    if "error" in results[name]:
        return f"RAISED:\n{results[name]['error']}"
    if name not in want:
        return "no record"
    got, want = results[name], want[name]
    same = all(got[key] == want[key] for key in ("accuracy_matrix", "task_incremental_matrix"))
    bad = fingerprint_mismatches(got["weights"], want["weights"])
    return f"matrices {'identical' if same else 'DIFFERENT'}, weights {bad or 'within tolerance'}"


def fp32_verdict(exact: dict, want: dict, name: str) -> str:
    if name not in want:
        return "no record for this CPU"
    return "identical" if exact[name] == want[name] else "DIFFERENT"


if __name__ == "__main__":
    main()
