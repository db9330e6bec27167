#!/usr/bin/env bash
# The seed's head options again after the fix that keeps unscored heads frozen (grad None, no Adam drift).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/engine-accuracy
for variant in \
  "current_heads_own training.current_heads=own" \
  "seed_heads_own_own training.current_heads=own replay.heads=own" \
  "replay_heads_own replay.heads=own" ; do
  set -- $variant
  name=$1; shift
  rm -rf runs/engine-accuracy/$name  # retrain from scratch with the current code
  .venv/bin/spikereplay train --config configs/quick.yaml output.runs_dir=runs/engine-accuracy output.run_name=$name output.progress=false "$@"
  cp runs/engine-accuracy/$name/metrics.json $out/$name.metrics.json
done
