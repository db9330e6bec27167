"""Replay memory: what to store (a storage policy) kept apart from how to train.

The seed's policy, ``PerTaskBatches``: each task owns ``batches_per_task``
slots of one training batch each; every training batch of the task is stored
with probability ``store_prob`` until that task's slots are full. Samples keep
their true labels and their task id.
"""

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


class PerTaskBatches:
    """The seed's storage policy: k whole batches per task, each kept with probability p."""

    def __init__(self, batches_per_task: int, store_prob: float):
        self.batches_per_task = batches_per_task
        self.store_prob = store_prob

    def wants(self, stored_batches_of_task: int, generator: torch.Generator) -> bool:
        if stored_batches_of_task >= self.batches_per_task:
            return False
        return torch.rand((), generator=generator).item() < self.store_prob


class ReplayMemory:
    """Stored batches (uint8 images, labels, task ids), grouped by task."""

    def __init__(self, policy: PerTaskBatches, seed: int):
        self.policy = policy
        self.generator = torch.Generator().manual_seed(seed)
        self.batches: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self._cache: tuple | None = None  # (task ids, tensors): sample() runs every step

    def observe_batch(self, images: torch.Tensor, labels: torch.Tensor, task_id: int) -> bool:
        """Offer a training batch to the memory; return whether it was stored."""
        task_batches = self.batches.setdefault(task_id, [])
        if not self.policy.wants(len(task_batches), self.generator):
            return False
        task_batches.append((images.detach().to("cpu", copy=True), labels.detach().to("cpu", copy=True)))
        self._cache = None
        return True

    def num_samples(self, task_ids=None) -> int:
        return sum(img.shape[0] for tid, img, _ in self._iter(task_ids))

    def _iter(self, task_ids):
        for tid in sorted(self.batches):
            if task_ids is None or tid in task_ids:
                for images, labels in self.batches[tid]:
                    yield tid, images, labels

    def tensors(self, task_ids=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All stored samples of ``task_ids`` (default: every task) as three tensors."""
        items = list(self._iter(task_ids))
        if not items:
            return (
                torch.empty(0, 28, 28, dtype=torch.uint8),
                torch.empty(0, dtype=torch.long),
                torch.empty(0, dtype=torch.long),
            )
        images = torch.cat([img for _, img, _ in items])
        labels = torch.cat([lab for _, _, lab in items])
        tids = torch.cat([torch.full((lab.shape[0],), tid, dtype=torch.long) for tid, _, lab in items])
        return images, labels, tids

    def sample(self, n: int, task_ids) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` samples drawn uniformly (with replacement) from the stored samples of ``task_ids``."""
        key = tuple(sorted(task_ids))
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.tensors(key))
        images, labels, tids = self._cache[1]
        if images.shape[0] == 0:
            return images, labels, tids
        pick = torch.randint(images.shape[0], (n,), generator=self.generator)
        return images[pick], labels[pick], tids[pick]

    def stored_batches(self, task_ids):
        """The stored batches of ``task_ids`` in storage order, as (images, labels, task ids)."""
        for tid, images, labels in self._iter(task_ids):
            yield images, labels, torch.full((labels.shape[0],), tid, dtype=torch.long)

    def state_dict(self) -> dict:
        return {"batches": self.batches, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.batches = {int(k): v for k, v in state["batches"].items()}
        self._cache = None
        self.generator.set_state(state["generator"])
