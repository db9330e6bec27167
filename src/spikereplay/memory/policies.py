"""Storage policies: which offered samples a buffer keeps, apart from how a strategy trains.

- ``PerTaskBatches``: the seed's; each task owns ``batches_per_task`` whole training batches, each
  offered batch kept with probability ``store_prob`` until the task's slots are full.
- ``RandomKeys``: every offered sample draws a uniform key and each group keeps the samples with the
  largest keys within its quota (reservoir sampling by random keys, Efraimidis & Spirakis 2006).
  One group of the whole capacity is a reservoir: a uniform sample of the stream, with no task
  boundaries needed. One group per class, the capacity split equally among the classes seen so
  far, is a class-balanced buffer: when a class arrives, each old class gives up its lowest keys.
"""

from __future__ import annotations

import torch

from spikereplay.memory.store import SampleStore


class PerTaskBatches:
    default_sample_from = "earlier_tasks"

    def __init__(self, batches_per_task: int, store_prob: float):
        self.batches_per_task = batches_per_task
        self.store_prob = store_prob
        self.batches_stored: dict[int, int] = {}

    def insert(self, store: SampleStore, rows: dict, generator: torch.Generator) -> int:
        """Store the whole batch ``rows`` (all of one task) or none of it; return the rows stored."""
        task_id = int(rows["task_ids"][0])
        stored = self.batches_stored.get(task_id, 0)
        if stored >= self.batches_per_task:
            return 0
        if torch.rand((), generator=generator).item() >= self.store_prob:
            return 0
        store.append(rows)
        self.batches_stored[task_id] = stored + 1
        return rows["labels"].shape[0]

    def state_dict(self) -> dict:
        return {"batches_stored": dict(self.batches_stored)}

    def load_state_dict(self, state: dict) -> None:
        self.batches_stored = {int(k): v for k, v in state["batches_stored"].items()}


class RandomKeys:
    """Top-k random keys within each group's quota; ``group_by`` None (reservoir) or a field name."""

    default_sample_from = "all"

    def __init__(self, capacity: int, group_by: str | None = None):
        self.capacity = capacity
        self.group_by = group_by
        self.groups: list[int] = []  # in order of arrival: the first ones get the remainder slots

    def quotas(self) -> dict[int, int]:
        if self.group_by is None:
            return {0: self.capacity}
        share, extra = divmod(self.capacity, len(self.groups))
        return {group: share + (position < extra) for position, group in enumerate(self.groups)}

    def _group_of(self, rows: dict) -> torch.Tensor:
        if self.group_by is None:
            return torch.zeros(rows["labels"].shape[0], dtype=torch.long)
        return rows[self.group_by]

    def insert(self, store: SampleStore, rows: dict, generator: torch.Generator) -> int:
        count = rows["labels"].shape[0]
        rows = {**rows, "keys": torch.rand(count, generator=generator)}
        new_groups = self._group_of(rows)
        for group in new_groups.tolist():
            if group not in self.groups:
                self.groups.append(group)
        if len(store) == 0:
            stored_keys, stored_groups = torch.empty(0), torch.empty(0, dtype=torch.long)
        else:
            stored_keys, stored_groups = store["keys"], self._group_of(store.fields)
        keep_stored = torch.zeros(stored_keys.shape[0], dtype=torch.bool)
        keep_new = torch.zeros(count, dtype=torch.bool)
        for group, quota in self.quotas().items():
            old = (stored_groups == group).nonzero().flatten()
            new = (new_groups == group).nonzero().flatten()
            keys = torch.cat([stored_keys[old], rows["keys"][new]])
            top = keys.topk(min(quota, keys.shape[0])).indices
            keep_stored[old[top[top < old.shape[0]]]] = True
            keep_new[new[top[top >= old.shape[0]] - old.shape[0]]] = True
        evicted = (~keep_stored).nonzero().flatten()
        winners = keep_new.nonzero().flatten()
        swapped = min(evicted.shape[0], winners.shape[0])
        if swapped:
            store.replace(evicted[:swapped], {k: v[winners[:swapped]] for k, v in rows.items()})
        if winners.shape[0] > swapped:
            store.append({k: v[winners[swapped:]] for k, v in rows.items()})
        if evicted.shape[0] > swapped:
            store.remove(evicted[swapped:])
        return winners.shape[0]

    def state_dict(self) -> dict:
        return {"groups": list(self.groups)}

    def load_state_dict(self, state: dict) -> None:
        self.groups = list(state["groups"])


def make_policy(memory_cfg):
    """The storage policy named by a ``MemoryConfig``."""
    policy = memory_cfg.resolved_policy
    if policy == "per_task_batches":
        return PerTaskBatches(memory_cfg.batches_per_task, memory_cfg.store_prob)
    return RandomKeys(memory_cfg.size, group_by="labels" if policy == "class_balanced" else None)
