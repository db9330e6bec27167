"""Spike-driven (event) conv2 + 2x2 max-pool against the dense engine's oneDNN layers, by spike rate.

conv2's input is binary spikes (T*B, 12, 12, 12), so its forward and weight gradient need work only
where a spike is: each spike adds a 64-float weight row to up to 25 outputs (forward), or an output
gradient row to up to 25 weight rows (weight gradient). The input gradient stays dense: the
surrogate gives every input position a gradient, spike or not, so it is oneDNN's in both columns.
The event kernels are numba (parallel over samples; ``pip install numba``), written in the layouts
the adds want: weights (Cin, K, K, Cout), outputs (N, H, W, Cout), i.e. channels_last.

Each kernel is checked against the dense result first; timings are medians of interleaved rounds
in one process, so the ratios hold on a busy machine. Writes a markdown table.

Usage: python benchmarks/event_conv.py [--rates 0.02 0.05 ...] [--batch 480] [--rounds 5] [--output FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

try:
    import numba
    from numba import njit, prange
except ImportError:
    sys.exit("event_conv.py needs numba: pip install numba")

CIN, COUT, K, SIDE = 12, 64, 5, 12  # the seed network's conv2 on MNIST: 12x12 input maps


@njit(parallel=True, cache=True)
def event_forward_pool(spikes, weight_t, bias, pooled, argmax):
    """spikes (N, Cin, H, W); weight_t (Cin, K, K, Cout); pooled, argmax (N, H', W', Cout), 2x2 pool
    of the conv output with the first maximum's position in the window (torch's tie rule)."""
    n_samples, cin, height, width = spikes.shape
    k, cout = weight_t.shape[1], weight_t.shape[3]
    out_h, out_w = height - k + 1, width - k + 1
    for n in prange(n_samples):
        out = np.empty((out_h, out_w, cout), np.float32)
        for oh in range(out_h):
            for ow in range(out_w):
                out[oh, ow, :] = bias
        for ci in range(cin):
            for ih in range(height):
                for iw in range(width):
                    value = spikes[n, ci, ih, iw]
                    if value != 0.0:
                        for kh in range(max(0, ih - out_h + 1), min(k, ih + 1)):
                            for kw in range(max(0, iw - out_w + 1), min(k, iw + 1)):
                                for c in range(cout):
                                    out[ih - kh, iw - kw, c] += value * weight_t[ci, kh, kw, c]
        for ph in range(out_h // 2):
            for pw in range(out_w // 2):
                for c in range(cout):
                    best, where = out[2 * ph, 2 * pw, c], 0
                    for j in range(1, 4):
                        value = out[2 * ph + j // 2, 2 * pw + j % 2, c]
                        if value > best:
                            best, where = value, j
                    pooled[n, ph, pw, c] = best
                    argmax[n, ph, pw, c] = where


@njit(parallel=True, cache=True)
def event_weight_grad(spikes, grad_pooled, argmax, k, partial_grads, grad_out):
    """Weight gradient (chunks, Cin, K, K, Cout), one partial sum per chunk of samples (no races);
    grad_pooled, argmax (N, H', W', Cout). Also writes the conv output's gradient (N, H, W, Cout):
    each window's first maximum gets the pooled gradient, as in max_pool2d's backward."""
    n_samples, cin, height, width = spikes.shape
    chunks, cout = partial_grads.shape[0], grad_pooled.shape[3]
    out_h, out_w = height - k + 1, width - k + 1
    for chunk in prange(chunks):
        grad_w = partial_grads[chunk]
        for n in range(chunk * n_samples // chunks, (chunk + 1) * n_samples // chunks):
            grad_n = grad_out[n]
            for ph in range(out_h // 2):
                for pw in range(out_w // 2):
                    for c in range(cout):
                        for j in range(4):
                            hit = argmax[n, ph, pw, c] == j
                            grad_n[2 * ph + j // 2, 2 * pw + j % 2, c] = grad_pooled[n, ph, pw, c] if hit else 0.0
            for ci in range(cin):
                for ih in range(height):
                    for iw in range(width):
                        value = spikes[n, ci, ih, iw]
                        if value != 0.0:
                            for kh in range(max(0, ih - out_h + 1), min(k, ih + 1)):
                                for kw in range(max(0, iw - out_w + 1), min(k, iw + 1)):
                                    for c in range(cout):
                                        grad_w[ci, kh, kw, c] += value * grad_n[ih - kh, iw - kw, c]


def dense_step(spikes_cl, weight, bias, grad_pooled_cl):
    """The dense engine's conv2 + pool, forward and both gradients (oneDNN, channels_last)."""
    x = spikes_cl.detach().requires_grad_()
    w = weight.detach().requires_grad_()
    pooled = F.max_pool2d(F.conv2d(x, w, bias), 2)
    pooled.backward(grad_pooled_cl)
    return pooled, x.grad, w.grad


