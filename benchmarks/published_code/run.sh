#!/usr/bin/env bash
# Run the published code itself (michelaproietti/MemoryReplaySNN, commit f450e89), unchanged, as the
# reference for the seed-faithful mode: train.py, then test.py, on one seed and memory size.
#   benchmarks/published_code/run.sh CODE_DIR SCENARIO MEM_SIZE RUN OUT_DIR
# CODE_DIR: a checkout of the published code; SCENARIO: cil or tf; MEM_SIZE: stored batches per
# task (0 = naive); RUN: the published run index (seed 123 + 10*RUN); OUT_DIR: where the copy runs
# and its logs and accuracy table (training_statistics/*.json) stay.
# Its only missing dependencies are stood in for (standins/: torchvision, skimage); omegaconf is
# installed from PyPI, with pandas (snntorch.spikeplot needs it). The learning rate is the published one per scenario (configs/mnist_mr.yaml).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [[ $# -ne 5 ]]; then sed -n 2,10p "$0"; exit 2; fi
code="$1" scenario="$2" mem="$3" run="$4" out="$5"
case "$scenario" in cil) lr=1e-3 ;; tf) lr=1e-4 ;; *) echo "SCENARIO must be cil or tf, got $scenario" >&2; exit 2 ;; esac
[[ -f "$code/train.py" ]] || { echo "no train.py in $code" >&2; exit 2; }
"$root/.venv/bin/pip" install -q omegaconf pandas  # pandas: snntorch.spikeplot, imported by train.py
mkdir -p "$out"
cp -r "$code/." "$out/"
cd "$out"
export PYTHONPATH="$here/standins" SPIKEREPLAY_MNIST_DIR="$root/data/mnist"
overrides=("experiment.scenario=$scenario" "training.lr=$lr")
/usr/bin/time -f "train.py wall %e s" "$root/.venv/bin/python" train.py --run "$run" --mem_size "$mem" "${overrides[@]}" > train.log 2>&1
/usr/bin/time -f "test.py wall %e s" "$root/.venv/bin/python" test.py --run "$run" --mem_size "$mem" "${overrides[@]}" > test.log 2>&1
tail -n 12 test.log
