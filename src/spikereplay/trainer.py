"""The one training loop: every strategy, and joint training (a one-task stream), runs through
``Trainer.fit``.

For each task of the stream: the scenario and the optimizer grow their structure, the strategy's
``observe`` takes every step, its ``end_task`` runs (then weight aligning, if asked). Every task
seen so far is then scored on its test split (row i of the accuracy matrix), and a checkpoint is
written that holds everything needed to resume from there: model, optimizer, scenario, strategy
(memory included), RNG states, the matrix rows and the training log.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.progress import Progress

from spikereplay import io as atomic
from spikereplay.datasets import TaskData
from spikereplay.errors import DivergedError
from spikereplay.hooks import make_hooks
from spikereplay.metrics import silent_outputs
from spikereplay.model import predict
from spikereplay.strategies import Batch

LOG_FIELDS = ["task", "epoch", "iteration", "loss", "val_accuracy", "elapsed_s"]  # then any other loss terms
EVAL_SEED_OFFSET = 1_000_003  # evaluation draws its spikes from its own seeded stream


@dataclass
class RunState:
    steps_done: int = 0
    iteration: int = 0
    matrix: list = field(default_factory=list)  # class-incremental (or task-free) accuracy, %
    ti_matrix: list = field(default_factory=list)  # task-incremental accuracy, %
    log_rows: list = field(default_factory=list)
    train_seconds: float = 0.0
    # training.forward_transfer: every task's accuracy before any training, and task i+1's after step i
    initial_row: list = field(default_factory=list)
    ahead: list = field(default_factory=list)
    # per step: the share of test samples whose true class's output fired no spike, and the classes
    # whose output fired on none of their test samples (metrics.silent_outputs)
    silent_outputs: list = field(default_factory=list)
    # the loss terms summed since the last log row, and how many iterations they hold
    log_sums: dict = field(default_factory=dict)
    log_count: int = 0
    # online streams: batches trained, and [batches, average accuracy on the seen tasks] at each
    # evaluation point along the stream
    batches_done: int = 0
    stream_points: list = field(default_factory=list)


def progress_enabled(wanted: bool) -> bool:
    return wanted and sys.stderr.isatty() and os.environ.get("CI", "").lower() not in ("true", "1")


@torch.inference_mode()
def evaluate(
    strategy,
    images,
    labels,
    task_classes,
    batch_size: int,
    seed: int,
    predictions: list | None = None,
    silent: list | None = None,
):
    """Accuracy (%) over all outputs (no task id), and task-incremental accuracy
    (%) with the prediction restricted to ``task_classes``' columns. The class-IL predicted classes
    are appended to ``predictions`` when one is given, and to ``silent``, per sample, whether the
    true class's own output fired no spike at all (an output at 0 spikes gets almost no surrogate
    gradient, so it tends to stay silent)."""
    if images.shape[0] == 0:
        return float("nan"), float("nan")
    scenario = strategy.scenario
    to_class = scenario.column_classes()
    active = torch.tensor(scenario.active_columns())
    to_class = to_class[active]  # position among the active outputs -> class
    own_columns = torch.tensor(scenario.columns_of(task_classes))
    own_classes = torch.tensor(task_classes)
    device = strategy.device
    ties_to_lowest = strategy.cfg.quirks.ties_lowest_index
    was_training = strategy.model.training
    strategy.model.eval()
    correct = correct_ti = 0
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for start in range(0, images.shape[0], batch_size):
            spikes, mems = strategy.outputs(images[start : start + batch_size])
            spikes, mems = spikes.cpu(), mems.cpu()
            truth = labels[start : start + batch_size]
            predicted = to_class[predict(spikes[..., active], mems[..., active], ties_to_lowest)]
            correct += int((predicted == truth).sum())
            if predictions is not None:
                predictions.append(predicted)
            if silent is not None:
                true_columns = scenario.class_to_column[truth]
                silent.append(spikes.sum(0).gather(1, true_columns.unsqueeze(1)).squeeze(1) == 0)
            own = predict(spikes[..., own_columns], mems[..., own_columns], ties_to_lowest)
            correct_ti += int((own_classes[own] == truth).sum())
    strategy.model.train(was_training)
    return 100.0 * correct / images.shape[0], 100.0 * correct_ti / images.shape[0]


def trained_tasks(stream: list[TaskData], step: int) -> set[int]:
    """The eval task ids whose stream positions have been trained by ``step`` (0-based): a task is
    seen when its place in the stream is, not when its classes are (domain streams repeat them)."""
    return {covered for task in stream[: step + 1] for covered in task.covers}


def log_csv_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    terms = [key for row in rows for key in row if key not in LOG_FIELDS]
    writer = csv.DictWriter(buffer, fieldnames=LOG_FIELDS + list(dict.fromkeys(terms)))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def upgrade_checkpoint(checkpoint: dict) -> dict:
    """A checkpoint from before the strategies layout: the optimizer and the seen classes were kept
    in the strategy's state."""
    if "optimizer" in checkpoint:
        return checkpoint
    strategy = dict(checkpoint["strategy"])
    optimizer = strategy.pop("optimizer")
    scenario = {"seen_classes": strategy.pop("seen_classes", [])}
    return {**checkpoint, "optimizer": optimizer, "scenario": scenario, "strategy": strategy}


