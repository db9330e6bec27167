#!/usr/bin/env bash
# More seeds of the engine/precision comparison (seed 0 is in run.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/engine-accuracy
for seed in 1 2; do
  for variant in "fused_fp32 model.engine=fused" "textbook_fp32 model.engine=textbook" "fused_bf16 precision=bf16"; do
    set -- $variant
    name=${1}_seed$seed; shift
    .venv/bin/spikereplay train --config configs/quick.yaml seed=$seed output.runs_dir=runs/engine-accuracy output.run_name=$name output.progress=false "$@" --overwrite
    cp runs/engine-accuracy/$name/metrics.json $out/$name.metrics.json
  done
done
