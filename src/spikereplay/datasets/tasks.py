"""Image arrays and the class-split task stream built from them.

Everything is held as uint8 tensors; batches are made by indexing, never by
per-sample Python work.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spikereplay.errors import DataError


def check_images_labels(images, labels, name: str, num_classes: int) -> None:
    """Refuse data whose shapes disagree or whose labels fall outside 0..num_classes-1."""
    # images (N, H, W) or (N, C, H, W); binned events (N, T, C, H, W) or (N, T, channels)
    if images.ndim not in (3, 4, 5) or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DataError(f"{name}: images {tuple(images.shape)} and labels {tuple(labels.shape)} do not match")
    if labels.shape[0] and (int(labels.max()) >= num_classes or int(labels.min()) < 0):
        raise DataError(f"{name}: label {int(labels.max())} outside 0..{num_classes - 1}")


@dataclass
class ImageArrays:
    """A dataset's train and test splits: uint8 images (N, H, W) or (N, C, H, W), int64 labels (N,)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor

    def check(self, num_classes: int, name: str) -> None:
        for split in ("train", "test"):
            images, labels = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
            check_images_labels(images, labels, f"{name}/{split}", num_classes)


@dataclass
class TaskData:
    """One task of the stream: its classes and its train/val/test tensors."""

    task_id: int
    classes: tuple[int, ...]
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    # the eval tasks this stream position trains (its own id; a merged, joint task: all of them).
    # A task counts as seen once its position has been trained, not once its classes have: under
    # domain-incremental streams every task has the same classes.
    covers: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.covers:
            self.covers = (self.task_id,)

    def batches_per_epoch(self, batch_size: int, drop_last: bool = False) -> int:
        """Training batches per epoch; with ``drop_last`` the last, partial batch is not one."""
        n = self.train_x.shape[0]
        return n // batch_size if drop_last else -(-n // batch_size)


def _select(labels, classes, limit_per_class, generator):
    """Indices of the samples of ``classes``, at most ``limit_per_class`` each (seeded)."""
    picked = []
    for cls in classes:
        idx = torch.nonzero(labels == cls).flatten()
        if limit_per_class is not None and idx.numel() > limit_per_class:
            idx = idx[torch.randperm(idx.numel(), generator=generator)[:limit_per_class]]
            idx = idx.sort().values
        picked.append(idx)
    return torch.cat(picked)


def split_tasks(
    arrays: ImageArrays,
    class_order: list[list[int]],
    val_fraction: float,
    seed: int,
    train_per_class: int | None = None,
    test_per_class: int | None = None,
) -> list[TaskData]:
    """Split a dataset into tasks by ``class_order``; each task's train part is split
    train/val by a permutation drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    tasks = []
    for task_id, classes in enumerate(class_order):
        train_idx = _select(arrays.train_labels, classes, train_per_class, generator)
        test_idx = _select(arrays.test_labels, classes, test_per_class, generator)
        perm = train_idx[torch.randperm(train_idx.numel(), generator=generator)]
        n_val = int(round(val_fraction * perm.numel()))
        val_idx, fit_idx = perm[:n_val].sort().values, perm[n_val:].sort().values
        tasks.append(
            TaskData(
                task_id=task_id,
                classes=tuple(classes),
                train_x=arrays.train_images[fit_idx],
                train_y=arrays.train_labels[fit_idx],
                val_x=arrays.train_images[val_idx],
                val_y=arrays.train_labels[val_idx],
                test_x=arrays.test_images[test_idx],
                test_y=arrays.test_labels[test_idx],
            )
        )
    return tasks


def merge_tasks(tasks: list[TaskData]) -> TaskData:
    """All tasks as one task (joint training is a one-task stream)."""
    return TaskData(
        task_id=0,
        classes=tuple(c for t in tasks for c in t.classes),
        train_x=torch.cat([t.train_x for t in tasks]),
        train_y=torch.cat([t.train_y for t in tasks]),
        val_x=torch.cat([t.val_x for t in tasks]),
        val_y=torch.cat([t.val_y for t in tasks]),
        test_x=torch.cat([t.test_x for t in tasks]),
        test_y=torch.cat([t.test_y for t in tasks]),
        covers=tuple(p for t in tasks for p in t.covers),
    )
