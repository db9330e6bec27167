"""Which output columns a sample is trained and scored on.

- class-incremental: a new head per task, its columns appended after the old ones; a class's
  column is fixed when its task arrives. Prediction ranges over every head (no task id).
- task-free: one head with a column per class of the dataset from the start; no task id is used.
  With ``mask_unseen_classes`` the loss and the prediction range over the classes the stream has
  shown so far.
"""

from __future__ import annotations

import torch

from spikereplay.datasets import TaskData
from spikereplay.model import SpikingConvNet

SCENARIOS = ("class_incremental", "task_free")


class Scenario:
    """Maps classes to output columns and grows the model's heads as tasks arrive."""

    def __init__(self, kind: str, model: SpikingConvNet, num_classes: int, mask_unseen_classes: bool = False):
        self.kind = kind
        self.model = model
        self.num_classes = num_classes
        self.class_to_column = torch.full((num_classes,), -1, dtype=torch.long)
        self.task_columns: dict[int, list[int]] = {}
        self.mask_unseen_classes = mask_unseen_classes
        self.seen_classes: set[int] = set()  # labels the training stream has shown (no task id needed)
        self.current_classes: tuple[int, ...] = ()  # the classes of the task being trained

    def begin_task(self, task: TaskData) -> list[torch.nn.Parameter]:
        """Register the task; return the parameters of any head added for it."""
        new_params: list[torch.nn.Parameter] = []
        if self.kind == "class_incremental":
            offset = self.model.num_outputs
            new_params = list(self.model.add_head(len(task.classes)).parameters())
            for position, cls in enumerate(task.classes):
                self.class_to_column[cls] = offset + position
        elif not self.model.heads:
            new_params = list(self.model.add_head(self.num_classes).parameters())
            self.class_to_column = torch.arange(self.num_classes)
        self.task_columns[task.task_id] = self.columns_of(task.classes)
        self.current_classes = tuple(task.classes)
        return new_params

    def columns_of(self, classes) -> list[int]:
        return [int(self.class_to_column[c]) for c in classes]

    def column_classes(self) -> torch.Tensor:
        """The class of each output column (-1 for a column no class maps to)."""
        classes = torch.full((self.model.num_outputs,), -1, dtype=torch.long)
        for cls, column in enumerate(self.class_to_column.tolist()):
            if 0 <= column < self.model.num_outputs:
                classes[column] = cls
        return classes

    def all_columns(self) -> list[int]:
        return list(range(self.model.num_outputs))

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
