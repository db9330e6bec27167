"""How replayed samples are scored, where the published code differed from correct replay: rules a
strategy applies to each replayed group, in place of branches in ``strategies/base.py``.

- ``replayed_columns(scenario, task_id, columns)``: the output columns a replayed task is scored on;
- ``replayed_labels(scenario, labels, columns)``: the labels it is trained towards;
- ``replay_optimizer(strategy, current)``: the optimizer of the separate replay pass for the next
  task (None: a fresh Adam over every parameter, the correct rule).

``replay_rules(cfg)`` gives a run's rules (none unless a ``quirks.*`` switch asks for one).
"""

from __future__ import annotations

import torch


class ReplayRule:
    def replayed_columns(self, scenario, task_id: int, columns: list[int]) -> list[int]:
        return columns

    def replayed_labels(self, scenario, labels: torch.Tensor, columns: list[int]) -> torch.Tensor:
        return labels

    def replay_optimizer(self, strategy, current):
        return None


class ReplayOptimizerOnce(ReplayRule):
    """``quirks.replay_optimizer_once``: the published code made the replay pass's Adam once, before
    the first task's head existed, so in class-incremental runs it holds the backbone only and
    replay never updates a head; it then keeps its moments across tasks."""

    def replay_optimizer(self, strategy, current):
        if current is not None:
            return current
        params = list(strategy.model.parameters())
        if strategy.scenario.kind == "class_incremental":
            heads = {id(p) for p in strategy.model.heads.parameters()}
            params = [p for p in params if id(p) not in heads]
        return torch.optim.Adam(params, lr=strategy.cfg.replay.lr, betas=strategy.cfg.training.betas)


class Task0AllHeads(ReplayRule):
    """``quirks.task0_all_heads``: the published code's ``if task_idx:`` is false for task 0, so task
    0's replayed samples are scored on every active column, not on its own head."""

    def replayed_columns(self, scenario, task_id: int, columns: list[int]) -> list[int]:
        return scenario.active_columns() if task_id == 0 else columns


class ReplayLabelRemap(ReplayRule):
    """``quirks.replay_label_remap``: the published code remapped replayed labels with the current
    task's first class: position 0 of ``columns`` if the label is that class, else position 1, so
    every replayed sample gets position 1."""

    def replayed_labels(self, scenario, labels: torch.Tensor, columns: list[int]) -> torch.Tensor:
        position = (labels != scenario.current_classes[0]).long()
        return scenario.column_classes()[torch.tensor(columns)[position]]


def replay_rules(cfg) -> list[ReplayRule]:
    """The rules a config asks for."""
    rules: list[ReplayRule] = []
    if cfg.quirks.replay_optimizer_once:
        rules.append(ReplayOptimizerOnce())
    if cfg.quirks.task0_all_heads:
        rules.append(Task0AllHeads())
    if cfg.quirks.replay_label_remap:
        rules.append(ReplayLabelRemap())
    return rules
