"""A/B of whole-forward torch.compile against the scan-only compile (training step, T=30, B=16,
fp32 and bf16), same run, interleaved rounds, median; ratios to the textbook loop.

Usage: python benchmarks/compile_ab.py [SECONDS_PER_MEASUREMENT] [ROUNDS]
"""

import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from spikereplay.bench import make_model, throughput, train_step_fn  # noqa: E402

T, B = 30, 16
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
torch.manual_seed(0)
images = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8)
labels = torch.randint(0, 10, (B,))


def whole(precision):
    model = make_model("fused", precision, False)
    compiled = torch.compile(model)
    return compiled


variants = {
    "textbook": lambda: make_model("textbook", "fp32", False),
    "fp32+scan-compile": lambda: make_model("fused", "fp32", True),
    "fp32+whole-compile": lambda: whole("fp32"),
    "bf16+scan-compile": lambda: make_model("fused", "bf16", True),
    "bf16+whole-compile": lambda: whole("bf16"),
}
steps = {n: train_step_fn(f(), images[:B], labels, T) for n, f in variants.items()}
res = {n: [] for n in variants}
for r in range(rounds):
    for n, s in steps.items():
        res[n].append(throughput(s, B, seconds))
    print("round", r, {n: round(v[-1]) for n, v in res.items()}, flush=True)
ref = statistics.median(res["textbook"])
for n, v in res.items():
    print(f"{n:24s} {statistics.median(v):7.0f} samples/s  {statistics.median(v) / ref:.2f}x")
