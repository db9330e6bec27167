"""The output heads: one Linear per head, grown as the scenario asks, and the map from classes to
output columns.

All heads read the backbone's features; their outputs are concatenated in the order the heads were
added, so a head's classes own a contiguous block of columns, fixed when the head is added. The
scenario decides when a head is added and for which classes (one per task in class-incremental
learning, one for every class otherwise); strategies, the optimizer and weight aligning read the
columns here and never reach into the Linear layers' order themselves.
"""

from __future__ import annotations

import torch
from torch import nn


class Heads(nn.ModuleList):
    """Growing output heads with their class-to-column map (-1: a class with no column yet)."""

    def __init__(self, features: int, num_classes: int, init: str = "kaiming", dtype=torch.float32):
        super().__init__()
        self.features = features
        self.init = init
        self.dtype = dtype
        self.class_to_column = torch.full((num_classes,), -1, dtype=torch.long)

    def __getitem__(self, index):
        if isinstance(index, slice):  # a plain list of heads (ModuleList would build another Heads)
            return list(self._modules.values())[index]
        return super().__getitem__(index)

    @property
    def num_outputs(self) -> int:
        return sum(head.out_features for head in self)

    def add_head(self, classes, device=None) -> nn.Linear:
        """A new head with one output per class of ``classes``, its columns after the existing ones."""
        offset = self.num_outputs
        # Constructed the same way for every init, so the RNG stream that follows does not depend on it.
        head = nn.Linear(self.features, len(classes)).to(device, self.dtype)
        if self.init == "zero":
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.append(head)
        for position, cls in enumerate(classes):
            self.class_to_column[cls] = offset + position
        return head

    def columns_of(self, classes) -> list[int]:
        return [int(self.class_to_column[c]) for c in classes]

    def column_classes(self) -> torch.Tensor:
        """The class of each output column (-1 for a column no class maps to)."""
        classes = torch.full((self.num_outputs,), -1, dtype=torch.long)
        for cls, column in enumerate(self.class_to_column.tolist()):
            if 0 <= column < self.num_outputs:
                classes[column] = cls
        return classes

    def head_columns(self) -> list[range]:
        """The block of columns each head owns, in order."""
        blocks, start = [], 0
        for head in self:
            blocks.append(range(start, start + head.out_features))
            start += head.out_features
        return blocks

    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every head's weight and bias, concatenated in column order."""
        if len(self) == 1:
            return self[0].weight, self[0].bias
        return torch.cat([h.weight for h in self]), torch.cat([h.bias for h in self])
