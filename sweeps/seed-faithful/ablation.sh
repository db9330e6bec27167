#!/usr/bin/env bash
# The cumulative ablation (class-incremental MR40, task-free MR100, 3 seeds per step), resumable.
# Stateless steps first (cheap); pass "full" to go on with the T=30 steps (about 30x the compute).
set -euo pipefail
cd "$(dirname "$0")/../.."
stages=(ablation-cil ablation-tf)
if [[ "${1:-}" == "full" ]]; then stages+=(ablation-cil-full ablation-tf-full); fi
for stage in "${stages[@]}"; do
  .venv/bin/spikereplay sweep "sweeps/seed-faithful/$stage.yaml" --workers 2 -v
done
.venv/bin/python sweeps/seed-faithful/ablation_table.py > results/seed-faithful-ablation/ablation.md
