#!/usr/bin/env bash
# The published code itself on the rows the faithful mode misses (seed 123 = run 0), as the
# reference: is the miss the faithful mode's or the paper's? CODE_DIR: a checkout of
# michelaproietti/MemoryReplaySNN at commit f450e89. Each run's accuracy table
# (training_statistics/*.json) and logs are copied into results/seed-faithful/published-code/.
#   sweeps/seed-faithful/published.sh CODE_DIR [SCENARIO:MEM ...]   (default: cil:20 tf:50)
set -euo pipefail
cd "$(dirname "$0")/../.."
code="$1"; shift
rows=("$@"); [[ ${#rows[@]} -gt 0 ]] || rows=(cil:20 tf:50)
for row in "${rows[@]}"; do
  scenario="${row%%:*}" mem="${row##*:}"
  name="${scenario}_mr${mem}_run0"
  dest="results/seed-faithful/published-code/$name"
  if [[ -f "$dest/accuracy.json" ]]; then echo "$name: done"; continue; fi
  work="runs/published-code/$name"
  rm -rf "$work"
  benchmarks/published_code/run.sh "$code" "$scenario" "$mem" 0 "$work"
  mkdir -p "$dest"
  cp "$work/train.log" "$work/test.log" "$dest/"
  cp "$work"/training_statistics/*.json "$dest/accuracy.json"
done
