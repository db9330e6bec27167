"""Spike encodings of a dataset's inputs, by the kind of input it declares (``DatasetInfo.input_kind``).

- ``image``: uint8 images, encoded per ``encoding.kind``. Each encoder returns
  ``(inputs, is_static)``. A static input is one tensor (B, C, H, W) fed unchanged at every time
  step, which lets the model run its first layer once instead of T times; otherwise inputs are
  (T, B, C, H, W).
- ``events``: time-varying input already binned in time, uint8 (B, T, ...) per sample (event counts
  per bin, as tonic's ``ToFrame`` gives): fed bin by bin as (T, B, ...), T being the data's own.
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


INPUT_KINDS = ("image", "events")


def encode_inputs(input_kind: str, kind: str, inputs: torch.Tensor, num_steps: int, gain: float = 1.0):
    """``(inputs, is_static, steps)`` for the model: images encoded per ``kind`` over ``num_steps``
    steps, or binned events fed as they are, over their own number of bins."""
    if input_kind == "events":
        return inputs.transpose(0, 1).float(), False, inputs.shape[1]
    encoded, static = encode(kind, inputs, num_steps, gain)
    return encoded, static, num_steps
