"""The published code's behaviours (Proietti et al., MLSP 2023; michelaproietti/MemoryReplaySNN,
commit f450e89) as config switches, all off by default: ``configs/seed-faithful/`` turns them on
and reproduces the published numbers; ``results/seed-faithful/README.md`` lists each with the
published code's lines."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class QuirksConfig(BaseModel):
    """Behaviours of the published code (michelaproietti/MemoryReplaySNN, commit f450e89), each a
    switch, all off by default, to reproduce its numbers and measure what each costs
    (``configs/seed-faithful/``). The published code's weight aligning and per-task Adam are
    ``training.weight_align`` and ``training.reset_optimizer_per_task``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    # init_leaky() inside the per-step forward: every membrane restarts at 0 at every time step, so
    # a neuron fires iff its input current of that step crosses the threshold
    stateless_steps: bool = False
    # the batch is encoded once (rate_conv) and that spike image is what is trained on and stored,
    # so replay repeats the stored draw
    store_encoded: bool = False
    # the separate pass's Adam is made once, before the first task, over the parameters that exist
    # then: class-incremental heads do not, so replay never updates a head
    replay_optimizer_once: bool = False
    # class-incremental replay labels remapped with the current task's first class: every replayed
    # sample gets position 1 of the columns it is scored on
    replay_label_remap: bool = False
    # "if task_idx:" is false for task 0: its replayed samples are scored on every head, not its own
    task0_all_heads: bool = False
    # prediction: argmax of spike counts, ties to the lowest output index (the default breaks ties
    # by the summed membrane potential)
    ties_lowest_index: bool = False
    # R[i][i] is the validation accuracy of task i at the scored snapshot, task-aware in
    # class-incremental runs (the published table's diagonal), not test accuracy
    diagonal_from_val: bool = False
    # the scored model of each task is the last copy saved at an in-epoch iteration that is a
    # multiple of this (best_loss never updated: a copy every 100 iterations), so before the task's
    # last iterations and its weight aligning; 0 = the model at the task's end
    snapshot_every: int = Field(0, ge=0, le=10**9)
    # the last, partial batch of an epoch is dropped (DataLoader drop_last=True)
    drop_last: bool = False

    @property
    def any(self) -> bool:
        return any(bool(v) for v in self.model_dump().values())


def quirk_conflict(cfg) -> str | None:
    """Why the quirks cannot apply to the rest of the config ``cfg``, or None."""
    quirks = cfg.quirks
    if quirks.store_encoded and cfg.encoding.kind != "rate_conv":
        return "quirks.store_encoded stores the rate_conv draw: it needs encoding.kind rate_conv"
    if quirks.replay_optimizer_once and cfg.replay.schedule != "separate_pass":
        return "quirks.replay_optimizer_once concerns the separate pass: set replay.schedule separate_pass"
    if (quirks.replay_label_remap or quirks.task0_all_heads) and cfg.scenario != "class_incremental":
        return "quirks.replay_label_remap and quirks.task0_all_heads are class-incremental quirks"
    return None
