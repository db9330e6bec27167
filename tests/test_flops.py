import pytest
import torch

from spikereplay.flops import dense_training_flops, gemm_peak_gflops


def test_dense_training_flops_hand_values_for_mnist():
    # conv1: 12 x 24 x 24 outputs x 25 taps, once; conv2: 64 x 8 x 8 outputs x 12 x 25 taps; head: 1024 x 10
    conv1, conv2, head = 2 * 12 * 24 * 24 * 25, 2 * 64 * 8 * 8 * 12 * 25, 2 * 1024 * 10
    flops = dense_training_flops((1, 28, 28), 10, 30)
    assert flops["forward"] == conv1 + 30 * (conv2 + head)
    assert flops["training"] == 2 * conv1 + 3 * 30 * (conv2 + head)
    assert flops["training"] / 1e6 == pytest.approx(223.72, abs=0.01)


def test_gemm_peak_is_measured():
    assert gemm_peak_gflops(torch.float32, size=64, seconds=0.01) > 0