def event_step(spikes, spikes_cl, weight, weight_t, bias, grad_pooled, chunks):
    """Event forward and weight gradient; the input gradient dense (oneDNN), from the event kernel's
    unpooled gradient. ``spikes_cl``: the same spikes in channels_last, only its layout is read;
    ``grad_pooled`` in channels_last, as the dense engine hands it to the pool."""
    n = spikes.shape[0]
    side = (SIDE - K + 1) // 2
    pooled = np.empty((n, side, side, COUT), np.float32)
    argmax = np.empty((n, side, side, COUT), np.int8)
    event_forward_pool(spikes.numpy(), weight_t, bias.numpy(), pooled, argmax)
    partial = np.zeros((chunks, CIN, K, K, COUT), np.float32)
    grad_out = np.empty((n, 2 * side, 2 * side, COUT), np.float32)
    grad_nhwc = grad_pooled.permute(0, 2, 3, 1).numpy()  # channels_last: a view
    event_weight_grad(spikes.numpy(), grad_nhwc, argmax, K, partial, grad_out)
    grad_out_cl = torch.from_numpy(grad_out).permute(0, 3, 1, 2)  # channels_last, as the dense engine's
    grad_in = torch.ops.aten.convolution_backward(
        grad_out_cl, spikes_cl, weight, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, [True, False, False]
    )[0]
    return (
        torch.from_numpy(pooled).permute(0, 3, 1, 2),
        grad_in,
        torch.from_numpy(partial.sum(0)).permute(3, 0, 1, 2),
    )


def break_even(rows) -> str:
    """Where the speed-up crosses 1, linearly interpolated between the two measured rates around it."""
    for (r0, d0, e0, _), (r1, d1, e1, _) in zip(rows, rows[1:]):
        s0, s1 = d0 / e0, d1 / e1
        if s0 >= 1 > s1:
            rate = r0 + (s0 - 1) / (s0 - s1) * (r1 - r0)
            return f"break-even spike rate: about {rate:.3f} (interpolated between {r0} and {r1})"
    if all(d / e >= 1 for _, d, e, _ in rows):
        return "the event layer is faster at every rate measured"
    return (
        "the event layer is slower at every rate measured"
        if all(d < e for _, d, e, _ in rows)
        else "no single crossing"
    )


def median_ms(fn, rounds, calls=10):
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - started) / calls * 1e3)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.02, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2])
    parser.add_argument("--batch", type=int, default=480, help="T*B samples per call (default: T=30 x B=16)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", default="results/event-conv.md")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    numba.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(COUT, CIN, K, K, generator=gen) * 0.1
    bias = torch.randn(COUT, generator=gen) * 0.1
    weight_t = weight.permute(1, 2, 3, 0).contiguous().numpy()
    side = (SIDE - K + 1) // 2
    rows = []
    for rate in sorted(args.rates):
        spikes = (torch.rand(args.batch, CIN, SIDE, SIDE, generator=gen) < rate).float()
        grad_pooled = torch.randn(args.batch, COUT, side, side, generator=gen)
        spikes_cl = spikes.contiguous(memory_format=torch.channels_last)
        grad_cl = grad_pooled.contiguous(memory_format=torch.channels_last)
        dense = dense_step(spikes_cl, weight, bias, grad_cl)
        event = event_step(spikes, spikes_cl, weight, weight_t, bias, grad_cl, threads)
        errors = [(e - d).abs().max().item() for e, d in zip(event, dense)]
        if max(errors) > 1e-3:
            sys.exit(f"event kernels disagree with the dense layers at rate {rate}: max errors {errors}")
        dense_args = (spikes_cl, weight, bias, grad_cl)
        event_args = (spikes, spikes_cl, weight, weight_t, bias, grad_cl, threads)
        dense_ms = median_ms(lambda a=dense_args: dense_step(*a), args.rounds)
        event_ms = median_ms(lambda a=event_args: event_step(*a), args.rounds)
        rows.append((rate, dense_ms, event_ms, max(errors)))
        print(f"rate {rate:.2f}: dense {dense_ms:.2f} ms, event {event_ms:.2f} ms ({dense_ms / event_ms:.2f}x)")
    lines = [
        "| spike rate | dense fwd+bwd (ms) | event fwd+bwd (ms) | speed-up | max abs difference |",
        "|---|---|---|---|---|",
    ] + [f"| {r:.2f} | {d:.2f} | {e:.2f} | {d / e:.2f}x | {err:.1e} |" for r, d, e, err in rows]
    verdict = break_even(rows)
    text = (
        "# Event (spike-driven) conv2 + max-pool against dense oneDNN\n\n"
        f"Command: `python benchmarks/event_conv.py --batch {args.batch} --rounds {args.rounds} --rates "
        f"{' '.join(map(str, args.rates))}`; torch {torch.__version__}, numba {numba.__version__}, {threads} threads.\n\n"
        f"conv2 of the seed network, {args.batch} samples of (12, 12, 12) spikes: forward with the 2x2 max-pool, "
        "weight and input gradients; the input gradient is dense (oneDNN) in both columns. Median of "
        f"{args.rounds} rounds of 10 calls.\n\n" + "\n".join(lines) + f"\n\n{verdict}.\n"
    )
    if args.output:
        Path(args.output).write_text(text)
    print(verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
