"""Spike encodings of uint8 images.

Each encoder returns ``(inputs, is_static)``. A static input is one tensor
(B, C, H, W) fed unchanged at every time step, which lets the model run its
first convolution once instead of T times; otherwise inputs are (T, B, C, H, W).
"""

from __future__ import annotations

import torch
from snntorch import spikegen


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W) or (B, C, H, W) -> float (B, C, H, W) in [0, 1] (grayscale gets C = 1)."""
    if images.dim() == 3:
        images = images.unsqueeze(1)
    return images.float().div_(255.0)


def encode_rate_conv(images: torch.Tensor, num_steps: int, gain: float = 1.0):
    """The seed's encoding: one Bernoulli draw per image, repeated at every step."""
    return spikegen.rate_conv(to_unit(images) * gain), True


def encode_rate(images: torch.Tensor, num_steps: int, gain: float = 1.0):
    """A fresh Bernoulli draw at every step: (T, B, C, H, W)."""
    return spikegen.rate(to_unit(images), num_steps=num_steps, gain=gain), False


def encode_direct(images: torch.Tensor, num_steps: int, gain: float = 1.0):
    """Pixel intensity as input current at every step."""
    return to_unit(images) * gain, True


def draw_spike_images(images: torch.Tensor) -> torch.Tensor:
    """One rate_conv draw as uint8 images of 0 and 255, which rate_conv then encodes to the same
    spikes (``quirks.store_encoded``: the published code stored and replayed the encoded batch)."""
    return torch.bernoulli(to_unit(images)).mul_(255).to(torch.uint8).reshape(images.shape)


ENCODERS = {"rate_conv": encode_rate_conv, "rate": encode_rate, "direct": encode_direct}


def encode(kind: str, images: torch.Tensor, num_steps: int, gain: float = 1.0):
    return ENCODERS[kind](images, num_steps, gain)
