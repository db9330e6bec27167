"""A strategy of your own, run without editing the package:

    spikereplay train --config configs/quick.yaml strategy=examples.custom_strategy:WeightedReplay \\
        memory.batches_per_task=0 memory.size=200 strategy_params.replay_weight=2.0

(from the repository root: the current directory is importable). The class declares the scenarios
it supports, whether it needs a buffer, and its hyperparameters; ``observe`` is the whole step.
"""

from __future__ import annotations

import torch
from pydantic import Field

from spikereplay.strategies import Batch, Strategy
from spikereplay.strategies.base import NoParams


class WeightedReplay(Strategy):
    """Experience replay whose replayed loss counts ``replay_weight`` times the current one."""

    scenarios = ("class_incremental", "task_free")
    needs_memory = True

    class Params(NoParams):
        replay_weight: float = Field(1.0, ge=0.0)

    def observe(self, batch: Batch) -> dict[str, float]:
        self.memory.observe(batch.images, batch.labels, batch.task_id)
        replayed = self.replay_sample(self.replay_batch_size(batch), batch.task_id)
        images = batch.images if replayed is None else torch.cat([batch.images, replayed["images"]])
        spikes, mems = self.outputs(images)  # mems: for training.silent_floor, when it is on
        count = batch.images.shape[0]
        loss = self.current_losses(spikes[:, :count], batch.labels, batch.task_id, mems[:, :count]).mean()
        scored = self.current_columns(batch.task_id)
        if replayed is not None:
            replay = self.replay_losses(spikes[:, count:], replayed["labels"], replayed["task_ids"], mems[:, count:])
            replay = replay.mean()
            loss = loss + self.params.replay_weight * replay
            scored = scored + self.replay_columns(replayed["task_ids"])
        return {"loss": self.optim.minimize(loss, scored)}
