"""Leaky integrate-and-fire over a whole sequence, exact to ``snn.Leaky``.

``snn.Leaky`` (reset_delay=True) computes, per step t, with m[-1] = 0:

    r[t] = H(m[t-1] - thr)              (detached)
    subtract: m[t] = beta*m[t-1] + x[t] - r[t]*thr
    zero:     m[t] = beta*(1 - r[t])*m[t-1] + x[t]
    none:     m[t] = beta*m[t-1] + x[t]
    s[t] = S(m[t] - thr)                (S = surrogate spike function)

The reset is detached, so m is *linear* in x given the reset pattern. The
backward pass is therefore a reverse linear scan, which ``LeakyMembraneScan``
does without building a per-step autograd graph. The spike function is applied
once to the whole membrane sequence with snnTorch's own surrogate, so the
surrogate gradient is snnTorch's by construction.

With reset_delay=False the reset depends on the (non-detached) spike, so the
recurrence is no longer linear; ``leaky_sequence`` then runs the same ops as
snn.Leaky step by step under autograd.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from snntorch import surrogate

RESET_CODES = {"subtract": 0, "zero": 1, "none": 2}


# snnTorch's surrogate autograd functions by name, with the name of their ctx parameter
SURROGATES = {
    "fast_sigmoid": (surrogate.FastSigmoid, "slope"),
    "atan": (surrogate.ATan, "alpha"),
    "sigmoid": (surrogate.Sigmoid, "slope"),
}


class _DoubleSpike(torch.autograd.Function):
    """An snnTorch surrogate kept in float64 (``precision: fp64``). snnTorch's forward returns
    float32 spikes, so its backward would receive a float32 gradient: rounding it there would make
    the fp64 regression runs depend on the last bits of a kernel's sum again. The backward is
    snnTorch's own, called on a float64 gradient."""

    @staticmethod
    def forward(ctx, input_, function, param_name, param):
        ctx.save_for_backward(input_)
        ctx.function, ctx.param_name, ctx.param = function, param_name, param
        return (input_ > 0).to(input_.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (input_,) = ctx.saved_tensors
        snn_ctx = SimpleNamespace(saved_tensors=(input_,), **{ctx.param_name: ctx.param})
        grad, _ = ctx.function.backward(snn_ctx, grad_output)
        return grad, None, None, None


def make_surrogate(name: str, slope: float):
    """snnTorch's surrogate spike function by name (``slope`` is alpha for atan); float64 inputs
    get float64 spikes and gradients, everything else snnTorch's function unchanged."""
    if name not in SURROGATES:
        raise ValueError(f"unknown surrogate {name!r}")
    function, param_name = SURROGATES[name]

    def spike(x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float64:
            return _DoubleSpike.apply(x, function, param_name, slope)
        return function.apply(x, slope)

    return spike


def membrane_scan(currents: torch.Tensor, beta: float, threshold: float, reset_code: int) -> torch.Tensor:
    """Forward recurrence of a reset_delay=True Leaky neuron; returns m[0..T-1].

    The op order is snn.Leaky's, (beta*m + x) - r*thr, so the floats come out
    bit-identical to it. Written without in-place ops so torch.compile can fuse
    the unrolled loop into one kernel.
    """
    prev = torch.zeros_like(currents[0])
    mems = []
    for t in range(currents.shape[0]):
        if reset_code == 1:
            prev = prev * (prev <= threshold)
        mem = prev * beta + currents[t]
        if reset_code == 0:
            mem = mem - (prev > threshold).to(mem.dtype) * threshold
        mems.append(mem)
        prev = mem
    return torch.stack(mems)


def membrane_scan_backward(grad_mem_seq, mem_seq, beta: float, threshold: float, reset_code: int):
    """Reverse linear scan: gradient of the loss w.r.t. the input currents."""
    carry = grad_mem_seq[-1]
    grads = [carry]
    for t in range(grad_mem_seq.shape[0] - 2, -1, -1):
        if reset_code == 1:
            # m[t+1] depends on m[t] through beta*(1 - r[t+1]), with r[t+1] = H(m[t] - thr)
            carry = carry * ((mem_seq[t] <= threshold).to(carry.dtype) * beta)
        else:
            carry = carry * beta
        carry = carry + grad_mem_seq[t]
        grads.append(carry)
    return torch.stack(grads[::-1])


_compiled: dict = {}


def _kernels(compiled: bool):
    if not compiled:
        return membrane_scan, membrane_scan_backward
    if not _compiled:
        # one graph per input rank, layout (broadcast or not) and grad mode: more than dynamo's default 8
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
        _compiled["fwd"] = torch.compile(membrane_scan, dynamic=True)
        _compiled["bwd"] = torch.compile(membrane_scan_backward, dynamic=True)
    return _compiled["fwd"], _compiled["bwd"]


class LeakyMembraneScan(torch.autograd.Function):
    """Membrane sequence m[0..T-1] of a reset_delay=True Leaky neuron for input x[0..T-1]."""

    @staticmethod
    def forward(ctx, currents, beta: float, threshold: float, reset_code: int, compiled: bool = False):
        mem_seq = _kernels(compiled)[0](currents, beta, threshold, reset_code)
        ctx.beta, ctx.threshold, ctx.reset_code, ctx.compiled = beta, threshold, reset_code, compiled
        ctx.save_for_backward(mem_seq if reset_code == 1 else None)
        return mem_seq

    @staticmethod
    def backward(ctx, grad_mem_seq):
        (mem_seq,) = ctx.saved_tensors
        grad = _kernels(ctx.compiled)[1](grad_mem_seq.contiguous(), mem_seq, ctx.beta, ctx.threshold, ctx.reset_code)
        return grad, None, None, None, None


def _real(currents: torch.Tensor) -> torch.Tensor:
    """fp32 for fp32 and bf16 (autocast) currents; fp64 stays fp64 (``precision: fp64``)."""
    return currents if currents.dtype == torch.float64 else currents.float()


def leaky_sequence(
    currents: torch.Tensor,
    beta: float,
    threshold: float,
    spike_fn,
    reset_mechanism: str = "subtract",
    reset_delay: bool = True,
    compiled: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and membrane, each (T, ...), of a Leaky layer driven by ``currents`` (T, ...).

    ``currents`` may be a broadcast view of one constant input (stride 0 over T).
    ``compiled`` fuses the time loop with torch.compile (a one-off compile of ~20 s).
    """
    beta = min(max(float(beta), 0.0), 1.0)  # snn.Leaky clamps beta to [0, 1]
    if reset_delay:
        mem_seq = LeakyMembraneScan.apply(
            _real(currents), beta, float(threshold), RESET_CODES[reset_mechanism], compiled
        )
        return spike_fn(mem_seq - threshold), mem_seq
    return _leaky_sequence_no_delay(_real(currents), beta, threshold, spike_fn, reset_mechanism)


def _leaky_sequence_no_delay(currents, beta, threshold, spike_fn, reset_mechanism):
    mem = torch.zeros_like(currents[0])
    spikes, mems = [], []
    for t in range(currents.shape[0]):
        reset = spike_fn(mem - threshold).detach()
        if reset_mechanism == "zero":
            mem = (1 - reset) * mem
        mem = beta * mem + currents[t]
        if reset_mechanism == "subtract":
            mem = mem - reset * threshold
        spk = spike_fn(mem - threshold)
        do_reset = spk - reset  # snn.Leaky: avoid a double reset
        if reset_mechanism == "subtract":
            mem = mem - do_reset * threshold
        elif reset_mechanism == "zero":
            mem = mem - do_reset * mem
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)
