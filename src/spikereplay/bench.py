"""Benchmark the SNN engines: training and evaluation throughput (samples/s) vs the textbook loop.

All variants run in one process on the same random data. Each is measured in
several rounds, interleaved with the others, and the median is kept, so the
ratios hold even on a busy shared machine. The reference (ratio 1.0) is the
textbook snnTorch loop: every layer called once per time step, snn.Leaky, fp32.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from snntorch import functional as SF

from spikereplay import io as atomic
from spikereplay.config import ModelConfig
from spikereplay.datasets import dataset_info
from spikereplay.encoding import encode
from spikereplay.flops import dense_training_flops, gemm_peak_gflops
from spikereplay.model import SpikingConvNet, cpu_has_native_bf16

VARIANTS = {
    # name: (engine, precision, what is compiled: None, "scan" (model.compile: the time loop) or
    # "forward" (model.compile_forward: the whole forward as one graph))
    "textbook fp32 (reference)": ("textbook", "fp32", None),
    "fused fp32": ("fused", "fp32", None),
    "fused fp32 + compile": ("fused", "fp32", "scan"),
    "fused fp32 + compile forward": ("fused", "fp32", "forward"),
    "fused bf16": ("fused", "bf16", None),
    "fused bf16 + compile": ("fused", "bf16", "scan"),
    "fused bf16 + compile forward": ("fused", "bf16", "forward"),
}
COMPILE_MODES = (None, "scan", "forward")
REFERENCE = "textbook fp32 (reference)"
PEAK_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def make_model(engine: str, precision: str, compiled: str | None, seed: int = 0, device: str = "cpu") -> SpikingConvNet:
    """The seed study's network on MNIST-shaped inputs; ``compiled`` is one of COMPILE_MODES."""
    if compiled not in COMPILE_MODES:
        raise ValueError(f"compiled must be one of {COMPILE_MODES}, got {compiled!r}")
    torch.manual_seed(seed)
    mnist = dataset_info("mnist")
    cfg = ModelConfig(engine=engine, compile=compiled is not None, compile_forward=compiled == "forward")
    model = SpikingConvNet(cfg, mnist.image_shape, precision)
    model.add_head(mnist.num_classes)
    return model.to(device)


def train_step_fn(model, images, labels, num_steps):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = SF.ce_count_loss()

    def step():
        inputs, static = encode("rate_conv", images, num_steps)
        spikes, _ = model(inputs, static, num_steps)
        loss = loss_fn(spikes, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def eval_step_fn(model, images, num_steps, reference: bool):
    # the reference evaluates the textbook way (no_grad); ours under inference_mode
    context = torch.no_grad if reference else torch.inference_mode

    def step():
        with context():
            inputs, static = encode("rate_conv", images, num_steps)
            model(inputs, static, num_steps)

    return step


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)  # GPU work is asynchronous: time it to its end


def throughput(step, samples_per_call: int, seconds: float, device: str = "cpu") -> float:
    for _ in range(3):  # warm-up (and compile)
        step()
    _synchronize(device)
    calls, started = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - started < seconds:
        step()
        calls += 1
    _synchronize(device)
    return calls * samples_per_call / (time.perf_counter() - started)


def run_benchmark(
    batch_sizes, num_steps: int, eval_batch: int, rounds: int, seconds: float, variants=None, log=print, device="cpu"
) -> list[dict]:
    """Median throughput of each variant (default: all) and its ratio to the reference."""
    chosen = {REFERENCE: VARIANTS[REFERENCE], **{n: VARIANTS[n] for n in (variants or VARIANTS)}}
    torch.manual_seed(0)
    rows = []
    for batch in batch_sizes:
        mnist = dataset_info("mnist")
        images = torch.randint(0, 256, (max(batch, eval_batch), *mnist.image_shape), dtype=torch.uint8).to(device)
        labels = torch.randint(0, mnist.num_classes, (batch,)).to(device)
        steps = {}
        for name, (engine, precision, compiled) in chosen.items():
            reference = engine == "textbook"
            train_model = make_model(engine, precision, compiled, device=device)
            eval_model = make_model(engine, precision, compiled, device=device).eval()
            ev_batch = batch if reference else eval_batch
            steps[name] = {
                "train": (train_step_fn(train_model, images[:batch], labels, num_steps), batch),
                "eval": (eval_step_fn(eval_model, images[:ev_batch], num_steps, reference), ev_batch),
            }
        samples = {name: {"train": [], "eval": []} for name in chosen}
        for r in range(rounds):
            for name in chosen:
                for kind in ("train", "eval"):
                    step, n = steps[name][kind]
                    samples[name][kind].append(throughput(step, n, seconds, device))
            log(f"B={batch}: round {r + 1}/{rounds} done")
        ref = REFERENCE
        for name in chosen:
            train = statistics.median(samples[name]["train"])
            evals = statistics.median(samples[name]["eval"])
            rows.append(
                {
                    "batch": batch,
                    "variant": name,
                    "train": train,
                    "eval": evals,
                    "eval_batch": batch if VARIANTS[name][0] == "textbook" else eval_batch,
                    "train_ratio": train / statistics.median(samples[ref]["train"]),
                    "eval_ratio": evals / statistics.median(samples[ref]["eval"]),
                }
            )
    return rows


