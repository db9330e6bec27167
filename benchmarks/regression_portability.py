"""Does a kernel's summation order change the regression runs? Runs the seven cases of
tests/regression/cases.py in one precision, thread count and oneDNN setting, and saves each case's
matrices and final weights under /tmp/p64 (results/regression-portability/README.md).

    python benchmarks/regression_portability.py fp64 2 1    # precision, threads, oneDNN on (1) or off (0)

Run from a worktree of another commit (PYTHONPATH=<worktree>/src), files are prefixed ``head_``.
"""

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, ".")
from tests.regression.cases import BASE, CASES, merge

prec, threads, mkldnn = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
torch.set_num_threads(threads)
torch.backends.mkldnn.enabled = mkldnn
import spikereplay  # noqa: E402 - after the thread settings
from spikereplay.experiment import run_experiment  # noqa: E402
from spikereplay.loader import config_from_dict  # noqa: E402

TAG = "head_" if "/tmp/head" in spikereplay.__file__ else ""
out = {}
for name in CASES:
    with tempfile.TemporaryDirectory() as tmp:
        raw = merge(merge(BASE, CASES[name]), {"name": name, "precision": prec, "output": {"runs_dir": tmp}})
        m = run_experiment(config_from_dict(raw), log=lambda *_: None)
        ck = sorted(Path(tmp, name, "checkpoints").glob("*.pt"))[-1]
        sd = torch.load(ck, weights_only=False)["model"]
        flat = torch.cat([v.flatten().double() for k, v in sorted(sd.items()) if v.is_floating_point()])
        out[name] = {
            "m": m["accuracy_matrix"],
            "t": m["task_incremental_matrix"],
            "sha": hashlib.sha256(flat.numpy().tobytes()).hexdigest()[:12],
            "norm": flat.norm().item(),
        }
        torch.save(flat, f"/tmp/p64/{TAG}{prec}_{threads}_{int(mkldnn)}_{name}.pt")
json.dump(out, open(f"/tmp/p64/{TAG}{prec}_{threads}_{int(mkldnn)}.json", "w"))
print("done", prec, threads, mkldnn)
