#!/usr/bin/env bash
# The faithful reproduction and its ablation, resumable: re-running skips finished runs.
# 2 workers x 1 thread: on 2 cores a faithful run (stateless, so one step's work per batch) is
# 1.45x faster per run this way than 1 worker x 2 threads (11 s vs 8 s per run-slice, measured
# 2026-11-30, see results/seed-faithful/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
for stage in cil-core tf-core cil-rest tf-rest "$@"; do
  .venv/bin/spikereplay sweep "sweeps/seed-faithful/$stage.yaml" --workers 2 -v
done
.venv/bin/spikereplay report results/seed-faithful
