"""The loop of an online stream (``stream.kind: online``): one pass of small batches over the
class-split tasks, the strategy never told a task id or a boundary (``Batch.task_id`` is None, and
its ``begin_task`` / ``end_task`` are never called).

The trainer alone knows where the hidden tasks end: there it scores a row of the accuracy matrix
and writes ``checkpoints/task_<i>.pt``; every ``stream.eval_every`` batches (with 0, at each task
end instead) it scores the tasks shown so far for the average along the stream; every
``stream.checkpoint_every`` batches (and at each task end) it writes ``checkpoints/stream.pt``,
from which a killed run resumes at the next batch with the same results as a run never stopped.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from rich.progress import Progress

from spikereplay.datasets import merge_tasks
from spikereplay.metrics import silent_outputs
from spikereplay.strategies import Batch
from spikereplay.streams.online import online_order
from spikereplay.trainer import RunState, Trainer, progress_enabled

STREAM_CHECKPOINT = "stream.pt"


class OnlineTrainer(Trainer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = online_order(self.stream, self.cfg.stream.blurry_samples, self.cfg.seed)
        self.all_x = torch.cat([task.train_x for task in self.stream])
        self.all_y = torch.cat([task.train_y for task in self.stream])
        self.whole = None  # the stream as one task: what the scenario and the optimizer are told

    def stream_checkpoint(self) -> Path:
        return self.run_dir / "checkpoints" / STREAM_CHECKPOINT

    def begin_stream(self) -> None:
        """The one head and optimizer group, set up once: the stream has no tasks to begin."""
        self.whole = merge_tasks(self.stream)
        new_params = self.scenario.begin_task(self.whole)
        self.optim.begin_task(new_params, self.order.num_batches(self.cfg.training.batch_size))

    def rebuild_structure(self, state: RunState) -> None:
        self.begin_stream()

    def fit(self, state: RunState | None = None, on_step_done=None) -> RunState:
        batch_size = self.cfg.training.batch_size
        stream_cfg = self.cfg.stream
        if state is None:
            state = RunState()
            self.begin_stream()
        self.model.train()
        ends = self.order.end_batches(batch_size)
        total = self.order.num_batches(batch_size)
        started = time.perf_counter()
        with Progress(disable=not progress_enabled(self.cfg.output.progress), transient=False) as bar:
            bar_id = bar.add_task("online stream", total=total, completed=state.batches_done)
            for b in range(state.batches_done, total):
                idx = self.order.samples[b * batch_size : (b + 1) * batch_size]
                where = f"batch {b + 1}/{total} of the online stream"
                terms = self.train_step(Batch(self.all_x[idx], self.all_y[idx], None), state, where)
                state.batches_done = b + 1
                bar.update(bar_id, advance=1, description=f"online loss {terms['loss']:.3f}")
                if state.iteration % self.cfg.training.log_every == 0:
                    self.write_log_row(self.whole, state.steps_done, 0, state, started)
                finished = [k for k, end in enumerate(ends) if end == b]
                if stream_cfg.eval_every and (state.batches_done % stream_cfg.eval_every == 0 or b + 1 == total):
                    state.stream_points.append([state.batches_done, self.seen_average(b)])
                for k in finished:
                    self.task_ended(k, state, started, on_step_done)
                    started = time.perf_counter()
                if finished or state.batches_done % stream_cfg.checkpoint_every == 0:
                    state.train_seconds += time.perf_counter() - started
                    started = time.perf_counter()
                    self.save_checkpoint(state, self.stream_checkpoint())
        return state

    def task_ended(self, k: int, state: RunState, started: float, on_step_done) -> None:
        """Hidden task ``k`` is done: score its row, keep a per-task checkpoint, report."""
        if state.log_count:
            self.write_log_row(self.whole, k, 0, state, started)
        row, ti_row = self.eval_row(k)
        state.matrix.append(row)
        state.ti_matrix.append(ti_row)
        state.silent_outputs.append(silent_outputs(self.last_silent))
        state.steps_done = k + 1
        if not self.cfg.stream.eval_every:  # no periodic points: one at each task end, on the same tasks
            state.stream_points.append([state.batches_done, self.seen_average(state.batches_done - 1)])
        state.train_seconds += time.perf_counter() - started
        self.save_checkpoint(state)
        if on_step_done is not None:
            on_step_done(state)

    def seen_average(self, batch: int) -> float:
        """Mean class-IL accuracy over the tasks that have shown at least one sample by ``batch``."""
        shown = self.order.samples[: (batch + 1) * self.cfg.training.batch_size]
        offsets = torch.tensor([task.train_y.shape[0] for task in self.stream]).cumsum(0)
        positions = torch.searchsorted(offsets, shown, right=True).unique().tolist()
        seen_ids = {covered for k in positions for covered in self.stream[k].covers}
        with self.scored_model():
            scores = [self.score_task(j)[0] for j, task in enumerate(self.eval_tasks) if task.task_id in seen_ids]
        return sum(scores) / len(scores)
