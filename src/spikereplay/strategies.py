"""Continual-learning strategies. ``observe(images, labels, task_id)`` is the
whole training step; the replay memory lives apart (``memory.py``).

The scenario decides which output columns a sample is scored on:
- class-incremental: a new head per task. The current task's batch uses its own
  head with task-local labels (``training.current_heads: own``, the seed) or all
  heads with global labels (``all``). Replayed samples use all heads with global
  labels (``replay.heads: all``) or their own task's head (``own``).
- task-free: one 10-output head; every sample is scored on all 10 columns with
  its digit as label, so no task id is ever used.
"""

from __future__ import annotations

import math

import torch
from snntorch import functional as SF

from spikereplay.config import Config
from spikereplay.data import TaskData
from spikereplay.encoding import encode
from spikereplay.memory import ReplayMemory, random_shift
from spikereplay.model import SpikingConvNet

_count_loss = SF.ce_count_loss(reduction="none")


class Scenario:
    """Maps classes to output columns and grows the model's heads as tasks arrive."""

    def __init__(self, kind: str, model: SpikingConvNet, mask_unseen_classes: bool = False):
        self.kind = kind
        self.model = model
        self.class_to_column = torch.full((10,), -1, dtype=torch.long)
        self.task_columns: dict[int, list[int]] = {}
        self.mask_unseen_classes = mask_unseen_classes
        self.seen_classes: set[int] = set()  # labels the training stream has shown (no task id needed)

    def begin_task(self, task: TaskData) -> list[torch.nn.Parameter]:
        """Register the task; return the parameters of any head added for it."""
        new_params: list[torch.nn.Parameter] = []
        if self.kind == "class_incremental":
            offset = self.model.num_outputs
            new_params = list(self.model.add_head(len(task.classes)).parameters())
            for position, cls in enumerate(task.classes):
                self.class_to_column[cls] = offset + position
        elif not self.model.heads:
            new_params = list(self.model.add_head(10).parameters())
            self.class_to_column = torch.arange(10)
        self.task_columns[task.task_id] = self.columns_of(task.classes)
        return new_params

    def columns_of(self, classes) -> list[int]:
        return [int(self.class_to_column[c]) for c in classes]

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


def count_loss(spikes: torch.Tensor, labels: torch.Tensor, columns: list[int], class_to_column: torch.Tensor):
    """Per-sample ``ce_count_loss`` of ``spikes`` (T, B, C) restricted to ``columns``.

    Labels are mapped to their position among ``columns`` (task-local labels when
    ``columns`` is one head, global labels when it is every head).
    """
    label_columns = class_to_column[labels.cpu()]
    position = torch.full((spikes.shape[-1],), -1, dtype=torch.long)
    position[columns] = torch.arange(len(columns))
    if (label_columns < 0).any() or (position[label_columns] < 0).any():
        raise RuntimeError("a label falls outside the scored columns")
    targets = position[label_columns].to(spikes.device)
    index = torch.tensor(columns, device=spikes.device)
    return _count_loss(spikes.index_select(-1, index), targets)


def cosine_factor(step: int, total_steps: int) -> float:
    """Cosine decay from 1 at ``step`` 0 to 0 at ``total_steps``."""
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))


