"""Which output columns a sample is trained and scored on.

- class-incremental: a new head per task, its columns appended after the old ones; a class's
  column is fixed when its task arrives. Prediction ranges over every head (no task id).
- task-free: one head with a column per class of the dataset from the start; no task id is used.
  With ``mask_unseen_classes`` the loss and the prediction range over the classes the stream has
  shown so far.
- domain-incremental: every task holds the same classes under another input distribution (Permuted
  or Rotated MNIST); one shared head, no task id at test (van de Ven et al. 2022).

The columns themselves are the model's (``heads.Heads``); the scenario decides when a head is added.
"""

from __future__ import annotations

import torch

from spikereplay.datasets import TaskData

SCENARIOS = ("class_incremental", "task_free", "domain_incremental")


class Scenario:
    """Grows the model's heads as tasks arrive, and says which columns are active."""

    def __init__(self, kind: str, model, num_classes: int, mask_unseen_classes: bool = False):
        self.kind = kind
        self.model = model
        self.num_classes = num_classes
        self.task_columns: dict[int, list[int]] = {}
        self.mask_unseen_classes = mask_unseen_classes
        self.seen_classes: set[int] = set()  # labels the training stream has shown (no task id needed)
        self.current_classes: tuple[int, ...] = ()  # the classes of the task being trained

    @property
    def heads(self):
        return self.model.heads

    @property
    def class_to_column(self) -> torch.Tensor:
        return self.model.heads.class_to_column

    def begin_task(self, task: TaskData) -> list[torch.nn.Parameter]:
        """Register the task; return the parameters of any head added for it."""
        new_params: list[torch.nn.Parameter] = []
        if self.kind == "class_incremental":
            new_params = list(self.model.add_head(task.classes).parameters())
        elif not len(self.heads):
            new_params = list(self.model.add_head(range(self.num_classes)).parameters())
        self.task_columns[task.task_id] = self.columns_of(task.classes)
        self.current_classes = tuple(task.classes)
        return new_params

    def columns_of(self, classes) -> list[int]:
        return self.heads.columns_of(classes)

    def column_classes(self) -> torch.Tensor:
        """The class of each output column (-1 for a column no class maps to)."""
        return self.heads.column_classes()

    def all_columns(self) -> list[int]:
        return list(range(self.heads.num_outputs))

    def observe_labels(self, labels: torch.Tensor) -> None:
        self.seen_classes.update(labels.unique().tolist())

    def active_columns(self) -> list[int]:
        """The outputs the loss and the prediction range over: every output, or in task-free with
        ``mask_unseen_classes`` those of the classes seen so far (class-incremental heads only
        ever hold seen classes)."""
        if self.kind == "task_free" and self.mask_unseen_classes and self.seen_classes:
            return sorted(self.columns_of(self.seen_classes))
        return self.all_columns()

    def state_dict(self) -> dict:
        return {"seen_classes": sorted(self.seen_classes)}

    def load_state_dict(self, state: dict) -> None:
        self.seen_classes = set(state.get("seen_classes", []))
