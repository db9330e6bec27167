"""Dark Experience Replay (Buzzega et al., NeurIPS 2020): the buffer keeps the network's logits of
each sample as it was stored, and replayed samples are pulled back to them (MSE). DER++ adds a
cross-entropy term on a second, independent draw from the buffer.

For an SNN, the logits are the output spike counts (or the summed output membrane:
``strategy_params.logits``). In class-incremental runs an output added after a sample was stored
has no stored logit: ``unseen_outputs: zero`` (default) pulls it to 0 on that sample, i.e. a new
class's output stays silent on old samples, as the low unseen-class logits stored by a fixed ANN
head do in the paper; ``ignore`` leaves it free (measured in results/strategies/search).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from spikereplay.losses import distill_mse
from spikereplay.strategies.base import Batch, LogitParams, Strategy


class DER(Strategy):
    needs_memory = True
    # Replay distils only samples of earlier tasks (issue 23). A reservoir buffer replays from the
    # first step, so with the whole buffer eligible task 0 is pulled toward spike counts stored
    # while the untrained network was nearly silent; a count cannot go below 0, so task 0's head
    # stays near silent (measured on the validation split: a class silent on all its samples at the end in
    # 6 of 9 runs, task 0 ending at 54-82 %; with earlier tasks only, 1 of 9, task 0 at 92-98 %: results/probes/der-silent).
    default_sample_from = "earlier_tasks"

    class Params(LogitParams):
        alpha: float = Field(0.3, ge=0.0, le=1e3)  # weight of the logit-matching term
        beta: float = Field(0.0, ge=0.0, le=1e3)  # weight of the replayed cross-entropy (DER++; 0 for DER)
        unseen_outputs: Literal["zero", "ignore"] = "zero"

    def observe(self, batch: Batch) -> dict[str, float]:
        count = batch.images.shape[0]
        draws = 1 + (self.params.beta > 0)
        replayed = [self.replay_sample(self.replay_batch_size(batch), batch.task_id) for _ in range(draws)]
        replayed = [rows for rows in replayed if rows is not None]
        images = torch.cat([batch.images.cpu(), *(rows["images"] for rows in replayed)])
        spikes, mems = self.outputs(images)
        current = self.current_losses(spikes[:, :count], batch.labels, batch.task_id, mems[:, :count]).mean()
        loss, terms, scored = current, {"current": float(current.detach())}, self.current_columns(batch.task_id)
        if replayed:
            start, end = count, count + replayed[0]["labels"].shape[0]
            logits = self.logits(spikes[:, start:end], mems[:, start:end])
            stored = replayed[0]["logits"][:, : logits.shape[1]].to(logits.device)  # NaN: no output when stored
            if self.params.unseen_outputs == "zero":
                stored = stored.nan_to_num(0.0)
            distill = distill_mse(logits, stored).mean()
            loss = loss + self.params.alpha * distill
            if self.cfg.training.silent_floor:  # it also keeps a distilled sample's own output firing
                loss = loss + self.floor_losses(mems[:, start:end], replayed[0]["labels"]).mean()
            terms["distill"] = float(distill.detach())
            distilled = (~torch.isnan(stored)).any(0).nonzero().flatten().tolist()
            scored = scored + self.replay_columns(replayed[0]["task_ids"]) + distilled
        if len(replayed) == 2:
            second = replayed[1]
            replay_ce = self.replay_losses(spikes[:, end:], second["labels"], second["task_ids"], mems[:, end:]).mean()
            loss = loss + self.params.beta * replay_ce
            terms["replay"] = float(replay_ce.detach())
            scored = scored + self.replay_columns(second["task_ids"])
        current_logits = self.logits(spikes[:, :count], mems[:, :count]).detach()
        self.memory.observe(batch.images, batch.labels, batch.task_id, {"logits": self.padded_logits(current_logits)})
        return {"loss": self.optim.minimize(loss, scored), **terms}


class DERpp(DER):
    # the whole buffer, as before issue 23: DER++'s cross-entropy term keeps task 0's head firing,
    # and earlier-tasks replay has not been measured for it yet
    default_sample_from = None

    class Params(DER.Params):
        beta: float = Field(0.5, ge=0.0, le=1e3)
