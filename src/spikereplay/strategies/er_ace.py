"""ER with asymmetric cross-entropy (ER-ACE; Caccia et al., ICLR 2022, "New Insights on Reducing
Abrupt Representation Change in Online Continual Learning"): from the second task on, the current
batch's loss leaves out the outputs of the seen classes absent from the batch, so new classes do
not push old ones down;
the replayed batch is scored on all the classes seen so far. The two losses are added.

In an online stream (no boundary, ``Batch.task_id`` None) the old classes are simply the seen
classes absent from the batch, and replay starts once the buffer holds a sample, as in Caccia et
al.'s online setting."""

from __future__ import annotations

import torch

from spikereplay.losses import count_loss
from spikereplay.strategies.base import Batch, Strategy


class ERACE(Strategy):
    needs_memory = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.classes_before_task: set[int] = set()

    def end_task(self, task) -> None:
        self.classes_before_task = set(self.scenario.seen_classes)  # the next task's old classes

    def asymmetric(self, batch: Batch) -> bool:
        """Whether old classes exist: after the first task, or in an online stream once anything is stored."""
        return bool(self.classes_before_task) if batch.task_id is not None else len(self.memory) > 0

    def current_columns_ace(self, labels: torch.Tensor, asymmetric: bool | None = None) -> list[int]:
        """Once there are old classes: every active column except those of the classes seen so far that
        this batch does not hold (as in Mammoth's er_ace); classes not seen yet keep their column.
        ``asymmetric`` None: old classes exist once a task has ended."""
        if not (bool(self.classes_before_task) if asymmetric is None else asymmetric):
            return self.scenario.active_columns()
        absent_seen = self.scenario.seen_classes - set(labels.tolist())
        masked = set(self.scenario.columns_of(absent_seen))
        return [column for column in self.scenario.active_columns() if column not in masked]

    def observe(self, batch: Batch) -> dict[str, float]:
        asymmetric = self.asymmetric(batch)
        replayed = self.replay_sample(self.replay_batch_size(batch), batch.task_id) if asymmetric else None
        self.memory.observe(batch.images, batch.labels, batch.task_id)  # after the draw: no replay of itself
        images = batch.images.cpu() if replayed is None else torch.cat([batch.images.cpu(), replayed["images"]])
        spikes, mems = self.outputs(images)
        count = batch.images.shape[0]
        columns = self.current_columns_ace(batch.labels, asymmetric)
        current = count_loss(spikes[:, :count], batch.labels, columns, self.scenario.class_to_column)
        current = (current + self.floor_losses(mems[:, :count], batch.labels)).mean()
        if replayed is None:
            return {"loss": self.optim.minimize(current, columns), "current": float(current.detach())}
        replay = self.replay_losses(spikes[:, count:], replayed["labels"], replayed["task_ids"], mems[:, count:]).mean()
        scored = columns + self.replay_columns(replayed["task_ids"])
        total = self.optim.minimize(current + replay, scored)
        return {"loss": total, "current": float(current.detach()), "replay": float(replay.detach())}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "classes_before_task": sorted(self.classes_before_task)}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.classes_before_task = set(state["classes_before_task"])
