"""The strategy interface. A strategy is one small class whose ``observe`` is the whole training
step; the trainer owns the loop, the optimizer (``self.optim``) and the scenario's bookkeeping.

- ``begin_task(task)``: structure only (resume replays it for every finished task);
- ``before_epoch(task)``: rarely needed (the seed's separate replay pass);
- ``observe(batch) -> dict``: one training step; returns its loss terms (``loss`` is the total),
  every term is logged to ``train_log.csv``;
- ``end_task(task)``: snapshots, Fisher information, ...; what it computes goes in ``state_dict``;
- ``state_dict`` / ``load_state_dict``: everything needed for an exact resume.

Class attributes: what the strategy needs, checked when a config is loaded: ``scenarios`` (those it
supports), ``needs_memory`` (a buffer), ``needs_boundaries`` (task boundaries and ids: an online
stream gives none, so it is refused there); and ``Params``, the pydantic model of the strategy's
``strategy_params``. ``config_problems(params, cfg)`` refuses, at load time, a combination of its
parameters with the rest of the config that it cannot run.
"""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple

import torch
from pydantic import BaseModel, ConfigDict

from spikereplay.datasets import DATASETS
from spikereplay.encoding import encode_inputs
from spikereplay.losses import count_loss, silent_floor, snn_logits
from spikereplay.memory import random_shift
from spikereplay.replay_rules import replay_rules
from spikereplay.scenarios import SCENARIOS


class Batch(NamedTuple):
    images: torch.Tensor  # the dataset's inputs, uint8 on the CPU: images, or binned events (B, T, ...)
    labels: torch.Tensor  # class indices
    # the task the batch comes from; None in an online stream, which never tells the strategy
    task_id: int | None


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class LogitParams(NoParams):
    # what stands for an SNN's logits in distillation: output spike counts or summed membrane
    logits: Literal["counts", "membrane"] = "counts"


