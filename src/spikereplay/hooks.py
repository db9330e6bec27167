"""Behaviour that cuts across the training loop, as objects the trainer calls at fixed points
(Avalanche's plugins), not as ``if cfg.x:`` branches in the loop. The points, in the order a task
meets them:

- ``task_started(trainer, task, step)``: before a task's first training step;
- ``training_images(trainer, images)``: the uint8 batch the strategy is about to observe;
- ``after_iteration(trainer, index_in_epoch)``: after each optimizer step;
- ``task_trained(trainer, task, step)``: after a task's last step, before the strategy's
  ``end_task`` (so that what the strategy snapshots is the model that is scored);
- ``scored_weights()``: the weights the task's row is scored on (None: the live model);
- ``eval_row(trainer, step, row)``: the class-IL row just scored, which a hook may edit.

A hook whose state must survive a resume names its checkpoint key (``checkpoint_key``) and gives
``state_dict`` / ``load_state_dict``. ``make_hooks`` builds a run's hooks from its config: weight
aligning, and the published code's behaviours (``quirks.*``) that live in the loop.
"""

from __future__ import annotations

from spikereplay.encoding import draw_spike_images
from spikereplay.strategies.weight_align import align_newest_head


class Hook:
    checkpoint_key: str | None = None

    def task_started(self, trainer, task, step: int) -> None:
        pass

    def training_images(self, trainer, images):
        return images

    def after_iteration(self, trainer, index_in_epoch: int) -> None:
        pass

    def task_trained(self, trainer, task, step: int) -> None:
        pass

    def scored_weights(self) -> dict | None:
        return None

    def eval_row(self, trainer, step: int, row: list) -> list:
        return row

    def state_dict(self):
        return None

    def load_state_dict(self, state) -> None:
        pass


class WeightAlign(Hook):
    """``training.weight_align``: after each class-incremental task but the first, the newest head's
    weight rows are rescaled to the old heads' mean norm (Zhao et al., CVPR 2020)."""

    def task_trained(self, trainer, task, step: int) -> None:
        if step > 0:
            align_newest_head(trainer.model)


class StoreEncoded(Hook):
    """``quirks.store_encoded``: the published code trained on, and stored, one rate_conv draw of each
    batch, so a replayed sample repeats the spikes it was first seen with."""

    def training_images(self, trainer, images):
        return draw_spike_images(images)


class SnapshotEvery(Hook):
    """``quirks.snapshot_every``: the published code scored a copy of the weights saved every N
    iterations of an epoch (at iterations 0, N, 2N, ...), not the model at the task's end."""

    checkpoint_key = "scored_model"  # the checkpoint layout from before the hooks

    def __init__(self, every: int):
        self.every = every
        self.snapshot: dict | None = None

    def after_iteration(self, trainer, index_in_epoch: int) -> None:
        if index_in_epoch % self.every == 0:
            self.snapshot = trainer.weights_copy()

    def task_started(self, trainer, task, step: int) -> None:
        self.snapshot = None

    def scored_weights(self) -> dict | None:
        return self.snapshot

    def state_dict(self):
        return self.snapshot

    def load_state_dict(self, state) -> None:
        self.snapshot = state


class DiagonalFromVal(Hook):
    """``quirks.diagonal_from_val``: the published table's diagonal is the task's validation accuracy,
    task-aware (own head) in class-incremental runs, not its test accuracy."""

    def eval_row(self, trainer, step: int, row: list) -> list:
        row[step] = trainer.validation_accuracy(trainer.stream[step])
        return row


def make_hooks(cfg, joint_stream: bool) -> list[Hook]:
    """The hooks a config asks for, in the order the trainer calls them."""
    quirks = cfg.quirks
    hooks: list[Hook] = []
    if quirks.store_encoded:
        hooks.append(StoreEncoded())
    if quirks.snapshot_every:
        hooks.append(SnapshotEvery(quirks.snapshot_every))
    if cfg.training.weight_align:
        hooks.append(WeightAlign())
    if quirks.diagonal_from_val and not joint_stream:
        hooks.append(DiagonalFromVal())
    return hooks
