"""Streams: how a dataset's samples arrive (``stream.kind``), one small file each.

A stream turns the dataset's arrays into the training stream (a list of ``TaskData``, trained in
order) and the eval tasks (scored after each training step, and at the hidden task ends of an
online stream). A task counts as seen when its stream position has been trained
(``TaskData.covers``), never by its classes, so streams whose tasks share classes score correctly.
"""

from __future__ import annotations

import dataclasses

from spikereplay.datasets import ImageArrays, TaskData, merge_tasks
from spikereplay.errors import ConfigError

# importing a stream's module registers it (@register_stream) in TASK_BUILDERS, kind -> the function
# building its tasks; online streams are class-split tasks in one pass (online.py orders their samples)
from spikereplay.streams import class_split, domain, online  # noqa: F401
from spikereplay.streams.registry import TASK_BUILDERS, register_stream


def build_stream(cfg, arrays: ImageArrays, joint: bool = False) -> tuple[list[TaskData], list[TaskData]]:
    """The training stream and the eval tasks of ``cfg`` (``joint``: every task merged into one)."""
    tasks = TASK_BUILDERS[cfg.stream.kind](cfg, arrays)
    stream = [merge_tasks(tasks)] if joint else tasks
    if cfg.data.eval_split == "val":
        empty = [task.task_id + 1 for task in tasks if task.val_y.shape[0] == 0]
        if empty:  # a task scored on no sample has no accuracy, and every average over it is NaN
            raise ConfigError(
                f"data.eval_split val: task(s) {empty} have no validation samples at data.val_fraction "
                f"{cfg.data.val_fraction}: raise data.val_fraction or data.train_per_class"
            )
        tasks = [dataclasses.replace(task, test_x=task.val_x, test_y=task.val_y) for task in tasks]
    return stream, tasks


__all__ = ["TASK_BUILDERS", "build_stream", "register_stream"]
