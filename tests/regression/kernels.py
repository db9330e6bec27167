"""A kernel the pinned fp64 regression runs may take from outside MKL (tests/regression/cases.py).

ATen computes a float64 ``sqrt`` (Adam's, on every step) with MKL's vector maths, which is not
IEEE's correctly rounded square root: measured on an Intel Xeon under the pin, 1295 of 100000
seeded values are one ulp off numpy's (results/regression-portability/). An approximation is free
to give other bits on another vendor's CPU; IEEE's square root has exactly one answer, the one
the hardware ``sqrtpd`` instruction that numpy calls gives on every x86-64 CPU.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode


class IEEESqrt(TorchDispatchMode):
    """Within it, every float64 CPU ``sqrt`` is IEEE's (numpy's); every other operator runs as is."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        (x,) = args if func is torch.ops.aten.sqrt.default else (None,)
        if x is None or kwargs or x.dtype != torch.float64 or x.device.type != "cpu":
            return func(*args, **kwargs)
        out = torch.empty_like(x)  # keeps the input's strides, as ATen's unary operators do
        out.copy_(torch.from_numpy(np.sqrt(x.detach().numpy())))
        return out
