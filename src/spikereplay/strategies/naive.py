"""Naive fine-tuning: each task in turn, no protection against forgetting (the lower bound)."""

from __future__ import annotations

from spikereplay.strategies.base import Batch, Strategy


class Naive(Strategy):
    def observe(self, batch: Batch) -> dict[str, float]:
        spikes, mems = self.outputs(batch.images)
        loss = self.current_losses(spikes, batch.labels, batch.task_id, mems).mean()
        return {"loss": self.optim.minimize(loss, self.current_columns(batch.task_id))}


class Joint(Naive):
    """All tasks merged into one and trained at once (the upper bound)."""

    joint_stream = True
