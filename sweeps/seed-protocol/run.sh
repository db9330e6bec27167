#!/usr/bin/env bash
# The seed-protocol results: every stage in priority order, then the report.
# Resumable: re-running skips finished runs and resumes unfinished ones from their last task.
set -uo pipefail
cd "$(dirname "$0")/../.."
for stage in cil-core cil-separate cil-rest cil-targets cil-seeds tf-targets tf-core tf-separate tf-rest tf-seeds; do
  .venv/bin/spikereplay sweep sweeps/seed-protocol/$stage.yaml
  .venv/bin/spikereplay report results/seed-protocol
done
