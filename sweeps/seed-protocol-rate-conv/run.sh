#!/usr/bin/env bash
# Earlier setting (rate_conv encoding), kept for comparison: see results/seed-protocol-rate-conv.
# The seed-protocol results: every stage in priority order, then the report.
# Resumable: re-running skips finished runs and resumes unfinished ones from their last task.
set -uo pipefail
cd "$(dirname "$0")/../.."
for stage in cil-core tf-core cil-separate cil-rest tf-separate tf-rest cil-seeds tf-seeds; do
  .venv/bin/spikereplay sweep sweeps/seed-protocol-rate-conv/$stage.yaml
  .venv/bin/spikereplay report results/seed-protocol-rate-conv
done
