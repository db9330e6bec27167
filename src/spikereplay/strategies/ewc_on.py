"""Online EWC (Schwarz et al., ICML 2018, "Progress & Compress"; EWC: Kirkpatrick et al., PNAS
2017): at the end of each task, the diagonal Fisher information of the parameters is estimated
on ``fisher_samples`` of its training samples (evenly spaced, one at a time, weighted by the model's probability
of the true class) and folded into a running Fisher, F <- gamma F + F_task; later tasks pay
``e_lambda`` * sum F (theta - theta*)^2 for moving away from the parameters at the task's end."""

from __future__ import annotations

import torch
from pydantic import Field

from spikereplay.losses import count_loss, quadratic_penalty
from spikereplay.model import current_names
from spikereplay.strategies.base import Batch, NoParams, Strategy


class EWCOnline(Strategy):
    needs_boundaries = True  # its Fisher information is taken at the end of each task

    class Params(NoParams):
        e_lambda: float = Field(100.0, ge=0.0, le=1e9)
        gamma: float = Field(1.0, ge=0.0, le=1.0)
        fisher_samples: int = Field(256, gt=0, le=1_000_000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fisher: dict[str, torch.Tensor] = {}
        self.anchor: dict[str, torch.Tensor] = {}

    def penalty(self) -> torch.Tensor:
        return quadratic_penalty(dict(self.model.named_parameters()), self.fisher, self.anchor)

    def observe(self, batch: Batch) -> dict[str, float]:
        spikes, mems = self.outputs(batch.images)
        current = self.current_losses(spikes, batch.labels, batch.task_id, mems).mean()
        penalty = self.penalty()
        total = self.optim.minimize(current + self.params.e_lambda * penalty, self.current_columns(batch.task_id))
        return {"loss": total, "current": float(current.detach()), "penalty": float(penalty.detach())}

    def end_task(self, task) -> None:
        params = dict(self.model.named_parameters())
        fisher = {name: torch.zeros_like(p) for name, p in params.items()}
        count = min(self.params.fisher_samples, task.train_x.shape[0])
        for index in torch.linspace(0, task.train_x.shape[0] - 1, count).long().tolist():
            spikes, _ = self.outputs(task.train_x[index : index + 1])
            labels = task.train_y[index : index + 1]  # the likelihood alone, without the silent floor
            nll = count_loss(spikes, labels, self.current_columns(task.task_id), self.scenario.class_to_column).mean()
            self.model.zero_grad(set_to_none=True)
            nll.backward()
            weight = torch.exp(-nll.detach())  # the probability of the true class
            for name, p in params.items():
                if p.grad is not None:
                    fisher[name] += weight * p.grad.pow(2) / count
        self.model.zero_grad(set_to_none=True)
        for name, value in fisher.items():
            self.fisher[name] = self.params.gamma * self.fisher[name] + value if name in self.fisher else value
        self.anchor = {name: p.detach().clone() for name, p in params.items()}

    def state_dict(self) -> dict:
        return {"fisher": self.fisher, "anchor": self.anchor}

    def load_state_dict(self, state: dict) -> None:
        self.fisher = {name: value.to(self.device) for name, value in current_names(state["fisher"]).items()}
        self.anchor = {name: value.to(self.device) for name, value in current_names(state["anchor"]).items()}
