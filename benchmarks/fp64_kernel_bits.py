"""Do the float64 kernels the regression cases call give the same bits on this CPU as on another?

Runs, under the regression tier's pinned kernels (``PINNED_ENV`` in tests/regression/cases.py),
each float64 kernel family the tiny regression runs call, on seeded inputs of the shapes they use,
and prints one line per kernel: its name and a hash of the bits of its outputs. The matrix products
are the DGEMM shapes MKL_VERBOSE lists for the cases (convolution per sample, the spiking layers'
linear read-outs); the unary functions are those ATen hands to MKL's vector maths (VML), whose
bits follow MKL's branch. Diff the output of two CPUs: a line that differs names a kernel that
is not portable under the pin::

    python benchmarks/fp64_kernel_bits.py > /tmp/mine.txt
    diff results/regression-portability/kernel_bits_intel.txt /tmp/mine.txt
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package, for the pin

from tests.regression.cases import PINNED_ENV, become_pinned  # noqa: E402


def bits(*tensors: torch.Tensor) -> str:
    digest = hashlib.sha1()
    for tensor in tensors:
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def seeded(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def spikes(*shape: int, seed: int) -> torch.Tensor:
    return (seeded(*shape, seed=seed) > 0.5).double()


def convolution(batch: int, channels: int, size: int, out: int, seed: int) -> str:
    """Forward and backward of a 5x5 convolution on spike inputs, as the conv backbone runs it."""
    x = spikes(batch, channels, size, size, seed=seed).requires_grad_()
    weight = (0.1 * seeded(out, channels, 5, 5, seed=seed + 1)).requires_grad_()
    bias = (0.1 * seeded(out, seed=seed + 2)).requires_grad_()
    y = F.conv2d(x, weight, bias)
    y.backward(seeded(*y.shape, seed=seed + 3))
    return bits(y, x.grad, weight.grad, bias.grad)


def linear(rows: int, features: int, out: int, seed: int) -> str:
    x = spikes(rows, features, seed=seed).requires_grad_()
    weight = (0.05 * seeded(out, features, seed=seed + 1)).requires_grad_()
    bias = (0.05 * seeded(out, seed=seed + 2)).requires_grad_()
    y = F.linear(x, weight, bias)
    y.backward(seeded(*y.shape, seed=seed + 3))
    return bits(y, x.grad, weight.grad, bias.grad)


def mkl_branch_product() -> str:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(256, 1000, dtype=torch.float64, generator=generator)
    b = torch.randn(1000, 300, dtype=torch.float64, generator=generator)
    return bits(a @ b)


def main() -> None:
    become_pinned()
    lines = {
        "conv1 16x1x28x28 -> 12": convolution(16, 1, 28, 12, seed=1),
        "conv2 16x12x12x12 -> 64": convolution(16, 12, 12, 64, seed=2),
        "conv2 96x12x12x12 -> 64": convolution(96, 12, 12, 64, seed=3),
        # benchmarks/mkl_branch_bits.py's product: 1076ac05a175 under the pin on an AMD EPYC Zen 4
        "dgemm 256x1000 @ 1000x300 (mkl_branch_bits)": mkl_branch_product(),
        "dot 2048": bits(seeded(2048, seed=6) @ seeded(2048, seed=7)),
        "dot 2": bits(seeded(2, seed=8) @ seeded(2, seed=9)),
    }
    for rows in (48, 96, 120, 192, 240, 336, 384):
        for out in (2, 4, 6, 8, 10):
            lines[f"linear {rows}x1024 -> {out}"] = linear(rows, 1024, out, seed=rows * 100 + out)
    x = seeded(100_000, seed=10)
    positive = x.abs() + 0.1
    for name in ("exp", "log", "tanh", "sigmoid", "atan", "erf", "sin", "cos", "tan", "sqrt", "rsqrt", "log1p"):
        argument = positive if name in ("log", "sqrt", "rsqrt", "log1p") else 3 * x
        lines[f"unary {name}"] = bits(getattr(torch, name)(argument))
    for size in (12, 64, 300, 2048, 10240, 19200):  # Adam's sqrt, on each parameter's size
        lines[f"sqrt of {size}"] = bits(torch.sqrt(positive[:size]))
    # ATen's float64 sqrt is MKL's vector sqrt, which is not IEEE's correctly rounded one: how many
    # of 100000 seeded values are off numpy's (IEEE) sqrt
    wide = positive * torch.exp(10 * seeded(100_000, seed=13))
    lines["sqrt values off IEEE, of 100000"] = str(int((torch.sqrt(wide).numpy() != np.sqrt(wide.numpy())).sum()))
    lines["log_softmax 96x10"] = bits(torch.log_softmax(seeded(96, 10, seed=11), dim=1))
    lines["sum 100000"] = bits(x.sum())
    lines["max_pool2d 96x64x8x8"] = bits(F.max_pool2d(seeded(96, 64, 8, 8, seed=12), 2))
    print(f"# torch {torch.__version__}, ATen {torch.backends.cpu.get_cpu_capability()}, pinned {PINNED_ENV}")
    for name, digest in lines.items():
        print(f"{name}: {digest}")


if __name__ == "__main__":
    main()
