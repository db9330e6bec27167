"""The optimizer of a run: Adam with one parameter group per head, a per-task lr schedule
(linear warm-up, then constant or cosine), and gradient masking of heads no sample was scored on."""

from __future__ import annotations

import math

import torch

from spikereplay.config import TrainingConfig


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


def drop_unscored_head_grads(model, scored_columns) -> None:
    """A head no sample was scored on gets grad None, not zeros: Adam skips it instead of
    moving it on stale momentum (the heads share one concatenated output)."""
    scored = set(scored_columns)
    for head, columns in zip(model.heads, model.heads.head_columns()):
        if scored.isdisjoint(columns):
            for param in head.parameters():
                param.grad = None


def minimize(model, optimizer: torch.optim.Optimizer, loss: torch.Tensor, scored_columns) -> float:
    """One optimizer step on ``loss``; heads outside ``scored_columns`` are left untouched."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    drop_unscored_head_grads(model, scored_columns)
    optimizer.step()
    return float(loss.detach())


class Optimization:
    """The run's main optimizer and its per-task lr schedule (owned by the trainer, used by strategies)."""

    def __init__(self, model, training: TrainingConfig):
        self.model = model
        self.training = training
        if training.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(model.parameters(), lr=training.lr, momentum=training.momentum)
        else:
            self.optimizer = torch.optim.Adam(model.parameters(), lr=training.lr, betas=training.betas)
        self.lr_scheduler = None

    def begin_task(self, new_params: list, total_steps: int) -> None:
        """Add the new head's parameters as a group; restart the lr schedule (and, if asked, Adam)."""
        if new_params:
            self.optimizer.add_param_group({"params": new_params})
        training = self.training
        if training.reset_optimizer_per_task:
            self.optimizer.state.clear()
        if training.lr_schedule == "cosine" or training.warmup_steps:
            # A fresh scheduler per task restarts every group at its initial lr (resume-safe: tasks are the unit).
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                self.optimizer,
                lambda step: lr_factor(step, total_steps, training.lr_schedule, training.warmup_steps),
            )

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def step(self, scored_columns) -> None:
        """Apply the gradients already in ``.grad`` (for strategies that edit them, e.g. A-GEM)."""
        drop_unscored_head_grads(self.model, scored_columns)
        self.optimizer.step()
        if self.lr_scheduler is not None:
            self.lr_scheduler.step()

    def minimize(self, loss: torch.Tensor, scored_columns) -> float:
        """Backward ``loss`` and take one scheduled step; return the loss value."""
        self.zero_grad()
        loss.backward()
        self.step(scored_columns)
        return float(loss.detach())

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)
