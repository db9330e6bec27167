#!/usr/bin/env bash
# The faithful reproduction (the ablation: ablation.sh), resumable: re-running skips finished runs.
# 2 workers x 1 thread: a stateless faithful run does one time step's work per batch of 16, too
# little to keep 2 threads busy: 11-12 s of training on 1 thread against 9 s on 2
# (results/seed-faithful/threads.log, sweeps/seed-faithful/threads.sh), so two 1-thread runs side
# by side do about 1.5x the work of one 2-thread run.
set -euo pipefail
cd "$(dirname "$0")/../.."
for stage in cil-core tf-core cil-rest tf-rest "$@"; do
  .venv/bin/spikereplay sweep "sweeps/seed-faithful/$stage.yaml" --workers 2 -v
done
.venv/bin/spikereplay report results/seed-faithful