class Trainer:
    def __init__(self, cfg, strategy, stream: list[TaskData], eval_tasks: list[TaskData], run_dir: Path):
        self.cfg = cfg
        self.strategy = strategy
        self.scenario, self.optim, self.model = strategy.scenario, strategy.optim, strategy.model
        self.stream = stream
        self.eval_tasks = eval_tasks
        self.run_dir = Path(run_dir)
        self.shuffle_generator = torch.Generator().manual_seed(cfg.seed)
        self.last_predictions: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.predictions_step: int | None = None  # the step whose row last_predictions holds
        self.last_silent: list[tuple[torch.Tensor, torch.Tensor]] = []  # (labels, true output silent) per task
        self.on_log = None  # called with each training-log row as it is written (trackers)
        self.hooks = make_hooks(cfg, strategy.joint_stream)  # weight aligning, the published code's quirks

    # -- checkpoints -------------------------------------------------------
    def checkpoint_path(self, step: int) -> Path:
        return self.run_dir / "checkpoints" / f"task_{step + 1}.pt"

    def save_checkpoint(self, state: RunState, path: Path | None = None) -> None:
        if not self.cfg.output.checkpoints:
            return
        atomic.save_torch(
            path or self.checkpoint_path(state.steps_done - 1),
            {
                "run_state": state.__dict__,
                "model": self.model.state_dict(),
                "optimizer": self.optim.state_dict(),
                "scenario": self.scenario.state_dict(),
                "strategy": self.strategy.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "shuffle_rng": self.shuffle_generator.get_state(),
                "scored_model": None,  # the snapshot hook's key (quirks.snapshot_every): None without it
                **{hook.checkpoint_key: hook.state_dict() for hook in self.hooks if hook.checkpoint_key},
            },
        )

    def restore(self, checkpoint: dict) -> RunState:
        """Rebuild heads and optimizer groups for the finished steps, then load their state."""
        checkpoint = upgrade_checkpoint(checkpoint)
        state = RunState(**checkpoint["run_state"])
        self.rebuild_structure(state)
        self.model.load_state_dict(checkpoint["model"])
        self.optim.load_state_dict(checkpoint["optimizer"])
        self.scenario.load_state_dict(checkpoint["scenario"])
        self.strategy.load_state_dict(checkpoint["strategy"])
        torch.set_rng_state(checkpoint["torch_rng"])
        if checkpoint.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["cuda_rng"])
        self.shuffle_generator.set_state(checkpoint["shuffle_rng"])
        for hook in self.hooks:
            if hook.checkpoint_key:
                hook.load_state_dict(checkpoint.get(hook.checkpoint_key))
        return state

    def rebuild_structure(self, state: RunState) -> None:
        """The heads and optimizer groups of the finished steps, before their state is loaded."""
        for task in self.stream[: state.steps_done]:
            self.begin_task(task)

    # -- the loop ----------------------------------------------------------
    def score_task(self, j: int, predictions: list | None = None, silent: list | None = None) -> tuple[float, float]:
        """Class-IL and task-IL accuracy on eval task ``j`` now, on its own seeded evaluation stream."""
        task = self.eval_tasks[j]
        return evaluate(
            self.strategy,
            task.test_x,
            task.test_y,
            task.classes,
            self.cfg.training.eval_batch_size,
            self.cfg.seed + EVAL_SEED_OFFSET + j,
            predictions,
            silent,
        )

    def eval_row(self, step: int) -> tuple[list, list]:
        """Accuracies on the eval tasks whose stream positions have been trained by ``step``; the class-IL
        predictions of this row are kept in ``last_predictions`` as (labels, predicted classes)."""
        with self.scored_model():
            return self._eval_row(step)

    def weights_copy(self) -> dict:
        return {name: value.detach().clone() for name, value in self.model.state_dict().items()}

    @contextlib.contextmanager
    def scored_model(self):
        """The model as scored: the live one, or the weights a hook gives (``quirks.snapshot_every``)."""
        scored = next((weights for hook in self.hooks if (weights := hook.scored_weights()) is not None), None)
        if scored is None:
            yield
            return
        live = self.weights_copy()
        self.model.load_state_dict(scored)
        try:
            yield
        finally:
            self.model.load_state_dict(live)

    def _eval_row(self, step: int) -> tuple[list, list]:
        trained = trained_tasks(self.stream, step)
        row, ti_row = [], []
        self.last_predictions, self.predictions_step = [], step
        self.last_silent = []
        for j, task in enumerate(self.eval_tasks):
            if task.task_id in trained:
                predicted: list = []
                silent: list = []
                acc, ti_acc = self.score_task(j, predicted, silent)
                if predicted:
                    self.last_predictions.append((task.test_y, torch.cat(predicted)))
                    self.last_silent.append((task.test_y, torch.cat(silent)))
                row.append(acc)
                ti_row.append(ti_acc)
            else:
                row.append(None)
                ti_row.append(None)
        for hook in self.hooks:
            row = hook.eval_row(self, step, row)
        return row, ti_row

    def validation_accuracy(self, task: TaskData) -> float:
        """``quirks.diagonal_from_val``: the task's validation accuracy as the published table's
        diagonal holds it, task-aware (own head) in class-incremental runs."""
        accuracy, task_aware = evaluate(
            self.strategy,
            task.val_x,
            task.val_y,
            task.classes,
            self.cfg.training.eval_batch_size,
            self.cfg.seed + EVAL_SEED_OFFSET,
        )
        return task_aware if self.scenario.kind == "class_incremental" else accuracy

    def steps_per_epoch(self, task: TaskData) -> int:
        return task.batches_per_epoch(self.cfg.training.batch_size, self.cfg.quirks.drop_last)

    def begin_task(self, task: TaskData) -> None:
        """Structure only (resume replays it): the scenario's head, its optimizer group, the lr schedule."""
        new_params = self.scenario.begin_task(task)
        training = self.cfg.training
        self.optim.begin_task(new_params, self.steps_per_epoch(task) * training.epochs)
        self.strategy.begin_task(task)

    def end_task(self, task: TaskData, step: int) -> None:
        # hooks first (weight aligning): snapshots taken at the task's end (teacher, anchors) are of
        # the model that is scored
        for hook in self.hooks:
            hook.task_trained(self, task, step)
        self.strategy.end_task(task)

    def fit(self, state: RunState | None = None, on_step_done=None) -> RunState:
        state = state or RunState()
        self.model.train()
        with Progress(disable=not progress_enabled(self.cfg.output.progress), transient=False) as bar:
            for step in range(state.steps_done, len(self.stream)):
                task = self.stream[step]
                started = time.perf_counter()
                self.begin_task(task)
                forward = self.cfg.training.forward_transfer
                if forward and step == 0:  # the untrained network (its head exists now), GEM's b_i
                    state.initial_row = [self.score_task(j)[0] for j in range(len(self.eval_tasks))]
                self.train_task(task, step, state, bar, started)
                self.end_task(task, step)
                row, ti_row = self.eval_row(step)
                if forward and step + 1 < len(self.eval_tasks):
                    state.ahead.append(self.score_task(step + 1)[0])
                state.matrix.append(row)
                state.ti_matrix.append(ti_row)
                state.silent_outputs.append(silent_outputs(self.last_silent))
                state.steps_done = step + 1
                state.train_seconds += time.perf_counter() - started
                self.save_checkpoint(state)
                if on_step_done is not None:
                    on_step_done(state)
        return state

    def train_task(self, task: TaskData, step: int, state: RunState, bar, started: float) -> None:
        training = self.cfg.training
        n = task.train_x.shape[0]
        bar_id = bar.add_task(f"task {step + 1}/{len(self.stream)}", total=self.steps_per_epoch(task) * training.epochs)
        state.log_sums, state.log_count = {}, 0
        for hook in self.hooks:
            hook.task_started(self, task, step)
        end = self.steps_per_epoch(task) * training.batch_size
        for epoch in range(training.epochs):
            self.strategy.before_epoch(task)
            order = torch.randperm(n, generator=self.shuffle_generator)
            for start in range(0, end, training.batch_size):
                idx = order[start : start + training.batch_size]
                images = task.train_x[idx]
                for hook in self.hooks:
                    images = hook.training_images(self, images)
                where = f"task {step + 1}, epoch {epoch + 1}"
                terms = self.train_step(Batch(images, task.train_y[idx], task.task_id), state, where)
                for hook in self.hooks:
                    hook.after_iteration(self, start // training.batch_size)
                bar.update(bar_id, advance=1, description=f"task {step + 1} ep {epoch + 1} loss {terms['loss']:.3f}")
                if state.iteration % training.log_every == 0:
                    self.write_log_row(task, step, epoch, state, started)
        if state.log_count and not (state.log_rows and state.log_rows[-1]["task"] == step + 1):
            # a task shorter than training.log_every still gets one row, so every task leaves data
            self.write_log_row(task, step, training.epochs - 1, state, started)

    def train_step(self, batch: Batch, state: RunState, where: str) -> dict[str, float]:
        """One step of the strategy on ``batch``, its loss terms added to the log sums; a non-finite
        loss stops the run (``where`` names the place in the stream)."""
        self.scenario.observe_labels(batch.labels)
        terms = self.strategy.observe(batch)
        if not math.isfinite(terms["loss"]):
            raise DivergedError(
                f"non-finite loss ({terms['loss']}) at {where}, iteration {state.iteration + 1}: the run stops; "
                f"its checkpoints up to task {state.steps_done} are kept (a lower training.lr usually helps)"
            )
        for name, value in terms.items():
            state.log_sums[name] = state.log_sums.get(name, 0.0) + value
        state.log_count += 1
        state.iteration += 1
        return terms

    def write_log_row(self, task, step, epoch, state: RunState, started) -> None:
        means = {name: total / state.log_count for name, total in state.log_sums.items()}
        state.log_rows.append(self._log_row(task, step, epoch, state, means, started))
        if self.on_log is not None:
            self.on_log(state.log_rows[-1])
        state.log_sums, state.log_count = {}, 0

    def _log_row(self, task, step, epoch, state, mean_terms: dict, started) -> dict:
        val_acc = None
        if self.cfg.training.val_samples > 0 and task.val_x.shape[0] > 0:
            k = self.cfg.training.val_samples
            val_acc, _ = evaluate(
                self.strategy,
                task.val_x[:k],
                task.val_y[:k],
                task.classes,
                self.cfg.training.eval_batch_size,
                self.cfg.seed + EVAL_SEED_OFFSET,
            )
            val_acc = round(val_acc, 2)
        return {
            "task": step + 1,
            "epoch": epoch + 1,
            "iteration": state.iteration,
            "loss": round(mean_terms.pop("loss"), 5),
            "val_accuracy": val_acc,
            "elapsed_s": round(state.train_seconds + time.perf_counter() - started, 2),
            **{name: round(value, 5) for name, value in mean_terms.items()},
        }
