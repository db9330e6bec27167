"""The dense limit of the seed study's SNN on a machine: the FLOPs one training sample costs, and
the machine's GEMM peak, whose ratio bounds the samples per second any dense engine can reach."""

from __future__ import annotations

import time

import torch

CONV1_CHANNELS, CONV2_CHANNELS, KERNEL = 12, 64, 5


def dense_training_flops(image_shape: tuple[int, int, int], num_classes: int, num_steps: int) -> dict[str, float]:
    """FLOPs (2 per multiply-add) of one training sample at T=``num_steps`` with a static input:
    conv1 runs once, conv2 and the head at every step. Backward costs two forwards for conv2 and the
    head (input and weight gradients) and one for conv1 (weight gradient only: the input needs none)."""
    channels, height, width = image_shape
    h1, w1 = height - KERNEL + 1, width - KERNEL + 1
    conv1 = 2 * CONV1_CHANNELS * h1 * w1 * channels * KERNEL * KERNEL
    h2, w2 = h1 // 2 - KERNEL + 1, w1 // 2 - KERNEL + 1
    conv2 = 2 * CONV2_CHANNELS * h2 * w2 * CONV1_CHANNELS * KERNEL * KERNEL
    features = CONV2_CHANNELS * (h2 // 2) * (w2 // 2)
    head = 2 * features * num_classes
    forward = conv1 + num_steps * (conv2 + head)
    return {"forward": forward, "training": 2 * conv1 + 3 * num_steps * (conv2 + head)}


def gemm_peak_gflops(dtype: torch.dtype, size: int = 1024, seconds: float = 0.5, device: str = "cpu") -> float:
    """Sustained GFLOP/s of a square ``size`` matrix product in ``dtype`` with the current thread settings."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    for _ in range(3):
        torch.mm(a, b)
    calls, started = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - started < seconds:
        torch.mm(a, b)
        calls += 1
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    return 2 * size**3 * calls / (time.perf_counter() - started) / 1e9
