"""Does an environment setting change MKL's float64 matrix product on this CPU? Prints a hash of
the bits of one seeded 256x1000 @ 1000x300 product and ATen's CPU capability; run it under each
setting (results/regression-portability/README.md):

    for v in X=1 MKL_ENABLE_INSTRUCTIONS=AVX2 MKL_ENABLE_INSTRUCTIONS=SSE4_2 MKL_CBWR=COMPATIBLE; do
        echo -n "$v: "; env $v OMP_NUM_THREADS=1 python benchmarks/mkl_branch_bits.py; done
"""

import hashlib

import torch

generator = torch.Generator().manual_seed(0)
a = torch.randn(256, 1000, dtype=torch.float64, generator=generator)
b = torch.randn(1000, 300, dtype=torch.float64, generator=generator)
print(hashlib.sha1((a @ b).numpy().tobytes()).hexdigest()[:12], torch.backends.cpu.get_cpu_capability())
