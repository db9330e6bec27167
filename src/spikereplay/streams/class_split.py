"""``class_split``: one task per group of ``data.class_order`` (Split MNIST: [[0, 1], [2, 3], ...])."""

from __future__ import annotations

from spikereplay.datasets import ImageArrays, TaskData, split_tasks
from spikereplay.streams.registry import register_stream


@register_stream("class_split")
def build_tasks(cfg, arrays: ImageArrays) -> list[TaskData]:
    data = cfg.data
    return split_tasks(arrays, data.class_order, data.val_fraction, cfg.seed, data.train_per_class, data.test_per_class)
