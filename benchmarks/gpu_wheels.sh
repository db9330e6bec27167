#!/usr/bin/env bash
# Wheels of the packages the device tool's GPU image lacks (its python3 has torch, numpy, PyYAML,
# matplotlib, rich, pytest, hypothesis), for Python 3.12 on x86-64, into .whl/ (git-ignored).
# Run here, where PyPI is reachable; then benchmarks/gpu_check.sh there with carry [".whl"].
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
mkdir -p .whl
for spec in snntorch==1.0.0 "pydantic==$($py -c 'import pydantic; print(pydantic.VERSION)')" \
    "pydantic_core==$($py -c 'import pydantic_core; print(pydantic_core.__version__)')" \
    annotated-types typing-inspection pooch platformdirs; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl "$spec"
done
ls .whl
