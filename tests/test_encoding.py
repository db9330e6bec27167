import pytest
import torch

from spikereplay.encoding import encode


def test_rate_conv_is_one_draw_reused_at_every_step():
    images = torch.tensor([[[0, 255], [128, 0]]], dtype=torch.uint8)
    torch.manual_seed(0)
    spikes, static = encode("rate_conv", images, 30)
    assert static and spikes.shape == (1, 1, 2, 2)
    assert spikes[0, 0, 0, 0] == 0 and spikes[0, 0, 0, 1] == 1  # p=0 never, p=1 always
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}


def test_rate_draws_fresh_spikes_each_step():
    images = torch.full((2, 28, 28), 128, dtype=torch.uint8)
    torch.manual_seed(0)
    spikes, static = encode("rate", images, 50)
    assert not static and spikes.shape == (50, 2, 1, 28, 28)
    assert not torch.equal(spikes[0], spikes[1])
    assert abs(spikes.mean().item() - 128 / 255) < 0.01


def test_direct_is_pixel_intensity_times_gain():
    images = torch.tensor([[[0, 51]]], dtype=torch.uint8)
    current, static = encode("direct", images, 10, gain=0.5)
    assert static and current.flatten().tolist() == pytest.approx([0.0, 0.1])
