"""Which kernel makes a pinned fp64 regression case end differently on two CPUs?

The fp64 regression tier (tests/regression/cases.py) runs each case with pinned kernels, meant to
give the same bits on every x86-64 CPU; an Intel Xeon and an AMD EPYC still differ (its record is
kept per vendor). This finds the first PyTorch operator whose inputs are the same bits on both CPUs
but whose output is not: that kernel is not portable.

``record`` runs one case in fp64 under ``PINNED_ENV`` and writes, for every ATen operator call in
order, its name, the shapes of its tensors, and a hash of the bits of its inputs (taken before an
in-place operator runs) and of its outputs. ``compare`` runs the case again on this CPU and reports
the first call that differs from a trace recorded on another::

    python benchmarks/fp64_op_trace.py record cil_naive results/regression-portability/traces/x.gz
    python benchmarks/fp64_op_trace.py compare cil_naive results/regression-portability/traces/x.gz

What the first difference means:
- only the output hash differs: that operator's kernel gives other bits on the other CPU;
- an input hash differs while every earlier output agreed: a tensor made outside ATen (numpy,
  Python) differs;
- the operator names differ: the two runs took another path (a config or code difference).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
import tempfile
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package, for the cases

from tests.regression.cases import CASES, become_pinned, run_case  # noqa: E402


def bits_hash(values) -> str:
    """A 64-bit hash of the dtype, shape and bits of every tensor among ``values``."""
    digest = hashlib.blake2b(digest_size=8)
    for value in values:
        if isinstance(value, torch.Tensor):
            flat = value.detach().contiguous().reshape(-1)
            digest.update(f"{flat.dtype}{tuple(value.shape)}".encode())
            if flat.numel():
                digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def shapes(values) -> str:
    return ",".join("x".join(map(str, v.shape)) or "()" for v in values if isinstance(v, torch.Tensor))


# Their output is uninitialised memory, whose bits mean nothing.
UNINITIALISED = ("aten.empty", "aten.new_empty", "aten.resize_")
# They overwrite their first argument without reading it, so its old bits are not an input.
OVERWRITING = {"copy_", "fill_", "zero_", "uniform_", "normal_", "bernoulli_", "random_", "exponential_"}


class OperatorTrace(TorchDispatchMode):
    """Writes one line per ATen call: name, input shapes, input hash, output hash."""

    def __init__(self, out):
        super().__init__()
        self.out = out

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        inputs, _ = tree_flatten((args, kwargs or {}))
        read = inputs[1:] if func.__name__.split(".")[0] in OVERWRITING else inputs
        before = bits_hash(read)
        result = func(*args, **(kwargs or {}))
        outputs, _ = tree_flatten(result)
        after = "-" if name.startswith(UNINITIALISED) else bits_hash(outputs)
        self.out.write(f"{name}\t{shapes(inputs)}\t{before}\t{after}\n")
        return result


def trace_case(name: str) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        lines_file = Path(tmp) / "trace.txt"
        with lines_file.open("w") as out, OperatorTrace(out):
            result = run_case(name, Path(tmp) / "runs", "fp64")
        lines = lines_file.read_text().splitlines()
    return [f"# result {result['accuracy_matrix']}", *lines]


def first_difference(mine: list[str], theirs: list[str]) -> str:
    for index, (a, b) in enumerate(zip(mine, theirs)):
        if a == b:
            continue
        if a.startswith("#"):
            continue  # the header: the final matrices, compared by the regression test itself
        op_a, shape_a, in_a, out_a = a.split("\t")
        op_b, _, in_b, out_b = b.split("\t")
        where = f"call {index} of {len(mine) - 1}: {op_a} on [{shape_a}]"
        if op_a != op_b:
            return f"{where}: the other trace calls {op_b} here (the runs took another path)"
        if in_a != in_b:
            return f"{where}: its inputs differ, every earlier output agreed (a tensor made outside ATen)"
        return f"{where}: same input bits, other output bits (this kernel is not portable)"
    if len(mine) != len(theirs):
        return f"the traces agree for {min(len(mine), len(theirs))} calls, then one ends"
    return f"identical: {len(mine) - 1} calls, every input and output the same bits"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["record", "compare"])
    parser.add_argument("case", choices=list(CASES))
    parser.add_argument("trace", type=Path, help="a .gz trace: written by record, read by compare")
    args = parser.parse_args()
    become_pinned()
    lines = trace_case(args.case)
    if args.action == "record":
        args.trace.parent.mkdir(parents=True, exist_ok=True)
        args.trace.write_bytes(gzip.compress("\n".join(lines).encode() + b"\n", mtime=0))
        print(f"{args.case}: {len(lines) - 1} calls written to {args.trace}")
    else:
        theirs = gzip.decompress(args.trace.read_bytes()).decode().splitlines()
        print(f"{args.case}: {first_difference(lines, theirs)}")


if __name__ == "__main__":
    main()
