"""``online``: the class-split tasks as one pass of small batches, with no task id or boundary
given to the strategy (online continual learning; Aljundi et al. 2019, Caccia et al. 2022).

The samples of each task are shuffled (seeded) and the tasks follow one another. With
``stream.blurry_samples`` = W > 0, the W samples around each hidden boundary (the last W//2 of the
task and the first W - W//2 of the next) are interleaved: at position p of the window the next
task's sample comes with probability about (p + 1/2) / W, rising linearly from 0 to 1 (blurry task
boundaries; Aljundi et al. 2019's "blurry" setting, Koh et al. 2022). Each sample of the window
draws a time t in [0, 1), the leaving task's with density 2 (1 - t) and the arriving task's with
density 2 t, and the window is ordered by time: at time t the next task's share is
2t / (2t + 2 (1 - t)) = t, and the times fill [0, 1) evenly. The window's counts are fixed, so
windows never overlap and every sample comes once.

The accuracy matrix is scored at the hidden task ends (after the batch holding each task's last
sample), and the tasks that have shown a sample are scored every ``stream.eval_every`` batches (0: at
each hidden task end) for the average along the stream (the anytime accuracy of Caccia et al. 2022).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spikereplay.datasets import TaskData
from spikereplay.errors import ConfigError
from spikereplay.streams.class_split import build_tasks
from spikereplay.streams.registry import register_stream

# the online stream's tasks are the class-split ones; the trainer passes over them once
# (spikereplay.online_trainer), in the order online_order draws
register_stream("online")(build_tasks)

ORDER_SEED_OFFSET = 31_337  # the stream's order has its own seeded draws


@dataclass
class OnlineOrder:
    """The pass over the stream: global sample indices into the tasks' concatenated training data,
    and the position of each task's last sample."""

    samples: torch.Tensor  # (N,) indices into torch.cat([task.train_x for task in tasks])
    task_ends: list[int]

    def end_batches(self, batch_size: int) -> list[int]:
        """The batch (0-based) after which each task is done."""
        return [end // batch_size for end in self.task_ends]

    def num_batches(self, batch_size: int) -> int:
        return -(-self.samples.shape[0] // batch_size)


def check_window(tasks: list[TaskData], window: int) -> None:
    """A blurry window must fit inside every task, so that windows never overlap."""
    smallest = min(task.train_y.shape[0] for task in tasks)
    if window > smallest:
        raise ConfigError(
            f"stream.blurry_samples {window} is larger than a task ({smallest} training samples in the "
            f"smallest): set it to at most {smallest}"
        )


def online_order(tasks: list[TaskData], window: int, seed: int) -> OnlineOrder:
    """The seeded one-pass order of ``tasks``' training samples, hard or blurry at the boundaries."""
    if window:
        check_window(tasks, window)
    generator = torch.Generator().manual_seed(seed + ORDER_SEED_OFFSET)
    offsets = [0]
    for task in tasks:
        offsets.append(offsets[-1] + task.train_y.shape[0])
    queues = [offsets[k] + torch.randperm(task.train_y.shape[0], generator=generator) for k, task in enumerate(tasks)]
    pieces: list[torch.Tensor] = []
    ends: list[int] = []
    position = 0
    carried = queues[0]  # the part of the current task not yet placed
    for k in range(len(tasks)):
        if k + 1 == len(tasks) or not window:
            pieces.append(carried)
            position += carried.shape[0]
            ends.append(position - 1)
            if k + 1 < len(tasks):
                carried = queues[k + 1]
            continue
        tail, head = window // 2, window - window // 2
        plain, leaving = carried[: carried.shape[0] - tail], carried[carried.shape[0] - tail :]
        arriving, rest = queues[k + 1][:head], queues[k + 1][head:]
        times = torch.cat(
            [1 - torch.rand(tail, generator=generator).sqrt(), torch.rand(head, generator=generator).sqrt()]
        )
        by_time = times.argsort(stable=True)
        mixed = torch.cat([leaving, arriving])[by_time]
        last_of_task = int((by_time < tail).nonzero().max()) if tail else -1
        pieces += [plain, mixed]
        ends.append(position + plain.shape[0] + last_of_task)
        position += plain.shape[0] + mixed.shape[0]
        carried = rest
    return OnlineOrder(torch.cat(pieces), ends)
