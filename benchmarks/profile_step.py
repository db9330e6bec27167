"""Where a training step's time goes: torch.profiler summary of the fused engine.

Usage: python benchmarks/profile_step.py [--precision fp32|bf16] [--compile scan|forward] [--batch 16] [--steps 30]
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from spikereplay.bench import make_model, train_step_fn  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
parser.add_argument("--compile", choices=["scan", "forward"], default=None)
parser.add_argument("--batch", type=int, default=16)
parser.add_argument("--steps", type=int, default=30)
parser.add_argument("--iterations", type=int, default=20)
args = parser.parse_args()

torch.manual_seed(0)
model = make_model("fused", args.precision, args.compile)
step = train_step_fn(
    model,
    torch.randint(0, 256, (args.batch, 28, 28), dtype=torch.uint8),
    torch.randint(0, 10, (args.batch,)),
    args.steps,
)
for _ in range(3):
    step()
with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
    for _ in range(args.iterations):
        step()
print(f"{args.iterations} training steps, T={args.steps}, B={args.batch}, {args.precision}, compile={args.compile}")
print(
    prof.key_averages(group_by_input_shape=True).table(
        sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=40, max_shapes_column_width=60
    )
)
