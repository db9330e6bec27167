"""Learning without Forgetting (Li & Hoiem, ECCV 2016): a copy of the network taken at the end of
each task is the teacher; on every later batch, the outputs the teacher had are distilled into
the student (softened KL at ``temperature``), with no stored samples. For an SNN, the outputs are
the spike counts (or the summed membrane, ``strategy_params.logits``), over the teacher's columns."""

from __future__ import annotations

import copy

import torch
from pydantic import Field

from spikereplay.losses import distill_kl
from spikereplay.strategies.base import Batch, LogitParams, Strategy


class LwF(Strategy):
    needs_boundaries = True  # its teacher is the model at the end of the previous task

    class Params(LogitParams):
        alpha: float = Field(1.0, ge=0.0, le=1e3)  # weight of the distillation term
        temperature: float = Field(2.0, gt=0.0, le=1e3)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.teacher = None

    def end_task(self, task) -> None:
        self.teacher = self._frozen_copy()

    def _frozen_copy(self):
        teacher = copy.deepcopy(self.model).eval()
        for param in teacher.parameters():
            param.requires_grad_(False)
        return teacher

    def observe(self, batch: Batch) -> dict[str, float]:
        encoded = self.encoded(batch.images)
        spikes, mems = self.model(*encoded)
        current = self.current_losses(spikes, batch.labels, batch.task_id, mems).mean()
        if self.teacher is None:
            return {"loss": self.optim.minimize(current, self.current_columns(batch.task_id))}
        with torch.no_grad():
            old_spikes, old_mems = self.teacher(*encoded)  # the same input spikes as the student
        width = old_spikes.shape[-1]
        student = self.logits(spikes[..., :width], mems[..., :width])
        distill = distill_kl(student, self.logits(old_spikes, old_mems), self.params.temperature).mean()
        scored = self.current_columns(batch.task_id) + list(range(width))
        total = self.optim.minimize(current + self.params.alpha * distill, scored)
        return {"loss": total, "current": float(current.detach()), "distill": float(distill.detach())}

    def state_dict(self) -> dict:
        return {"teacher": None if self.teacher is None else self.teacher.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        # resume rebuilt the heads of every finished task, as many as the teacher had
        self.teacher = None
        if state["teacher"] is not None:
            self.teacher = self._frozen_copy()
            self.teacher.load_state_dict(state["teacher"])
