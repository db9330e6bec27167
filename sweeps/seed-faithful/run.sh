#!/usr/bin/env bash
# The faithful reproduction (the ablation: ablation.sh), resumable: re-running skips finished runs.
# 2 workers x 1 thread: a stateless faithful run does one time step's work per batch of 16, too
# little to keep 2 threads busy.
set -euo pipefail
cd "$(dirname "$0")/../.."
for stage in cil-core tf-core cil-rest tf-rest "$@"; do
  .venv/bin/spikereplay sweep "sweeps/seed-faithful/$stage.yaml" --workers 2 -v
done
.venv/bin/spikereplay report results/seed-faithful
