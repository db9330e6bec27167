#!/usr/bin/env bash
# Times the same sweep run as 1 worker x 2 threads and as 2 workers x 1 thread (fresh output dirs).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/strategies/probes/workers
mkdir -p "$out"
for workers in 1 2; do
  dir="$out/w$workers"
  rm -rf "$dir"
  start=$(date +%s.%N)
  .venv/bin/spikereplay sweep sweeps/strategies/workers.yaml --workers "$workers" --output-dir "$dir"
  end=$(date +%s.%N)
  echo "workers=$workers threads_per_run=$((2 / workers)) wall_s=$(awk "BEGIN{print $end - $start}")" | tee -a "$out/timing.txt"
done
