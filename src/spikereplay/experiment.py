"""One experiment, end to end: config -> data -> model/strategy -> Trainer -> run directory.

Run directory contents: config.yaml (resolved), metrics.json, train_log.csv,
checkpoints/task_<i>.pt and accuracy_history.png. metrics.json carries
``"complete": false`` until the last task is done, so a killed run never looks finished.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import torch

from spikereplay import io as atomic
from spikereplay.config import Config
from spikereplay.config_files import config_to_yaml
from spikereplay.datasets import dataset_info, load_dataset
from spikereplay.environment import make_cuda_deterministic, run_environment, versions
from spikereplay.errors import ConfigError, DataError
from spikereplay.loader import backbone_name, load_config
from spikereplay.memory import make_buffer
from spikereplay.metrics import (
    confusion_matrix,
    failed_steps,
    final_average_accuracy,
    forward_transfer,
    per_class_accuracy,
    silent_outputs,
    summarize,
)
from spikereplay.model import build_model, cpu_has_native_bf16, precision_warning, resolve_device
from spikereplay.online_trainer import STREAM_CHECKPOINT, OnlineTrainer
from spikereplay.optim import Optimization
from spikereplay.plots import accuracy_history, confusion_plot
from spikereplay.scenarios import Scenario
from spikereplay.strategies import resolve_strategy
from spikereplay.streams import build_stream
from spikereplay.streams.online import check_window
from spikereplay.trackers import Trackers
from spikereplay.trainer import RunState, Trainer, log_csv_text

# a finished run whose final accuracy is under chance + this many points is said to end at chance
CHANCE_MARGIN = 5.0


def check_device(name: str) -> None:
    device = resolve_device(name)
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise ConfigError(f"device {name!r} is not available here (CUDA devices: {torch.cuda.device_count()})")


def build_tasks(cfg: Config):
    """The training stream and the tasks scored after each step (joint: one merged task)."""
    arrays = load_dataset(cfg.data.dataset, cfg.data.root, download=cfg.data.download)
    stream, tasks = build_stream(cfg, arrays, joint=resolve_strategy(cfg.strategy).joint_stream)
    if cfg.stream.kind == "online":
        check_window(stream, cfg.stream.blurry_samples)  # before anything is written
    return stream, tasks


def build_trainer(cfg: Config, stream, eval_tasks, run_dir: Path) -> Trainer:
    """config -> model, scenario, optimizer, memory and strategy -> the trainer."""
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        make_cuda_deterministic()  # before the first CUDA kernel runs
    torch.manual_seed(cfg.seed)
    info = dataset_info(cfg.data.dataset)
    try:
        model = build_model(
            cfg.model,
            info.image_shape,
            info.num_classes,
            cfg.precision,
            cfg.quirks.stateless_steps,
            cfg.training.num_steps,
            backbone_name(cfg),
        ).to(device)
    except ValueError as exc:  # a backbone that does not fit: one line, before anything is written
        raise ConfigError(f"model.backbone: {exc}") from None
    scenario = Scenario(cfg.scenario, model, info.num_classes, cfg.training.mask_unseen_classes)
    strategy_class = resolve_strategy(cfg.strategy)
    memory = make_buffer(cfg, strategy_class) if strategy_class.needs_memory else None
    strategy = strategy_class(model, scenario, Optimization(model, cfg.training), cfg, device, memory)
    trainer_class = OnlineTrainer if cfg.stream.kind == "online" else Trainer
    return trainer_class(cfg, strategy, stream, eval_tasks, run_dir)


def likely_causes(cfg: Config, trainer: Trainer, silent: dict | None, task_aware: float | None = None) -> str:
    """What most often makes a task fail or a run end at chance, measured on this run
    (``task_aware``: the failed step's task-IL accuracy on the same classes, when known)."""
    causes = []
    if (
        task_aware is not None
        and task_aware >= 90
        and cfg.scenario == "class_incremental"
        and cfg.training.current_heads == "own"
    ):
        causes.append(
            f"the task's own outputs were learnt (task-IL {task_aware:.1f} %), but training.current_heads own "
            "never trains them against the earlier tasks' outputs on its data, so without a task id an earlier "
            "output often wins; replay or later tasks may repair it"
        )
    if silent and silent["silent_share"] is not None and silent["silent_share"] >= 50:
        causes.append(
            f"outputs fell silent: the true class's output fired no spike on {silent['silent_share']:.0f} % of "
            f"test samples (classes silent on all of theirs: {silent['silent_classes']})"
        )
    if cfg.training.lr >= 0.1:
        causes.append(f"training.lr {cfg.training.lr:g} is far above Adam's usual 1e-4..1e-2")
    warmup = warmup_problem(cfg, trainer.stream)
    if warmup:
        causes.append(warmup)
    if not causes:
        return "no usual cause found; metrics.json's silent_outputs and train_log.csv hold the data"
    return "likely cause: " + "; ".join(causes) + " (metrics.json: silent_outputs)"


def training_warnings(cfg: Config, trainer: Trainer, state: RunState) -> list[str]:
    """One line per training step that ended below 50 % on the classes it had just trained, and one
    if the finished run ends at chance, each naming its likely cause."""
    ids = [task.task_id for task in trainer.eval_tasks]
    step_tasks = [[ids.index(t) for t in task.covers if t in ids] for task in trainer.stream[: state.steps_done]]
    silent = state.silent_outputs

    def task_aware(step: int) -> float | None:
        row = state.ti_matrix[step - 1] if step <= len(state.ti_matrix) else []
        scores = [row[j] for j in step_tasks[step - 1] if j < len(row) and row[j] is not None]
        return sum(scores) / len(scores) if scores else None

    warnings = [
        f"after task {step}: {accuracy:.1f} % on the classes just trained (< 50 %); "
        + likely_causes(cfg, trainer, silent[step - 1] if step <= len(silent) else None, task_aware(step))
        for step, accuracy in failed_steps(state.matrix, step_tasks)
    ]
    if state.steps_done == len(trainer.stream) and state.matrix:
        classes = len({c for task in trainer.eval_tasks for c in task.classes})
        chance, final = 100.0 / classes, final_average_accuracy(state.matrix)
        # with the task given, chance is 1 / (classes per task): a run that forgot (naive) is still
        # well above it; one that learned nothing is not
        task_chance = 100.0 * len(trainer.eval_tasks) / classes
        task_aware = final_average_accuracy(state.ti_matrix)
        if final < chance + CHANCE_MARGIN and task_aware < task_chance + CHANCE_MARGIN:
            warnings.append(
                f"the run ended at chance: {final:.1f} % against {chance:.1f} % for guessing among {classes} "
                f"classes; " + likely_causes(cfg, trainer, silent[-1] if silent else None)
            )
    return warnings


def warmup_problem(cfg: Config, stream) -> str | None:
    """A warm-up longer than a task: the lr never reaches training.lr (a shrunken run of a full-size
    config: warmup_steps 300 against 17 iterations per task ended at 9 %)."""
    warmup = cfg.training.warmup_steps
    if not warmup or not stream:
        return None
    iterations = [
        task.batches_per_epoch(cfg.training.batch_size, cfg.quirks.drop_last) * cfg.training.epochs for task in stream
    ]
    shortest = min(iterations)
    if warmup < shortest:
        return None
    task = iterations.index(shortest) + 1
    return (
        f"training.warmup_steps {warmup} is not shorter than task {task}'s {shortest} iterations, so the lr "
        f"never reaches training.lr; set training.warmup_steps below {shortest} (e.g. {max(1, shortest // 10)})"
    )


def progress_lines(state: RunState, stream_length: int) -> list[str]:
    """The field's summary after a task: both averages, then the per-task row."""
    row = ", ".join("-" if v is None else f"{v:.1f}" for v in state.matrix[-1])
    return [
        f"Accuracy after task {state.steps_done}/{stream_length}: class-IL "
        f"{final_average_accuracy(state.matrix):.1f} % | task-IL {final_average_accuracy(state.ti_matrix):.1f} %",
        f"  per task, class-IL %: [{row}]",
    ]


def final_confusion(trainer: Trainer) -> dict:
    """The confusion matrix and per-class accuracy after the last task, classes in order of arrival."""
    last_step = len(trainer.stream) - 1
    if trainer.predictions_step != last_step:  # a finished run opened again: score its last step once more
        trainer.eval_row(last_step)
    labels = [v for truth, _ in trainer.last_predictions for v in truth.tolist()]
    predicted = [v for _, guess in trainer.last_predictions for v in guess.tolist()]
    classes = [c for task in trainer.eval_tasks for c in task.classes]
    confusion = confusion_matrix(labels, predicted, classes)
    return {"confusion": {"classes": classes, "matrix": confusion}, "per_class_accuracy": per_class_accuracy(confusion)}


def write_outputs(cfg: Config, trainer: Trainer, state: RunState, wall_seconds: float) -> dict:
    run_dir = trainer.run_dir
    complete = state.steps_done == len(trainer.stream)
    info = dataset_info(cfg.data.dataset)
    memory = trainer.strategy.memory
    metrics = {
        "complete": complete,
        "name": cfg.run_name,
        "scenario": cfg.scenario,
        "strategy": cfg.strategy,
        "seed": cfg.seed,
        "eval_split": cfg.data.eval_split,
        "batches_per_task": cfg.memory.batches_per_task if memory is not None else 0,
        "memory_policy": cfg.memory.resolved_policy if memory is not None else None,
        "buffer_size": len(memory) if memory is not None else 0,
        "buffer_bytes": memory.nbytes() if memory is not None else 0,
        "steps_done": state.steps_done,
        "num_steps_in_stream": len(trainer.stream),
        "task_classes": [list(t.classes) for t in trainer.eval_tasks],
        "task_labels": [info.task_label(j, t.classes) for j, t in enumerate(trainer.eval_tasks)],
        **summarize(state.matrix, state.ti_matrix),
        "forward_transfer": forward_transfer(state.ahead, state.initial_row) if cfg.training.forward_transfer else None,
        # per step: % of test samples whose true class's output fired no spike, and the classes whose
        # output was silent on all their samples (an output at 0 spikes gets ~no surrogate gradient)
        "silent_outputs": state.silent_outputs,
        **(stream_summary(state) if cfg.stream.kind == "online" else {}),
        "warnings": training_warnings(cfg, trainer, state),
        **(final_confusion(trainer) if complete else {}),
        "train_seconds": round(state.train_seconds, 2),
        "wall_seconds": round(wall_seconds, 2),
        "device": str(trainer.strategy.device),
        "versions": versions(),
        # what decides the bits besides the config (threads, CPU, versions): see spikereplay.environment
        "environment": run_environment(trainer.strategy.device, cfg),
    }
    atomic.write_text(run_dir / "train_log.csv", log_csv_text(state.log_rows))
    title = f"{cfg.run_name}: {cfg.strategy}, class-IL {final_average_accuracy(state.matrix):.1f} %"
    if not complete:
        title += f" after task {state.steps_done}/{len(trainer.stream)}"
    accuracy_history(state.matrix, metrics["task_labels"], run_dir / "accuracy_history.png", title=title)
    if complete:
        named = {**metrics["confusion"], "names": [info.class_name(c) for c in metrics["confusion"]["classes"]]}
        confusion_plot(named, run_dir / "confusion.png", title=title)
    atomic.write_json(run_dir / "metrics.json", metrics)
    return metrics


def stream_summary(state: RunState) -> dict:
    """An online run's accuracy along the stream: [batches, average over the seen tasks] at each
    evaluation point, and their mean (the anytime accuracy of Caccia et al. 2022)."""
    points = state.stream_points
    return {
        "batches_done": state.batches_done,
        "stream_accuracy": points,
        "stream_average_accuracy": sum(v for _, v in points) / len(points) if points else None,
    }


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, weights_only=False, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise DataError(
            f"checkpoint {path} is unreadable ({exc.__class__.__name__}); delete it to redo that task"
        ) from None


def restore(trainer: Trainer, path: Path) -> RunState:
    try:
        return trainer.restore(load_checkpoint(path))
    except (KeyError, RuntimeError, ValueError) as exc:  # a checkpoint of another model or version
        raise DataError(f"checkpoint {path} does not fit this run ({exc}); delete it to redo that task") from None


def task_checkpoints(run_dir: Path) -> list[Path]:
    """The per-task checkpoints of a run, in task order (other files are ignored)."""
    found = [p for p in (run_dir / "checkpoints").glob("task_*.pt") if re.fullmatch(r"task_\d+", p.stem)]
    return sorted(found, key=lambda p: int(p.stem.split("_")[1]))


def latest_checkpoint(run_dir: Path) -> Path | None:
    """Where a run resumes: an online run's mid-stream checkpoint (written at every task end too),
    else the last task's."""
    if (run_dir / "checkpoints" / STREAM_CHECKPOINT).exists():
        return run_dir / "checkpoints" / STREAM_CHECKPOINT
    found = task_checkpoints(run_dir)
    return found[-1] if found else None


# Settings that may change between a run and its resume: where data lives, where it runs,
# how fast, and what is logged or shown. Everything else decides the numbers.
RESUMABLE_CHANGES = {
    "data": ("root", "download"),
    "model": ("compile",),
    "training": ("log_every", "val_samples", "eval_batch_size"),
}


def _comparable(cfg: Config) -> dict:
    dump = cfg.model_dump(mode="json")
    dump.pop("device")
    dump.pop("output")
    dump.pop("name")  # a label: a sweep's runs keep their directory when its base config is renamed
    for section, keys in RESUMABLE_CHANGES.items():
        for key in keys:
            dump[section].pop(key)
    return dump


def prepare_run_dir(cfg: Config, overwrite: bool) -> Path:
    """Create the run directory, refusing to mix two different configs in one.

    The saved config is re-read through the current schema, so a field added
    later with a default does not stop an old run from resuming.
    """
    run_dir = cfg.run_dir
    saved = run_dir / "config.yaml"
    if saved.exists():
        try:
            same = _comparable(load_config(saved)) == _comparable(cfg)
        except ConfigError:
            same = False
        if not same and not overwrite:
            raise ConfigError(
                f"run directory {run_dir} holds a run with a different config; pick another "
                "output.run_name, or pass --overwrite to replace it"
            )
        if not same:
            shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_text(saved, config_to_yaml(cfg))
    return run_dir


def run_experiment(cfg: Config, overwrite: bool = False, log=print) -> dict:
    """Train (or resume) the run described by ``cfg``; return its metrics."""
    started = time.perf_counter()
    check_device(cfg.device)
    stream, eval_tasks = build_tasks(cfg)  # data errors surface before anything is written
    warmup = warmup_problem(cfg, stream)
    if warmup:
        raise ConfigError(warmup)
    # built before the run directory, so that a backbone that does not fit leaves nothing behind
    trainer = build_trainer(cfg, stream, eval_tasks, cfg.run_dir)
    run_dir = prepare_run_dir(cfg, overwrite)
    slow_precision = precision_warning(cfg.precision, resolve_device(cfg.device), cpu_has_native_bf16())
    if slow_precision:
        log(f"[{cfg.run_name}] warning: {slow_precision}")
    state = None
    checkpoint_path = latest_checkpoint(run_dir)
    if checkpoint_path is not None:
        state = restore(trainer, checkpoint_path)
        log(f"resuming {run_dir} after task {state.steps_done}/{len(stream)}")

    warned: list[str] = []
    trackers = Trackers(cfg.output.trackers, run_dir, cfg.model_dump(mode="json"), warn=log)
    trainer.on_log = lambda row: trackers.log(
        {f"train/{k}": v for k, v in row.items() if k not in ("task", "epoch", "iteration", "elapsed_s")},
        row["iteration"],
    )

    def on_step_done(step_state: RunState) -> None:
        metrics = write_outputs(cfg, trainer, step_state, time.perf_counter() - started)
        for line in progress_lines(step_state, len(stream)):
            log(f"[{cfg.run_name}] {line}")
        for warning in metrics["warnings"][len(warned) :]:
            log(f"[{cfg.run_name}] warning: {warning}")
            warned.append(warning)
        scores = {f"accuracy/task_{j + 1}": v for j, v in enumerate(step_state.matrix[-1])}
        scores["accuracy/average"] = metrics["average_accuracy"][-1]
        scores["accuracy/task_incremental_average"] = metrics["task_incremental_final_average_accuracy"]
        trackers.log(scores, step_state.steps_done, axis="task")

    try:
        state = trainer.fit(state, on_step_done=on_step_done)
    finally:
        trackers.close()
    return write_outputs(cfg, trainer, state, time.perf_counter() - started)


def evaluate_run(run_dir: Path, log=print, data_root: str | None = None) -> dict:
    """Re-score every saved per-task checkpoint of a run; rewrite its matrix and plot."""
    cfg = load_config(run_dir / "config.yaml", [f"data.root={data_root}"] if data_root else [])
    check_device(cfg.device)
    stream, eval_tasks = build_tasks(cfg)
    checkpoints = task_checkpoints(run_dir)
    if not checkpoints:
        raise ConfigError(f"no checkpoints in {run_dir / 'checkpoints'}: train the run first")
    state = RunState()
    for path in checkpoints:
        trainer = build_trainer(cfg, stream, eval_tasks, run_dir)
        saved = restore(trainer, path)
        row, ti_row = trainer.eval_row(saved.steps_done - 1)
        state.matrix.append(row)
        state.ti_matrix.append(ti_row)
        state.silent_outputs.append(silent_outputs(trainer.last_silent))
        state.steps_done, state.log_rows = saved.steps_done, saved.log_rows
        state.train_seconds, state.iteration = saved.train_seconds, saved.iteration
        # an online run's points along the stream are not re-scored: they were taken between checkpoints
        state.batches_done, state.stream_points = saved.batches_done, saved.stream_points
        log(f"checkpoint {path.name}: accuracy % = {[None if v is None else round(v, 2) for v in row]}")
    return write_outputs(cfg, trainer, state, 0.0)
