"""Evaluation throughput of the fused engine vs the evaluation batch size (T=30).

Usage: python benchmarks/eval_batch.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from spikereplay.bench import eval_step_fn, make_model, throughput  # noqa: E402

images = torch.randint(0, 256, (500, 28, 28), dtype=torch.uint8)
for precision in ("fp32", "bf16"):
    model = make_model("fused", precision, "scan").eval()
    for batch in (16, 32, 64, 128, 500):
        rate = throughput(eval_step_fn(model, images[:batch], 30, reference=False), batch, 1.5)
        print(f"{precision} eval batch {batch}: {rate:.0f} samples/s", flush=True)
