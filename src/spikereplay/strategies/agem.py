"""Averaged GEM (A-GEM; Chaudhry et al., ICLR 2019, "Efficient Lifelong Learning with A-GEM"): when
the current batch's gradient g conflicts with the gradient g_ref of a batch drawn from the buffer
(g . g_ref < 0), step along its projection g - (g . g_ref / g_ref . g_ref) g_ref instead.
The reference batch is drawn from the samples of earlier tasks (the paper's episodic memory),
unless ``replay.sample_from`` says otherwise; its size is ``replay.batch_size`` (the paper's 256:
``replay.batch_size=256``). The paper steps with plain SGD (``training.optimizer: sgd``): Adam
rescales the projected gradient per parameter, so its step can conflict with g_ref again."""

from __future__ import annotations

import torch

from spikereplay.strategies.base import Batch, Strategy


def project_gradient(grads: list, reference: list) -> tuple[list, bool]:
    """A-GEM's projection of ``grads`` against ``reference`` (lists of tensors or None, None = zero).

    Returns the new gradients and whether they conflicted. A parameter with no gradient in either
    stays None, so the optimizer skips it."""
    pairs = [(g, r) for g, r in zip(grads, reference) if g is not None and r is not None]
    dot = sum(((g * r).sum() for g, r in pairs), torch.zeros(()))
    if dot >= 0:
        return grads, False
    ref_sq = sum((r.pow(2).sum() for r in reference if r is not None), torch.zeros(()))
    scale = dot / ref_sq
    projected = []
    for g, r in zip(grads, reference):
        if r is None:
            projected.append(g)
        else:
            projected.append((g if g is not None else torch.zeros_like(r)) - scale.to(r.device) * r)
    return projected, True


class AGEM(Strategy):
    needs_boundaries = True  # its reference gradient comes from the earlier tasks' samples
    needs_memory = True
    default_sample_from = "earlier_tasks"  # the reference gradient is that of past tasks only

    def observe(self, batch: Batch) -> dict[str, float]:
        params = list(self.model.parameters())
        replayed = self.replay_sample(self.replay_batch_size(batch), batch.task_id)
        scored = self.current_columns(batch.task_id)
        terms = {}
        if replayed is not None:
            spikes, mems = self.outputs(replayed["images"])
            reference_loss = self.replay_losses(spikes, replayed["labels"], replayed["task_ids"], mems).mean()
            self.optim.zero_grad()
            reference_loss.backward()
            reference = [None if p.grad is None else p.grad.clone() for p in params]
            scored = scored + self.replay_columns(replayed["task_ids"])
            terms["reference"] = float(reference_loss.detach())
        spikes, mems = self.outputs(batch.images)
        loss = self.current_losses(spikes, batch.labels, batch.task_id, mems).mean()
        self.optim.zero_grad()
        loss.backward()
        if replayed is not None:
            grads, conflicted = project_gradient([p.grad for p in params], reference)
            for param, grad in zip(params, grads):
                param.grad = grad
            terms["projected"] = float(conflicted)
        self.optim.step(scored)
        self.memory.observe(batch.images, batch.labels, batch.task_id)
        return {"loss": float(loss.detach()), **terms}
