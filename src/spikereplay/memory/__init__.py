"""Replay memory: a sample store, a storage policy deciding what it keeps, and seeded sampling.

What to store is the policy's business (``policies.py``); how to train on it is the strategy's.
"""

from __future__ import annotations

import torch

from spikereplay.memory.augment import random_shift, shift_images
from spikereplay.memory.policies import PerTaskBatches, RandomKeys, make_policy
from spikereplay.memory.store import SampleStore


class ReplayBuffer:
    def __init__(self, policy, seed: int, sample_from: str | None = None):
        self.policy = policy
        self.store = SampleStore()
        self.generator = torch.Generator().manual_seed(seed)  # storing, sampling and augmentation draws
        self.sample_from = sample_from or policy.default_sample_from
        self.insertions = 0  # batches offered so far

    def __len__(self) -> int:
        return len(self.store)

    def observe(
        self, images: torch.Tensor, labels: torch.Tensor, task_id: int | None, extras: dict | None = None
    ) -> int:
        """Offer a training batch (with optional per-sample extras); return how many samples were kept.
        ``task_id`` None: the stream gives none (online), and the samples are stored with task id -1."""
        count = labels.shape[0]
        rows = {
            "images": images,
            "labels": labels,
            "task_ids": torch.full((count,), -1 if task_id is None else task_id, dtype=torch.long),
            "steps": torch.full((count,), self.insertions, dtype=torch.long),
            **(extras or {}),
        }
        self.insertions += 1
        return self.policy.insert(self.store, rows, self.generator)

    def eligible(self, task_id: int) -> torch.Tensor:
        """The slots a step of task ``task_id`` may replay."""
        if len(self.store) == 0:
            return torch.empty(0, dtype=torch.long)
        if self.sample_from == "earlier_tasks":
            return (self.store["task_ids"] < task_id).nonzero().flatten()
        return torch.arange(len(self.store))

    def sample(self, count: int, task_id: int, names=None) -> dict[str, torch.Tensor] | None:
        """``count`` rows drawn uniformly, with replacement, from the eligible slots (None if there are none)."""
        slots = self.eligible(task_id)
        if slots.shape[0] == 0:
            return None
        pick = torch.randint(slots.shape[0], (count,), generator=self.generator)
        return self.store.rows(slots[pick], names)

    def stored_batches(self, task_id: int):
        """The eligible slots as the batches they were stored in (runs of one insertion step), in order."""
        slots = self.eligible(task_id)
        if slots.shape[0] == 0:
            return
        steps = self.store["steps"][slots]
        starts = [0, *((steps[1:] != steps[:-1]).nonzero().flatten() + 1).tolist(), slots.shape[0]]
        for begin, end in zip(starts[:-1], starts[1:]):
            yield self.store.rows(slots[begin:end])

    def nbytes(self) -> int:
        return self.store.nbytes()

    def state_dict(self) -> dict:
        return {
            "store": self.store.state_dict(),
            "policy": self.policy.state_dict(),
            "generator": self.generator.get_state(),
            "insertions": self.insertions,
        }

    def load_state_dict(self, state: dict) -> None:
        if "batches" in state:  # a checkpoint from before the sample store: whole batches keyed by task
            state = legacy_state(state)
        self.store.load_state_dict(state["store"])
        self.policy.load_state_dict(state["policy"])
        self.generator.set_state(state["generator"])
        self.insertions = state["insertions"]


def legacy_state(state: dict) -> dict:
    """The state of a per-task batch memory saved as ``{"batches": {task: [(images, labels)]}}``."""
    store = SampleStore()
    batch_index = 0
    for task_id in sorted(int(k) for k in state["batches"]):
        for images, labels in state["batches"][task_id]:
            count = labels.shape[0]
            store.append(
                {
                    "images": images,
                    "labels": labels,
                    "task_ids": torch.full((count,), task_id, dtype=torch.long),
                    "steps": torch.full((count,), batch_index, dtype=torch.long),
                }
            )
            batch_index += 1
    stored = {int(k): len(v) for k, v in state["batches"].items()}
    return {
        "store": store.state_dict(),
        "policy": {"batches_stored": stored},
        "generator": state["generator"],
        "insertions": batch_index,
    }


def make_buffer(cfg, strategy_class=None) -> ReplayBuffer:
    """The replay buffer a run's config asks for: ``replay.sample_from``, else the strategy's rule, else the policy's."""
    sample_from = cfg.replay.sample_from or getattr(strategy_class, "default_sample_from", None)
    if cfg.stream.kind == "online" and sample_from == "earlier_tasks":
        # a strategy's earlier-tasks rule needs task ids, which the online stream never gives
        sample_from = "all"
    return ReplayBuffer(make_policy(cfg.memory), cfg.seed, sample_from)


__all__ = [
    "PerTaskBatches",
    "RandomKeys",
    "ReplayBuffer",
    "SampleStore",
    "make_buffer",
    "make_policy",
    "random_shift",
    "shift_images",
]
