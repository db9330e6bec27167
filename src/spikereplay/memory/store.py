"""The sample store: one row per stored sample, every field a tensor with one row per slot.

Fields: ``images`` (uint8), ``labels``, ``task_ids`` (-1 where no task is known), ``steps`` (the
buffer's insertion counter when the sample was stored), plus any per-sample extras a strategy or a
policy adds (output spike counts, a reservoir key). Every write gives every field, so a slot's
fields can never go out of sync.
"""

from __future__ import annotations

import torch


class SampleStore:
    def __init__(self):
        self.fields: dict[str, torch.Tensor] = {}

    def __len__(self) -> int:
        return 0 if not self.fields else next(iter(self.fields.values())).shape[0]

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.fields[name]

    def _check(self, rows: dict[str, torch.Tensor]) -> int:
        sizes = {value.shape[0] for value in rows.values()}
        if len(sizes) != 1:
            raise ValueError(f"store rows disagree in length: { {k: v.shape[0] for k, v in rows.items()} }")
        if self.fields and set(rows) != set(self.fields):
            raise ValueError(f"store rows have fields {sorted(rows)}, the store holds {sorted(self.fields)}")
        return sizes.pop()

    def append(self, rows: dict[str, torch.Tensor]) -> None:
        """Add rows at the end (copies, on the CPU)."""
        self._check(rows)
        rows = {name: value.detach().to("cpu", copy=True) for name, value in rows.items()}
        if not self.fields:
            self.fields = rows
        else:
            self.fields = {name: torch.cat([self.fields[name], rows[name]]) for name in self.fields}

    def replace(self, slots: torch.Tensor, rows: dict[str, torch.Tensor]) -> None:
        """Overwrite the rows at ``slots``."""
        if self._check(rows) != slots.shape[0]:
            raise ValueError("one row per replaced slot")
        for name, value in rows.items():
            self.fields[name][slots] = value.detach().to("cpu")

    def remove(self, slots: torch.Tensor) -> None:
        """Drop the rows at ``slots``; the others keep their order."""
        keep = torch.ones(len(self), dtype=torch.bool)
        keep[slots] = False
        self.fields = {name: value[keep] for name, value in self.fields.items()}

    def rows(self, slots: torch.Tensor, names=None) -> dict[str, torch.Tensor]:
        return {name: self.fields[name][slots] for name in (names or self.fields)}

    def nbytes(self) -> int:
        """Bytes held, all fields included, as stored."""
        return sum(value.numel() * value.element_size() for value in self.fields.values())

    def state_dict(self) -> dict:
        return {"fields": dict(self.fields)}

    def load_state_dict(self, state: dict) -> None:
        self.fields = dict(state["fields"])
