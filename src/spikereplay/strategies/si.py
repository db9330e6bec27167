"""Synaptic Intelligence (Zenke et al., ICML 2017): each parameter's importance is the path integral
of its contribution to the loss decrease during a task, omega += -g * delta (g the gradient of the
step, delta the move the optimizer made); at the task's end it is normalised by the squared total
move plus ``xi`` and accumulated, and later tasks pay ``c`` * sum Omega (theta - theta*)^2.
A negative path integral, which would reward moving the parameter, counts as 0. The path uses the
gradient of the task loss alone (as Zenke et al. and Mammoth do); the step uses it plus the penalty's."""

from __future__ import annotations

import torch
from pydantic import Field

from spikereplay.losses import quadratic_penalty
from spikereplay.model import current_names
from spikereplay.strategies.base import Batch, NoParams, Strategy


class SI(Strategy):
    needs_boundaries = True  # its importance is consolidated at the end of each task

    class Params(NoParams):
        c: float = Field(0.5, ge=0.0, le=1e6)
        xi: float = Field(1.0, gt=0.0, le=1e6)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.omega: dict[str, torch.Tensor] = {}  # accumulated importance of finished tasks
        self.anchor: dict[str, torch.Tensor] = {}  # parameters at the end of the last task
        self.path: dict[str, torch.Tensor] = {}  # this task's running -g * delta
        self.start: dict[str, torch.Tensor] = {}  # parameters at the start of this task

    def observe(self, batch: Batch) -> dict[str, float]:
        params = dict(self.model.named_parameters())
        for name, p in params.items():
            self.start.setdefault(name, p.detach().clone())
            self.path.setdefault(name, torch.zeros_like(p))
        before = {name: p.detach().clone() for name, p in params.items()}
        spikes, mems = self.outputs(batch.images)
        current = self.current_losses(spikes, batch.labels, batch.task_id, mems).mean()
        penalty = quadratic_penalty(params, self.omega, self.anchor)
        self.optim.zero_grad()
        current.backward()
        grads = {name: p.grad.detach().clone() for name, p in params.items() if p.grad is not None}
        if penalty.requires_grad:
            (self.params.c * penalty).backward()  # adds to the task loss's gradients
        self.optim.step(self.current_columns(batch.task_id))
        for name, grad in grads.items():
            self.path[name] -= grad * (params[name].detach() - before[name])
        return {"loss": float((current + self.params.c * penalty).detach()), "penalty": float(penalty.detach())}

    def end_task(self, task) -> None:
        for name, p in self.model.named_parameters():
            if name not in self.path:
                continue
            moved = (p.detach() - self.start[name]).pow(2)
            importance = self.path[name].clamp(min=0) / (moved + self.params.xi)
            self.omega[name] = self.omega.get(name, torch.zeros_like(p)) + importance
        self.anchor = {name: p.detach().clone() for name, p in self.model.named_parameters()}
        self.path, self.start = {}, {}

    def state_dict(self) -> dict:
        return {"omega": self.omega, "anchor": self.anchor}

    def load_state_dict(self, state: dict) -> None:
        self.omega = {name: value.to(self.device) for name, value in current_names(state["omega"]).items()}
        self.anchor = {name: value.to(self.device) for name, value in current_names(state["anchor"]).items()}
