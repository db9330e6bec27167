#!/usr/bin/env bash
# One short run per scenario and strategy (configs/quick.yaml), plus the seed's head option for replay.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/engine-accuracy
for variant in \
  "cil_naive strategy=naive" \
  "tf_naive scenario=task_free strategy=naive" \
  "tf_replay scenario=task_free" \
  "seed_heads_own_own training.current_heads=own replay.heads=own" ; do
  set -- $variant
  name=$1; shift
  .venv/bin/spikereplay train --config configs/quick.yaml output.runs_dir=runs/engine-accuracy output.run_name=$name output.progress=false "$@" --overwrite
  cp runs/engine-accuracy/$name/metrics.json $out/$name.metrics.json
done
