"""Experience replay (Chaudhry et al. 2019, "On tiny episodic memories").

``interleaved``: each step trains on the current batch concatenated with a batch drawn from the
buffer, one mean loss over both. ``separate_pass`` (the seed's schedule): before each epoch, one
pass over the stored batches of earlier tasks with its own Adam at ``replay.lr`` (a fresh one per
task; the published code's single Adam over the parameters that existed before the first head is
the replay rule ``ReplayOptimizerOnce``, ``quirks.replay_optimizer_once``).

How the interleaved step weighs its two parts (``strategy_params.weighting``):

- ``per_sample`` (Chaudhry et al.): ``L = mean over the B current and R replayed samples``, so with
  R = B each part weighs 1/2 whatever the number of tasks;
- ``by_tasks_seen`` (van de Ven et al. 2022, Nature Machine Intelligence; their code's ``rnt``):
  on task t (1-based), ``L = (1/t) L_current + (1 - 1/t) L_replay``, so the replayed part, which
  stands for t - 1 earlier tasks, weighs as much as they would. Their buffer holds earlier tasks
  only; here the draw is what ``replay.sample_from`` says (a reservoir's default, ``all``, also
  draws the current task's stored samples), so ``replay.sample_from: earlier_tasks`` gives theirs.
  It needs the task's position, so a boundary-free stream cannot run it.
"""

from __future__ import annotations

from typing import Literal

import torch

from spikereplay.optim import minimize
from spikereplay.strategies.base import Batch, NoParams, Strategy


class ER(Strategy):
    needs_memory = True

    class Params(NoParams):
        weighting: Literal["per_sample", "by_tasks_seen"] = "per_sample"

    @classmethod
    def config_problems(cls, params, cfg) -> list[tuple[str, str]]:
        if getattr(params, "weighting", "per_sample") != "by_tasks_seen":  # a subclass may have its own Params
            return []
        if cfg.stream.kind == "online":
            why = "it needs the task's position, which stream.kind online does not give: use per_sample"
        elif cfg.replay.schedule != "interleaved":
            why = "it weighs an interleaved step: set replay.schedule interleaved, or use per_sample"
        else:
            return []
        return [("strategy_params.weighting", f"strategy_params.weighting by_tasks_seen: {why}")]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.replay_optimizer = None

    def begin_task(self, task) -> None:
        if self.cfg.replay.schedule != "separate_pass":
            return
        # a fresh Adam per task, unless a replay rule keeps one (quirks.replay_optimizer_once)
        kept = next(
            (o for rule in self.replay_rules if (o := rule.replay_optimizer(self, self.replay_optimizer))), None
        )
        self.replay_optimizer = kept or torch.optim.Adam(
            self.model.parameters(), lr=self.cfg.replay.lr, betas=self.cfg.training.betas
        )

    def before_epoch(self, task) -> None:
        if self.cfg.replay.schedule != "separate_pass":
            return
        for rows in self.memory.stored_batches(task.task_id):
            spikes, mems = self.outputs(rows["images"])
            losses = self.replay_losses(spikes, rows["labels"], rows["task_ids"], mems)
            minimize(self.model, self.replay_optimizer, losses.mean(), self.replay_columns(rows["task_ids"]))

    def observe(self, batch: Batch) -> dict[str, float]:
        # The seed's order, store then draw, is kept where it cannot replay the batch itself (only
        # earlier tasks are eligible): its recorded results depend on the order of the buffer's draws.
        # Where the whole buffer is eligible, the batch is stored after the draw, as in Chaudhry et al.
        store_first = self.memory.sample_from == "earlier_tasks"
        if store_first:
            self.memory.observe(batch.images, batch.labels, batch.task_id)
        replayed = None
        if self.cfg.replay.schedule == "interleaved":
            replayed = self.replay_sample(
                self.replay_batch_size(batch), batch.task_id, ("images", "labels", "task_ids")
            )
        if not store_first:
            self.memory.observe(batch.images, batch.labels, batch.task_id)
        if replayed is None:
            spikes, mems = self.outputs(batch.images)
            loss = self.current_losses(spikes, batch.labels, batch.task_id, mems).mean()
            return {"loss": self.optim.minimize(loss, self.current_columns(batch.task_id))}
        spikes, mems = self.outputs(torch.cat([batch.images.cpu(), replayed["images"]]))
        count = batch.images.shape[0]
        new_losses = self.current_losses(spikes[:, :count], batch.labels, batch.task_id, mems[:, :count])
        old_losses = self.replay_losses(spikes[:, count:], replayed["labels"], replayed["task_ids"], mems[:, count:])
        scored = self.current_columns(batch.task_id) + self.replay_columns(replayed["task_ids"])
        if getattr(self.params, "weighting", "per_sample") == "by_tasks_seen":
            share = 1.0 / (batch.task_id + 1)  # the current task's share of the tasks seen
            loss = share * new_losses.mean() + (1.0 - share) * old_losses.mean()
        else:
            loss = torch.cat([new_losses, old_losses]).mean()
        total = self.optim.minimize(loss, scored)
        return {
            "loss": total,
            "current": float(new_losses.detach().mean()),
            "replay": float(old_losses.detach().mean()),
        }

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.replay_optimizer is not None:
            state["replay_optimizer"] = self.replay_optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if self.replay_optimizer is not None and "replay_optimizer" in state:
            self.replay_optimizer.load_state_dict(state["replay_optimizer"])
