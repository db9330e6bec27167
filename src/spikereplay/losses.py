"""Loss terms on SNN outputs: small pure functions on spikes or membranes of shape [T, B, C].

Per-sample losses (shape [B]) are returned where a strategy mixes samples of different origins,
so that it decides how to average them.
"""

from __future__ import annotations

import torch
from snntorch import functional as SF

_count_loss = SF.ce_count_loss(reduction="none")


def column_targets(labels: torch.Tensor, columns: list[int], class_to_column: torch.Tensor, num_outputs: int):
    """Each label's position among ``columns`` (task-local labels when ``columns`` is one head,
    global labels when it is every head); RuntimeError if a label's column is not among them."""
    label_columns = class_to_column[labels.cpu()]
    position = torch.full((num_outputs,), -1, dtype=torch.long)
    position[columns] = torch.arange(len(columns))
    if (label_columns < 0).any() or (position[label_columns] < 0).any():
        raise RuntimeError("a label falls outside the scored columns")
    return position[label_columns]


def count_loss(spikes: torch.Tensor, labels: torch.Tensor, columns: list[int], class_to_column: torch.Tensor):
    """Per-sample ``ce_count_loss`` of ``spikes`` [T, B, C] restricted to ``columns``: the cross-entropy
    of the softmax of the output spike counts (snnTorch's rate-coded loss)."""
    targets = column_targets(labels, columns, class_to_column, spikes.shape[-1]).to(spikes.device)
    index = torch.tensor(columns, device=spikes.device)
    return _count_loss(spikes.index_select(-1, index), targets)


def silent_floor(mems: torch.Tensor, labels: torch.Tensor, class_to_column: torch.Tensor, threshold: float):
    """Per-sample ``relu(threshold - max_t U[t, y])``: how far the true class's output membrane
    stayed below the firing threshold, 0 once it fired (issue 23).

    The count loss reaches a neuron only through the surrogate gradient of its spikes, which is
    tiny far below threshold: an output driven silent gets almost no gradient and stays silent.
    This term reaches the membrane directly, so it pushes a silent true-class output back up to
    threshold and leaves every output that fires untouched.
    """
    columns = class_to_column[labels.cpu()].to(mems.device)
    peak = mems.amax(0).gather(1, columns[:, None]).squeeze(1)
    return torch.relu(threshold - peak)


def snn_logits(spikes: torch.Tensor, mems: torch.Tensor, kind: str) -> torch.Tensor:
    """What plays the role of logits [B, C] for an SNN: output spike ``counts`` (what the count loss
    and the prediction use) or the summed output ``membrane`` potential (graded, never tied)."""
    return spikes.sum(0) if kind == "counts" else mems.sum(0)


def distill_mse(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Per-sample mean squared error between [B, C] outputs over the columns where ``teacher`` is
    not NaN (DER's logit matching; NaN marks outputs that did not exist when the target was stored)."""
    known = ~torch.isnan(teacher)
    squared = torch.where(known, student - teacher.nan_to_num(), torch.zeros_like(student)).pow(2)
    return squared.sum(-1) / known.sum(-1).clamp(min=1)


def distill_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Per-sample KL(teacher || student) of the softmaxes of [B, C] outputs at ``temperature``
    (LwF, Li & Hoiem 2016), scaled by T^2 as in knowledge distillation (Hinton et al. 2015) so that
    the term's weight does not change with the temperature."""
    log_student = torch.log_softmax(student / temperature, dim=-1)
    log_teacher = torch.log_softmax(teacher / temperature, dim=-1)
    return (log_teacher.exp() * (log_teacher - log_student)).sum(-1) * temperature**2


def quadratic_penalty(params: dict, importance: dict, anchor: dict) -> torch.Tensor:
    """sum_i importance_i * (param_i - anchor_i)^2 over the parameters named in ``importance``
    (EWC, Kirkpatrick et al. 2017; SI, Zenke et al. 2017). Parameters added later are free."""
    terms = [(weight * (params[name] - anchor[name]).pow(2)).sum() for name, weight in importance.items()]
    return torch.stack(terms).sum() if terms else torch.zeros(())
