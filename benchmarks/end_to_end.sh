#!/usr/bin/env bash
# End-to-end time of one seed-protocol replay run (class-incremental MR10, seed 0), at a commit
# from before the speed work and at the working tree, back to back on the same machine (issue 14).
# The old commit runs from a temporary git worktree with the same virtual environment.
#   benchmarks/end_to_end.sh [BEFORE_COMMIT|-] [EXTRA OVERRIDES FOR THE AFTER RUN ...]   (- : the after run only)
# Writes results/end-to-end/<label>/ (the run directories) and appends to results/end-to-end/log.md.
set -euo pipefail
cd "$(dirname "$0")/.."
before="${1:-b81fa9d}"; shift || true
after_overrides=("$@")
out=results/end-to-end
mkdir -p "$out"
run() {  # label src_dir overrides...
  local label="$1" src="$2"; shift 2
  rm -rf "runs/end-to-end/$label"  # a finished run dir would only be re-read, not re-run
  local started=$SECONDS
  PYTHONPATH="$src" .venv/bin/python -m spikereplay.cli train --overwrite --config configs/protocol/cil.yaml \
    strategy=replay memory.batches_per_task=10 seed=0 output.runs_dir="runs/end-to-end/$label" "$@" \
    > "$out/$label.log" 2>&1
  local wall=$((SECONDS - started))
  local final
  final=$(grep -o "final average accuracy [0-9.]*%" "$out/$label.log" | tail -1)
  local commit
  commit=$(git -C "$src/.." rev-parse --short HEAD)
  if [[ "$src" == src ]] && ! git diff --quiet HEAD -- src; then commit="$commit + uncommitted changes"; fi
  echo "| $label | \`$commit\` | ${*:-(none)} | $wall | $final |" >> "$out/log.md"
}
[[ -f "$out/log.md" ]] || printf '| run | commit | extra overrides | wall s | result |\n|---|---|---|---|---|\n' > "$out/log.md"
echo "<!-- $(date -u +%F_%H:%M) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores -->" >> "$out/log.md"
if [[ "$before" != - ]]; then
  wt=$(mktemp -d /tmp/spikereplay-before.XXXX)
  git worktree add --detach "$wt" "$before" > /dev/null
  trap 'git worktree remove --force "$wt"' EXIT
  run before "$wt/src"
fi
run after src "${after_overrides[@]}"
cat "$out/log.md"
