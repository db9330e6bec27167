#!/usr/bin/env bash
# The class-incremental MR10 probes (seed 0), one after another, each logged to its sweep.log and
# reported. Baseline: results/seed-protocol, cil_replay_mr10_seed0 93.81 % (3 seeds 94.27 ± 0.40).
# Resumable like any sweep: re-running skips finished runs.
set -uo pipefail
cd "$(dirname "$0")/../.."
for probe in "$@"; do
  .venv/bin/spikereplay sweep --config "sweeps/probes/$probe.yaml" 2>&1 | tee -a "results/probes/$probe/sweep.log"
  .venv/bin/spikereplay report "results/probes/$probe"
done
