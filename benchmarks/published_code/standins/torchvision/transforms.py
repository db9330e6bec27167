"""The transforms the published code composes, on uint8 image tensors [H, W] (torchvision: PIL images)."""

from __future__ import annotations

import torch


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, image):
        for transform in self.transforms:
            image = transform(image)
        return image


class Resize:
    def __init__(self, size):
        self.size = tuple(size)

    def __call__(self, image):
        if tuple(image.shape[-2:]) != self.size:
            raise NotImplementedError(f"stand-in Resize: only the identity ({tuple(image.shape[-2:])} -> {self.size})")
        return image


class Grayscale:
    def __call__(self, image):
        if image.dim() != 2:
            raise NotImplementedError("stand-in Grayscale: one-channel images only")
        return image


class ToTensor:
    def __call__(self, image):
        return image.unsqueeze(0).to(torch.float32).div(255)


class Normalize:
    def __init__(self, mean, std):
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __call__(self, tensor):
        return (tensor - self.mean) / self.std
