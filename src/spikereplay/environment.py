"""What decides a run's bits besides its config: the CPU, the thread count, the library versions.

The same config and seed repeat exactly on one machine with one thread count. Change any of these
and float kernels sum in another order; in an SNN one changed last bit can flip a spike, and the
run goes another way (a tiny quick run: 27.25 % with 2 threads, 47.75 % with 1). Each run records
them in ``metrics.json`` (``environment``), and ``spikereplay compare`` shows where runs differ.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import snntorch
import torch

from spikereplay import __version__

# The CPU features that pick a float kernel: oneDNN uses AMX and AVX-512 bf16 where they exist.
KERNEL_FLAGS = ("amx_tile", "avx512_bf16", "avx512f", "avx2")


def cpu_facts() -> dict:
    """The CPU's model name, vendor and the kernel-picking flags it has (from /proc/cpuinfo)."""
    facts = {"model": platform.processor() or platform.machine(), "vendor": None, "flags": []}
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return facts
    named = False
    for line in lines:
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name" and not named:
            facts["model"], named = value, True
        elif key == "vendor_id" and facts["vendor"] is None:
            facts["vendor"] = value
        elif key == "flags":
            flags = set(value.split())
            facts["flags"] = [flag for flag in KERNEL_FLAGS if flag in flags]
            break
    return facts


def cpu_key() -> str:
    """One line naming what decides an fp32 run's bits on a CPU: vendor, kernel flags, threads and
    torch version (the key of the per-CPU regression record)."""
    facts = cpu_facts()
    units = "+".join(flag for flag in facts["flags"] if flag != "avx2") or "no-avx512"
    vendor = facts["vendor"] or platform.machine()
    return f"{vendor} {units} threads={torch.get_num_threads()} torch={torch.__version__}"


def versions() -> dict:
    return {
        "spikereplay": __version__,
        "torch": torch.__version__,
        "snntorch": snntorch.__version__,
        "python": platform.python_version(),
    }


def make_cuda_deterministic() -> None:
    """Pick CUDA's deterministic kernels, so a CUDA run repeats itself and resumes to the same weights.

    CUDA's fastest kernels (cuDNN's convolution gradients, cuBLAS's split reductions, atomic adds)
    sum in an order that changes from call to call. Measured on an H100: without these switches a
    run resumed after a kill ends with weights a few last bits away from the uninterrupted run's.
    cuBLAS reads its workspace setting when it first runs, so it is set before any CUDA work; ops
    with no deterministic kernel warn rather than stop the run.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def run_environment(device: torch.device, cfg) -> dict:
    """Everything outside the seed that decides this run's numbers, as ``metrics.json`` records it."""
    cpu = cpu_facts()
    return {
        "cpu": cpu["model"],
        "cpu_vendor": cpu["vendor"],
        "cpu_flags": cpu["flags"],
        "threads": torch.get_num_threads(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "deterministic_kernels": torch.are_deterministic_algorithms_enabled(),
        "precision": cfg.precision,
        "engine": cfg.model.engine,
        "compile_forward": cfg.model.compile_forward,
        "torch": torch.__version__,
        "snntorch": snntorch.__version__,
    }
