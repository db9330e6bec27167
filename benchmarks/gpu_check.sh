#!/usr/bin/env bash
# The CUDA check for a lent GPU machine (the device tool), one call, logs under $OUT:
#   1. the test suite, where device "auto" puts every end-to-end run on CUDA;
#   2. `spikereplay bench --device cuda` (same-run ratios against the textbook loop on the GPU);
#   3. one seed-protocol run (class-incremental replay MR10, seed 0, configs/protocol/cil.yaml) on CUDA.
# PARTS="tests bench" runs only those parts (default: all three). The bench measures the uncompiled
# engines and one compiled one: compiling all four compiled variants took over 120 s on an H100.
# Here first: benchmarks/gpu_wheels.sh. Then: run(command="bash benchmarks/gpu_check.sh",
# carry=[".whl"], timeout_s=590). Copy $OUT/benchmark-gpu.md to results/benchmark-gpu.md.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-results/gpu-check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src:/tmp/site" CI=true
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  >"$out/install.log" 2>&1 || { cat "$out/install.log"; exit 1; }
nvidia-smi >"$out/nvidia-smi.txt" 2>&1
python3 -c "import torch, snntorch; print('torch', torch.__version__, 'snntorch', snntorch.__version__, torch.cuda.get_device_name())" \
  | tee "$out/versions.txt"
parts=${PARTS:-tests bench protocol}
if [[ $parts == *tests* ]]; then
echo "== tests"
timeout 230 python3 -m pytest tests -q -p no:cacheprovider 2>&1 | tee "$out/tests.log" | tail -15
fi
if [[ $parts == *bench* ]]; then
echo "== bench"
timeout 150 python3 -m spikereplay.cli bench --device cuda --batch-sizes 16 128 --num-steps 30 --rounds 2 --seconds 0.5 \
  --variants "fused fp32" "fused bf16" "fused fp32 + compile" --output "$out/benchmark-gpu.md" 2>&1 | tail -14
fi
[[ $parts == *protocol* ]] || exit 0
echo "== seed-protocol run"
start=$(date +%s)
timeout 170 python3 -m spikereplay.cli train --config configs/protocol/cil.yaml strategy=replay memory.batches_per_task=10 \
  device=cuda output.runs_dir=/tmp/gpu-runs output.progress=false 2>&1 | tee "$out/protocol-run.log" | tail -8
echo "protocol run wall_s=$(( $(date +%s) - start ))" | tee -a "$out/protocol-run.log"
cp /tmp/gpu-runs/cil/metrics.json "$out/protocol-metrics.json" 2>/dev/null || true
