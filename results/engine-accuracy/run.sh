#!/usr/bin/env bash
# Short class-incremental replay runs (configs/quick.yaml) comparing engines, precision and head options.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/engine-accuracy
for variant in \
  "fused_fp32 model.engine=fused" \
  "textbook_fp32 model.engine=textbook" \
  "fused_bf16 precision=bf16" \
  "current_heads_own training.current_heads=own" \
  "replay_heads_own replay.heads=own" ; do
  set -- $variant
  name=$1; shift
  .venv/bin/spikereplay train --config configs/quick.yaml output.runs_dir=runs/engine-accuracy output.run_name=$name output.progress=false "$@" --overwrite
  cp runs/engine-accuracy/$name/metrics.json $out/$name.metrics.json
done
