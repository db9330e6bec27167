"""Memory augmentation: random translations of replayed images."""

from __future__ import annotations

import torch


def shift_images(images: torch.Tensor, offsets: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Translate each image [..., H, W] by its own ``offsets[i] = (dy, dx)`` pixels, zero-filled.

    Positive dy moves the content down, positive dx moves it right; |dy|, |dx| <= max_shift.
    """
    n, height, width = images.shape[0], images.shape[-2], images.shape[-1]
    flat = images.reshape(n, -1, height, width)
    padded = torch.nn.functional.pad(flat, (max_shift, max_shift, max_shift, max_shift))
    rows = (max_shift - offsets[:, :1]) + torch.arange(height)  # [n, H]: source row of each output row
    cols = (max_shift - offsets[:, 1:]) + torch.arange(width)
    channels = torch.arange(flat.shape[1])
    shifted = padded[
        torch.arange(n)[:, None, None, None],
        channels[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]
    return shifted.reshape(images.shape)


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image translated by a uniform random (dy, dx) in [-max_shift, max_shift]^2."""
    offsets = torch.randint(-max_shift, max_shift + 1, (images.shape[0], 2), generator=generator)
    return shift_images(images, offsets, max_shift)