class Strategy:
    scenarios: ClassVar[tuple[str, ...]] = SCENARIOS
    needs_memory: ClassVar[bool] = False
    # what it does at a task boundary (end_task) is part of the method: refused by boundary-free streams
    needs_boundaries: ClassVar[bool] = False
    # which stored samples the strategy replays when replay.sample_from is not set (None: the policy's rule)
    default_sample_from: ClassVar[str | None] = None
    joint_stream: ClassVar[bool] = False  # train on all tasks merged into one
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, model, scenario, optim, cfg, device: torch.device, memory=None):
        self.model, self.scenario, self.optim, self.cfg, self.device = model, scenario, optim, cfg, device
        self.memory = memory
        self.params = self.Params.model_validate(cfg.strategy_params)
        self.replay_rules = replay_rules(cfg)  # how replayed samples are scored (the published code's quirks)
        self.input_kind = DATASETS[cfg.data.dataset].input_kind  # images are encoded; events fed as binned

    @classmethod
    def config_problems(cls, params: BaseModel, cfg) -> list[tuple[str, str]]:
        """``(key, message)`` for each way these validated ``params`` cannot run under ``cfg``."""
        return []

    # -- the interface ---------------------------------------------------------
    def begin_task(self, task) -> None:
        pass

    def before_epoch(self, task) -> None:
        pass

    def observe(self, batch: Batch) -> dict[str, float]:
        raise NotImplementedError

    def end_task(self, task) -> None:
        pass

    def state_dict(self) -> dict:
        return {"memory": self.memory.state_dict()} if self.memory is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.memory is not None:
            self.memory.load_state_dict(state["memory"])

    # -- helpers ---------------------------------------------------------------
    def encoded(self, images: torch.Tensor):
        """``(inputs, static, num_steps)``: a batch of the dataset's inputs (uint8 images, or binned
        events) encoded per the config, ready for a model."""
        inputs, static, steps = encode_inputs(
            self.input_kind, self.cfg.encoding.kind, images.to(self.device), self.cfg.training.num_steps,
            self.cfg.encoding.gain,
        )  # fmt: skip
        return inputs.to(self.model.real_dtype), static, steps

    def outputs(self, images: torch.Tensor):
        """Output spikes and membranes [T, B, C] of uint8 ``images``, encoded per the config."""
        return self.model(*self.encoded(images))

    def logits(self, spikes: torch.Tensor, mems: torch.Tensor) -> torch.Tensor:
        """[B, C] logits per ``strategy_params.logits`` (spike counts by default)."""
        return snn_logits(spikes, mems, getattr(self.params, "logits", "counts"))

    def padded_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits widened to one column per class of the dataset, NaN where no output exists yet,
        so that logits stored at different times fit one buffer field."""
        padded = torch.full((logits.shape[0], self.scenario.num_classes), float("nan"), device=logits.device)
        padded[:, : logits.shape[1]] = logits
        return padded

    def current_columns(self, task_id: int) -> list[int]:
        """The columns the current task's batch is scored on."""
        if self.scenario.kind == "class_incremental" and self.cfg.training.current_heads == "own":
            return self.scenario.task_columns[task_id]
        return self.scenario.active_columns()

    def current_losses(self, spikes: torch.Tensor, labels: torch.Tensor, task_id: int, mems=None) -> torch.Tensor:
        losses = count_loss(spikes, labels, self.current_columns(task_id), self.scenario.class_to_column)
        return losses + self.floor_losses(mems, labels)

    def floor_losses(self, mems: torch.Tensor | None, labels: torch.Tensor):
        """``training.silent_floor`` x ``losses.silent_floor`` per sample (0 when the floor is off);
        a strategy passes the output membranes wherever it scores a cross-entropy."""
        weight = self.cfg.training.silent_floor
        if not weight:
            return 0.0
        if mems is None:
            raise RuntimeError(
                f"training.silent_floor is set but {type(self).__name__} did not pass the output "
                "membranes to its loss: pass mems= to current_losses/replay_losses, or set training.silent_floor=0"
            )
        return weight * silent_floor(mems, labels, self.scenario.class_to_column, self.model.cfg.threshold)

    def _replayed_task_columns(self, task_id: int) -> list[int]:
        """The own-head columns of a replayed task, as the run's replay rules leave them
        (``quirks.task0_all_heads``: task 0's are every active column)."""
        columns = self.scenario.task_columns[task_id]
        for rule in self.replay_rules:
            columns = rule.replayed_columns(self.scenario, task_id, columns)
        return columns

    def replay_columns(self, task_ids: torch.Tensor) -> list[int]:
        """The columns replayed samples are scored on: every active one, or their own heads."""
        if self.scenario.kind == "class_incremental" and self.cfg.replay.heads == "own":
            return sorted({c for tid in task_ids.unique().tolist() for c in self._replayed_task_columns(tid)})
        return self.scenario.active_columns()

    def _scored_labels(self, labels: torch.Tensor, columns: list[int]) -> torch.Tensor:
        """The labels replayed samples are trained towards: their own, unless a replay rule says
        otherwise (``quirks.replay_label_remap``)."""
        for rule in self.replay_rules:
            labels = rule.replayed_labels(self.scenario, labels, columns)
        return labels

    def replay_losses(self, spikes: torch.Tensor, labels: torch.Tensor, task_ids: torch.Tensor, mems=None):
        """Per-sample loss of replayed samples, each on ``replay_columns``' rule."""
        return self._replay_count_losses(spikes, labels, task_ids) + self.floor_losses(mems, labels)

    def _replay_count_losses(self, spikes: torch.Tensor, labels: torch.Tensor, task_ids: torch.Tensor):
        scenario = self.scenario
        if scenario.kind == "class_incremental" and self.cfg.replay.heads == "own":
            losses = torch.empty(labels.shape[0], device=spikes.device, dtype=spikes.dtype)
            for tid in task_ids.unique().tolist():
                rows = (task_ids == tid).nonzero().flatten().to(spikes.device)
                columns = self._replayed_task_columns(tid)
                group = count_loss(
                    spikes.index_select(1, rows),
                    self._scored_labels(labels[rows.cpu()], columns),
                    columns,
                    scenario.class_to_column,
                )
                losses[rows] = group
            return losses
        columns = scenario.active_columns()
        return count_loss(spikes, self._scored_labels(labels, columns), columns, scenario.class_to_column)

    def replay_sample(self, count: int, task_id: int, names=None) -> dict | None:
        """``count`` stored samples (with ``replay.shift_pixels`` augmentation), or None if none are eligible."""
        rows = self.memory.sample(count, task_id, names)
        if rows is not None and self.cfg.replay.shift_pixels:
            rows["images"] = random_shift(rows["images"], self.cfg.replay.shift_pixels, self.memory.generator)
        return rows

    def replay_batch_size(self, batch: Batch) -> int:
        return self.cfg.replay.batch_size or batch.images.shape[0]