def machine_description(device: str = "cpu") -> str:
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"native bf16: {'yes' if cpu_has_native_bf16() else 'no (emulated, slow)'}"
    )


def add_dense_bound(rows: list[dict], flops_per_sample: float, peaks: dict[str, float]) -> None:
    """Each row's training throughput as a % of the dense bound of its precision (GEMM peak / FLOPs per sample)."""
    for row in rows:
        precision = VARIANTS[row["variant"]][1]
        row["train_bound"] = 100 * row["train"] * flops_per_sample / (peaks[precision] * 1e9)


def format_table(rows: list[dict], num_steps: int) -> str:
    bound = all("train_bound" in row for row in rows)
    lines = [
        "| T | B (train) | variant | train samples/s | train ratio |"
        + (" % of dense bound |" if bound else "")
        + " eval batch | eval samples/s | eval ratio |",
        "|---" * (9 if bound else 8) + "|",
    ]
    for row in rows:
        lines.append(
            f"| {num_steps} | {row['batch']} | {row['variant']} | {row['train']:.0f} | {row['train_ratio']:.2f}x "
            + (f"| {row['train_bound']:.0f} % " if bound else "")
            + f"| {row['eval_batch']} | {row['eval']:.0f} | {row['eval_ratio']:.2f}x |"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 128])
    parser.add_argument("--num-steps", type=int, default=30)
    parser.add_argument("--eval-batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum time per measurement")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=None, help="default: all")
    parser.add_argument("--output", default="results/benchmark.md", help="markdown file to write ('' = none)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")


def variants_argument(variants) -> str:
    return "" if not variants else " --variants " + " ".join(f'"{name}"' for name in variants)


def main(args) -> int:
    if min(args.batch_sizes) < 1 or args.num_steps < 1 or args.rounds < 1 or args.eval_batch < 1:
        from spikereplay.errors import ConfigError

        raise ConfigError("batch sizes, --num-steps, --eval-batch and --rounds must be positive")
    if args.device != "cpu":
        from spikereplay.experiment import check_device

        check_device(args.device)
    mnist = dataset_info("mnist")
    flops = dense_training_flops(mnist.image_shape, mnist.num_classes, args.num_steps)["training"]
    peaks = {name: gemm_peak_gflops(dtype, device=args.device) for name, dtype in PEAK_DTYPES.items()}
    limit = (
        f"GEMM peak (1024^3, same run): fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s. "
        f"Dense training cost at T={args.num_steps}: {flops / 1e6:.1f} MFLOP per sample, so the dense bound is "
        f"{peaks['fp32'] * 1e9 / flops:.0f} samples/s in fp32 and {peaks['bf16'] * 1e9 / flops:.0f} in bf16."
    )
    print(limit)
    rows = run_benchmark(
        args.batch_sizes, args.num_steps, args.eval_batch, args.rounds, args.seconds, args.variants, device=args.device
    )
    add_dense_bound(rows, flops, peaks)
    table = format_table(rows, args.num_steps)
    print(table)
    if args.output:
        text = (
            "# Engine benchmark\n\n"
            f"Machine: {machine_description(args.device)}\n\n"
            f"Command: `spikereplay bench --device {args.device} --batch-sizes {' '.join(map(str, args.batch_sizes))} "
            f"--num-steps {args.num_steps} --eval-batch {args.eval_batch} --rounds {args.rounds} "
            f"--seconds {args.seconds}{variants_argument(args.variants)}`\n\n"
            "Throughput in samples/s, median of the rounds; ratios are against the textbook snnTorch "
            "loop (snn.Leaky called once per step per layer, fp32) measured in the same run on the same "
            "data. Training = encode + forward + ce_count_loss + backward + Adam step. The reference "
            "evaluates at the training batch size under no_grad; the fused engine under inference_mode "
            "at the eval batch.\n\n" + limit + "\n\n" + table + "\n"
        )
        atomic.write_text(Path(args.output), text)
        print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    raise SystemExit(main(parser.parse_args()))
