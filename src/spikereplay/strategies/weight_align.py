"""Weight aligning (Zhao et al., CVPR 2020, "Maintaining Discrimination and Fairness in Class
Incremental Learning"): after a class-incremental task, the newest head's weight rows are rescaled
so that their mean L2 norm equals that of the old heads' rows, against the bias towards new classes.
The biases are left as they are (as in the paper and in the seed code)."""

from __future__ import annotations

import torch


def alignment_gamma(old_weights: torch.Tensor, new_weights: torch.Tensor) -> float:
    """gamma = mean row norm of ``old_weights`` / mean row norm of ``new_weights`` ([classes, features])."""
    return float(old_weights.norm(dim=1).mean() / new_weights.norm(dim=1).mean())


@torch.no_grad()
def align_newest_head(model) -> float | None:
    """Rescale the newest head's weights by gamma; return gamma (None with fewer than two heads)."""
    if len(model.heads) < 2:
        return None
    old = torch.cat([head.weight for head in model.heads[:-1]])
    gamma = alignment_gamma(old, model.heads[-1].weight)
    model.heads[-1].weight.mul_(gamma)
    return gamma
