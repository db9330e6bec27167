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

import torch
from snntorch import surrogate

RESET_CODES = {"subtract": 0, "zero": 1, "none": 2}


def make_surrogate(name: str, slope: float):
    """snnTorch's surrogate spike function by name (``slope`` is alpha for atan)."""
    if name == "fast_sigmoid":
        return surrogate.fast_sigmoid(slope=slope)
    if name == "atan":
        return surrogate.atan(alpha=slope)
    if name == "sigmoid":
        return surrogate.sigmoid(slope=slope)
    raise ValueError(f"unknown surrogate {name!r}")


class LeakyMembraneScan(torch.autograd.Function):
    """Membrane sequence m[0..T-1] of a reset_delay=True Leaky neuron for input x[0..T-1]."""

    @staticmethod
    def forward(ctx, currents: torch.Tensor, beta: float, threshold: float, reset_code: int):
        mem_seq = torch.empty_like(currents)
        mem = torch.zeros_like(currents[0])
        for t in range(currents.shape[0]):
            if reset_code == 0:
                reset = (mem - threshold > 0).to(mem.dtype)
                mem = beta * mem + currents[t] - reset * threshold
            elif reset_code == 1:
                reset = (mem - threshold > 0).to(mem.dtype)
                mem = (1 - reset) * mem
                mem = beta * mem + currents[t]
            else:
                mem = beta * mem + currents[t]
            mem_seq[t] = mem
        ctx.beta, ctx.threshold, ctx.reset_code = beta, threshold, reset_code
        if reset_code == 1:
            ctx.save_for_backward(mem_seq)
        return mem_seq

    @staticmethod
    def backward(ctx, grad_mem_seq: torch.Tensor):
        beta = ctx.beta
        grad_currents = torch.empty_like(grad_mem_seq)
        carry = torch.zeros_like(grad_mem_seq[0])
        if ctx.reset_code == 1:
            (mem_seq,) = ctx.saved_tensors
            # m[t] depends on m[t-1] through beta*(1 - r[t]), with r[t] = H(m[t-1] - thr)
            keep = (mem_seq - ctx.threshold <= 0).to(grad_mem_seq.dtype) * beta
        for t in range(grad_mem_seq.shape[0] - 1, -1, -1):
            carry = grad_mem_seq[t] + carry
            grad_currents[t] = carry
            carry = carry * (keep[t - 1] if ctx.reset_code == 1 else beta)
        return grad_currents, None, None, None


def leaky_sequence(
    currents: torch.Tensor,
    beta: float,
    threshold: float,
    spike_fn,
    reset_mechanism: str = "subtract",
    reset_delay: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and membrane, each (T, ...), of a Leaky layer driven by ``currents`` (T, ...).

    ``currents`` may be a broadcast view of one constant input (stride 0 over T).
    """
    beta = min(max(float(beta), 0.0), 1.0)  # snn.Leaky clamps beta to [0, 1]
    if reset_delay:
        mem_seq = LeakyMembraneScan.apply(currents.float(), beta, float(threshold), RESET_CODES[reset_mechanism])
        return spike_fn(mem_seq - threshold), mem_seq
    return _leaky_sequence_no_delay(currents.float(), beta, threshold, spike_fn, reset_mechanism)


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
