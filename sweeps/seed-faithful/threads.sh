#!/usr/bin/env bash
# Why the faithful sweeps use 2 workers x 1 thread: the training time of one light stateless run
# (class-incremental MR40, 2000 images per class, 1 epoch) on 1 thread and on 2, twice each.
# Two 1-thread runs side by side beat one 2-thread run when t(1) < 2 t(2).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf /tmp/spikereplay-threads  # a finished run dir would only be re-read, not re-run
for repeat in 1 2; do
  for threads in 1 2; do
    line=$(OMP_NUM_THREADS=$threads .venv/bin/spikereplay train --overwrite --config configs/seed-faithful/cil.yaml \
      output.runs_dir=/tmp/spikereplay-threads output.run_name="t${threads}_r${repeat}" \
      data.train_per_class=2000 training.epochs=1 output.checkpoints=false 2>&1 | tail -n 1)
    echo "threads=$threads repeat=$repeat: $line"
  done
done