def lr_factor(step: int, total_steps: int, schedule: str, warmup_steps: int) -> float:
    """Multiplier of the base lr at ``step`` of a task of ``total_steps``: a linear warm-up
    reaching 1 at step ``warmup_steps - 1``, then constant or a cosine over the remaining steps."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "cosine":
        return cosine_factor(step - warmup_steps, max(total_steps - warmup_steps, 1))
    return 1.0


class Naive:
    """Fine-tune on each task in turn; also joint training on a one-task stream."""

    def __init__(self, model: SpikingConvNet, scenario: Scenario, cfg: Config, device: torch.device):
        self.model, self.scenario, self.cfg, self.device = model, scenario, cfg, device
        self.optimizer = torch.optim.Adam(model.parameters(), lr=cfg.training.lr, betas=cfg.training.betas)
        self.lr_scheduler = None

    def begin_task(self, task: TaskData) -> None:
        new_params = self.scenario.begin_task(task)
        if new_params:
            self.optimizer.add_param_group({"params": new_params})
        training = self.cfg.training
        if training.reset_optimizer_per_task:
            self.optimizer.state.clear()
        if training.lr_schedule == "cosine" or training.warmup_steps:
            total_steps = task.batches_per_epoch(training.batch_size) * training.epochs
            # A fresh scheduler per task restarts every group at its initial lr (resume-safe: tasks are the unit).
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                self.optimizer,
                lambda step: lr_factor(step, total_steps, training.lr_schedule, training.warmup_steps),
            )

    def before_epoch(self, task: TaskData) -> None:
        pass

    def outputs(self, images: torch.Tensor):
        steps = self.cfg.training.num_steps
        inputs, static = encode(self.cfg.encoding.kind, images.to(self.device), steps, self.cfg.encoding.gain)
        return self.model(inputs, static, steps)

    def current_columns(self, task_id: int) -> list[int]:
        if self.scenario.kind == "class_incremental" and self.cfg.training.current_heads == "own":
            return self.scenario.task_columns[task_id]
        return self.scenario.active_columns()

    def step(self, optimizer, loss: torch.Tensor, scored_columns) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._drop_unscored_head_grads(set(scored_columns))
        optimizer.step()
        if optimizer is self.optimizer and self.lr_scheduler is not None:
            self.lr_scheduler.step()
        return float(loss.detach())

    def _drop_unscored_head_grads(self, scored: set[int]) -> None:
        """A head no sample was scored on gets grad None, not zeros: Adam skips it instead of
        moving it on stale momentum (the heads share one concatenated output)."""
        start = 0
        for head in self.model.heads:
            end = start + head.out_features
            if not any(start <= column < end for column in scored):
                for param in head.parameters():
                    param.grad = None
            start = end

    def observe(self, images: torch.Tensor, labels: torch.Tensor, task_id: int) -> float:
        self.scenario.observe_labels(labels)
        spikes, _ = self.outputs(images)
        columns = self.current_columns(task_id)
        losses = count_loss(spikes, labels, columns, self.scenario.class_to_column)
        return self.step(self.optimizer, losses.mean(), columns)

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "seen_classes": sorted(self.scenario.seen_classes)}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scenario.seen_classes = set(state.get("seen_classes", []))


class Replay(Naive):
    """Experience replay with the seed's per-task batch memory.

    ``interleaved``: each step trains on the current batch concatenated with a
    batch drawn from the memory of earlier tasks. ``separate_pass`` (the seed's):
    before each epoch, one pass over every stored batch of earlier tasks with its
    own optimizer.
    """

    def __init__(self, model, scenario, cfg, device, memory: ReplayMemory):
        super().__init__(model, scenario, cfg, device)
        self.memory = memory
        self.replay_optimizer = None

    def begin_task(self, task: TaskData) -> None:
        super().begin_task(task)
        if self.cfg.replay.schedule == "separate_pass":
            self.replay_optimizer = torch.optim.Adam(
                self.model.parameters(), lr=self.cfg.replay.lr, betas=self.cfg.training.betas
            )

    def earlier_tasks(self, task_id: int) -> list[int]:
        return [tid for tid in self.memory.batches if tid < task_id and self.memory.batches[tid]]

    def replay_columns(self, task_ids) -> list[int]:
        if self.scenario.kind == "class_incremental" and self.cfg.replay.heads == "own":
            return [c for tid in task_ids.unique().tolist() for c in self.scenario.task_columns[tid]]
        return self.scenario.active_columns()

    def replay_losses(self, spikes, labels, task_ids) -> torch.Tensor:
        if self.scenario.kind == "class_incremental" and self.cfg.replay.heads == "own":
            losses = torch.empty(labels.shape[0], device=spikes.device)
            for tid in task_ids.unique().tolist():
                rows = (task_ids == tid).nonzero().flatten().to(spikes.device)
                group = count_loss(
                    spikes.index_select(1, rows),
                    labels[rows.cpu()],
                    self.scenario.task_columns[tid],
                    self.scenario.class_to_column,
                )
                losses[rows] = group
            return losses
        return count_loss(spikes, labels, self.scenario.active_columns(), self.scenario.class_to_column)

    def before_epoch(self, task: TaskData) -> None:
        if self.cfg.replay.schedule != "separate_pass":
            return
        for images, labels, task_ids in self.memory.stored_batches(self.earlier_tasks(task.task_id)):
            spikes, _ = self.outputs(images)
            losses = self.replay_losses(spikes, labels, task_ids)
            self.step(self.replay_optimizer, losses.mean(), self.replay_columns(task_ids))

    def observe(self, images, labels, task_id):
        self.scenario.observe_labels(labels)
        self.memory.observe_batch(images, labels, task_id)
        earlier = self.earlier_tasks(task_id)
        if self.cfg.replay.schedule != "interleaved" or not earlier:
            return super().observe(images, labels, task_id)
        replay_batch = self.cfg.replay.batch_size or images.shape[0]
        old_images, old_labels, old_tasks = self.memory.sample(replay_batch, earlier)
        if self.cfg.replay.shift_pixels:
            old_images = random_shift(old_images, self.cfg.replay.shift_pixels, self.memory.generator)
        spikes, _ = self.outputs(torch.cat([images.cpu(), old_images]))
        n_new = images.shape[0]
        columns = self.current_columns(task_id)
        new_losses = count_loss(spikes[:, :n_new], labels, columns, self.scenario.class_to_column)
        old_losses = self.replay_losses(spikes[:, n_new:], old_labels, old_tasks)
        scored = columns + self.replay_columns(old_tasks)
        return self.step(self.optimizer, torch.cat([new_losses, old_losses]).mean(), scored)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["memory"] = self.memory.state_dict()
        if self.replay_optimizer is not None:
            state["replay_optimizer"] = self.replay_optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.memory.load_state_dict(state["memory"])
        if self.replay_optimizer is not None and "replay_optimizer" in state:
            self.replay_optimizer.load_state_dict(state["replay_optimizer"])
