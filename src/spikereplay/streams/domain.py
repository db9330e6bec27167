"""``domain``: every task holds the same classes under its own fixed input transform
(domain-incremental learning; van de Ven et al. 2022, "Three types of incremental learning").

- ``permute`` (Permuted MNIST): task i's pixels are reordered by a fixed permutation; task 0 is
  the original images, as in van de Ven et al.'s code.
- ``rotate`` (Rotated MNIST): task i is rotated by i * max_angle / num_tasks degrees, bilinearly,
  about the image centre: 0, 18, ..., 162 by default, evenly spaced over the half-turn
  (max_angle itself is not reached).

The transforms are drawn from the run's seed by their own generator, once, in the process that
builds the stream, and the transformed images are held as uint8 like any dataset: every training
or data-loading step sees the same task (Mammoth issue 38: permutations drawn per worker process
gave 10 %).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from spikereplay.datasets import ImageArrays, TaskData, split_tasks
from spikereplay.streams.registry import register_stream

# the permutations' own seed stream, apart from every other draw of the run
PERMUTATION_SEED_OFFSET = 7_919


def permutations(num_tasks: int, pixels: int, seed: int) -> list[torch.Tensor]:
    """Task i's pixel order: the identity for task 0, then a seeded random permutation per task."""
    generator = torch.Generator().manual_seed(seed + PERMUTATION_SEED_OFFSET)
    return [torch.arange(pixels)] + [torch.randperm(pixels, generator=generator) for _ in range(num_tasks - 1)]


def permute(images: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, ...) with their pixels (of each channel) in ``order``."""
    return images.flatten(-2)[..., order].reshape(images.shape)


def rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, C, H, W) rotated by ``degrees`` counter-clockwise, bilinear,
    zero outside; rounded back to uint8."""
    if degrees == 0:
        return images.clone()
    x = images.unsqueeze(1) if images.dim() == 3 else images
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    # grid_sample maps output to input coordinates (x right, y down): the inverse rotation
    matrix = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=torch.float32)
    out = []
    for start in range(0, x.shape[0], 4096):
        chunk = x[start : start + 4096].float()
        grid = F.affine_grid(matrix.expand(chunk.shape[0], 2, 3), list(chunk.shape), align_corners=False)
        out.append(F.grid_sample(chunk, grid, mode="bilinear", align_corners=False).round_().clamp_(0, 255))
    rotated = torch.cat(out).to(torch.uint8)
    return rotated.squeeze(1) if images.dim() == 3 else rotated


def transforms(cfg, pixels: int):
    """One function per task, uint8 images -> uint8 images."""
    stream = cfg.stream
    if stream.transform == "permute":
        return [
            lambda images, o=order: permute(images, o) for order in permutations(stream.num_tasks, pixels, cfg.seed)
        ]
    step = stream.max_angle / stream.num_tasks
    return [lambda images, a=i * step: rotate(images, a) for i in range(stream.num_tasks)]


@register_stream("domain")
def build_tasks(cfg, arrays: ImageArrays) -> list[TaskData]:
    data = cfg.data
    classes = sorted(c for task in data.class_order for c in task)
    (base,) = split_tasks(arrays, [classes], data.val_fraction, cfg.seed, data.train_per_class, data.test_per_class)
    pixels = base.train_x.shape[-1] * base.train_x.shape[-2]
    tasks = []
    for task_id, transform in enumerate(transforms(cfg, pixels)):
        tasks.append(
            TaskData(
                task_id=task_id,
                classes=tuple(classes),
                train_x=transform(base.train_x),
                train_y=base.train_y,
                val_x=transform(base.val_x),
                val_y=base.val_y,
                test_x=transform(base.test_x),
                test_y=base.test_y,
            )
        )
    return tasks
