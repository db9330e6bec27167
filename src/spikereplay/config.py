"""Experiment configuration: a validated pydantic model loaded from YAML.

Every field has the seed protocol's value as its default, so a config file only
states what differs. Unknown keys, wrong types and impossible values are
refused with one message naming the key.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spikereplay.quirks import QuirksConfig, quirk_conflict

DEFAULT_CLASS_ORDER = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]


class Section(BaseModel):
    # inf and nan are refused for every float key: a run with lr=inf would go on to report chance accuracy.
    # Numeric keys have upper bounds far above any use, so that a value too large for the arithmetic
    # (training.lr=1e38 overflowed inside Adam) or the memory (num_steps=1e9) is one line, not a traceback
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class DataConfig(Section):
    dataset: str = "mnist"  # a name registered in spikereplay.datasets
    root: str | None = None  # explicit data directory; None = search (see datasets.mnist.resolve_mnist_dir)
    class_order: list[list[int]] = Field(default_factory=lambda: copy.deepcopy(DEFAULT_CLASS_ORDER))
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    train_per_class: int | None = Field(None, gt=0, le=10_000_000)  # subsample for quick runs and tests
    test_per_class: int | None = Field(None, gt=0, le=10_000_000)
    download: bool = True
    # the split each task is scored on after every step: "val" for hyperparameter searches, never "test"
    eval_split: Literal["test", "val"] = "test"

    @field_validator("class_order")
    @classmethod
    def _classes_valid(cls, order: list[list[int]]) -> list[list[int]]:
        flat = [c for task in order for c in task]
        if not order or any(not task for task in order):
            raise ValueError("needs at least one task, each with at least one class")
        if any(c < 0 for c in flat):
            raise ValueError(f"classes are label indices >= 0, got {flat}")
        if len(set(flat)) != len(flat):
            raise ValueError(f"a class appears in more than one task: {order}")
        return order


class StreamConfig(Section):
    """How the data arrives (``spikereplay.streams``).

    - ``class_split``: one task per group of ``data.class_order``, trained for ``training.epochs``
      each, the boundaries known to the strategy;
    - ``domain``: ``num_tasks`` tasks with every class, each under its own fixed input transform
      (``permute``: Permuted MNIST, the first task unpermuted; ``rotate``: Rotated MNIST, task i at
      i * max_angle / num_tasks degrees);
    - ``online``: the class-split tasks as one pass of small batches; the strategy is never told a
      task id or a boundary. The accuracy matrix is still scored at the hidden task ends.
    """

    kind: str = "class_split"  # a name registered in spikereplay.streams
    transform: Literal["permute", "rotate"] = "permute"
    num_tasks: int = Field(10, ge=1, le=100)
    max_angle: float = Field(180.0, gt=0.0, le=360.0)
    # online: over this many samples around each hidden boundary, the next task's samples replace the
    # current one's with a probability rising linearly from 0 to 1 (blurry boundaries; 0 = hard)
    blurry_samples: int = Field(0, ge=0, le=10_000_000)
    # online: a checkpoint every this many batches, so a killed run resumes mid-stream exactly
    checkpoint_every: int = Field(500, gt=0, le=10**9)
    # online: every this many batches, the tasks shown so far are scored for the average along the stream
    # (0 = at the hidden task ends only)
    eval_every: int = Field(1000, ge=0, le=10**9)


class EncodingConfig(Section):
    kind: Literal["rate_conv", "rate", "direct"] = "rate_conv"
    gain: float = Field(1.0, gt=0.0, le=1.0)


class ModelConfig(Section):
    # a registered backbone (spikereplay.backbones: conv, mlp) or an import path "package.module:Class"
    # to an snnTorch module of your own mapping [T, B, ...] to spikes [T, B, F]; None: the dataset's
    # default backbone (conv for MNIST and Fashion-MNIST)
    backbone: str | None = None
    # the backbone's own settings (mlp: hidden sizes), checked against its Params, or the keyword
    # arguments of your own module's constructor
    backbone_params: dict[str, Any] = Field(default_factory=dict)
    beta: float = Field(0.99, ge=0.0, le=1.0)
    threshold: float = Field(1.0, gt=0.0, le=1e3)
    reset_mechanism: Literal["subtract", "zero", "none"] = "subtract"
    reset_delay: bool = True
    surrogate: Literal["fast_sigmoid", "atan", "sigmoid"] = "fast_sigmoid"
    surrogate_slope: float = Field(25.0, gt=0.0, le=1e4)  # slope (fast_sigmoid, sigmoid) or alpha (atan)
    engine: Literal["fused", "textbook"] = "fused"
    compile: bool = False  # fused engine: torch.compile the membrane time loop (one-off ~20-40 s per process)
    # fused engine: torch.compile the whole forward (and so its backward), a few graphs per process
    # (grad mode, batch shape). Faster than ``compile`` (spikereplay bench: "+ compile forward") but
    # not bit-identical: inductor sums some gradients in another order, so unlike ``compile`` it
    # decides the numbers and cannot change on resume.
    compile_forward: bool = False
    # zero: every new head starts silent (weights and bias 0), so a class-incremental head joins
    # without out-firing the old heads on old images; kaiming is PyTorch's nn.Linear default
    head_init: Literal["kaiming", "zero"] = "kaiming"


class TrainingConfig(Section):
    num_steps: int = Field(30, gt=0, le=10_000)
    batch_size: int = Field(16, gt=0, le=65_536)
    epochs: int = Field(5, gt=0, le=10_000)
    # bounded: Adam trains with 1e-4..1e-2, 1e3 already drives a run to chance, and near 1e38 the lr
    # overflows float32 inside Adam's step (a traceback instead of this one-line refusal)
    lr: float = Field(1e-3, gt=0.0, le=1e3)
    # cosine: within each task, lr decays from ``lr`` to 0 over its epochs (restarting at the next task)
    lr_schedule: Literal["constant", "cosine"] = "constant"
    # lr rises linearly from lr/warmup_steps to lr over the first steps of every task (0 = off);
    # with cosine, the decay spans the task's remaining steps
    warmup_steps: int = Field(0, ge=0, le=10**9)
    # Adam's moments restart at each task. Tried against the cosine's collapse at task 2 (a task ending
    # at near-zero loss leaves tiny second moments); it did not help, the warm-up did (results/probes/cosine-fixes)
    reset_optimizer_per_task: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    # the main optimizer: Adam (every result so far), or plain SGD with momentum, the optimizer of
    # A-GEM's and GEM's papers (Chaudhry et al. 2019): under Adam a projected step is rescaled per
    # parameter, so it no longer keeps g . g_ref >= 0 (issue 23: A-GEM under Adam silenced a column)
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: float = Field(0.0, ge=0.0, lt=1.0)  # sgd only
    eval_batch_size: int = Field(
        64, gt=0, le=65_536
    )  # T x batch activations must stay in cache: 64 measured fastest on CPU
    log_every: int = Field(200, gt=0, le=10**9)  # iterations between CSV log rows (with val accuracy)
    val_samples: int = Field(200, ge=0, le=10_000_000)  # val samples scored at each log row (0 = skip)
    # Which heads see the current task's batch in class-incremental training:
    # "own" = its task head with task-local labels (the seed); "all" = every head so far.
    current_heads: Literal["own", "all"] = "own"
    # Task-free: the loss and the prediction use only the outputs of classes whose labels the stream
    # has shown so far (no task id needed), so future classes' outputs are not trained to be silent.
    # Class-incremental heads only ever hold seen classes, so there it changes nothing.
    mask_unseen_classes: bool = False
    # task-free: also score each task before it is trained, for forward transfer (Lopez-Paz & Ranzato 2017)
    forward_transfer: bool = False

    # weight of the silent-output floor (losses.silent_floor) added to every cross-entropy term on
    # spike counts: relu(threshold - max_t U) on the true class's output, zero once that output
    # fires; 0 = off (issue 23: an output driven to 0 spikes gets almost no surrogate gradient)
    silent_floor: float = Field(0.0, ge=0.0, le=1e3)

    # after each class-incremental task, rescale the newest head's weights to the old heads' mean
    # row norm (weight aligning, Zhao et al., CVPR 2020): a bias correction any strategy can use
    weight_align: bool = False

    @field_validator("betas")
    @classmethod
    def _betas_valid(cls, betas: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam betas must lie in [0, 1), got {betas}")
        return betas


MEMORY_POLICIES = ("reservoir", "class_balanced", "per_task_batches")


class MemoryConfig(Section):
    size: int = Field(0, ge=0, le=10_000_000)  # capacity in samples (reservoir, class_balanced)
    # None: per_task_batches when batches_per_task > 0, else reservoir
    policy: Literal["reservoir", "class_balanced", "per_task_batches"] | None = None
    batches_per_task: int = Field(0, ge=0, le=100_000)  # per_task_batches: the seed's k whole batches per task
    store_prob: float = Field(0.33, gt=0.0, le=1.0)  # per_task_batches: chance that a batch is stored

    @property
    def resolved_policy(self) -> str:
        return self.policy or ("per_task_batches" if self.batches_per_task > 0 else "reservoir")

    @property
    def enabled(self) -> bool:
        return self.batches_per_task > 0 if self.resolved_policy == "per_task_batches" else self.size > 0


class ReplayConfig(Section):
    schedule: Literal["interleaved", "separate_pass"] = "interleaved"
    heads: Literal["all", "own"] = "all"
    lr: float = Field(1e-4, gt=0.0, le=1e3)  # separate_pass optimizer (bounded as training.lr)
    batch_size: int | None = Field(
        None, gt=0, le=65_536
    )  # interleaved: memory samples per step (None = training batch size)
    # interleaved: each replayed image is shifted by up to this many pixels, so a small memory is not
    # memorised (independent buffer augmentation, Buzzega et al. 2020, "Rethinking Experience Replay")
    shift_pixels: int = Field(0, ge=0, le=8)
    # which stored samples a step replays: those of earlier tasks (the seed's rule) or the whole buffer
    # (the usual ER rule, which needs no task boundaries); None = earlier_tasks for per_task_batches, else all
    sample_from: Literal["earlier_tasks", "all"] | None = None


def _check_run_name(name: str) -> str:
    """A run name becomes one directory name: no separators, not empty, not '.' or '..'."""
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"must be a plain directory name, got {name!r}")
    return name


class OutputConfig(Section):
    runs_dir: str = "runs"
    run_name: str | None = None  # default: the config's name
    checkpoints: bool = True
    progress: bool = True
    # experiment trackers fed alongside the run's files (optional extras): tensorboard, wandb
    trackers: list[Literal["tensorboard", "wandb"]] = Field(default_factory=list)

    @field_validator("run_name")
    @classmethod
    def _run_name_valid(cls, name: str | None) -> str | None:
        return None if name is None else _check_run_name(name)


class Config(Section):
    name: str = "experiment"
    seed: int = Field(0, ge=0, le=2**32 - 1)
    # class_incremental, task_free (one head, the seed's "task-free": the trainer knows the task
    # boundaries), domain_incremental (one head for every task's shared classes; stream: domain)
    scenario: Literal["class_incremental", "task_free", "domain_incremental"] = "class_incremental"
    # a registered name (spikereplay.strategies) or an import path "package.module:Class"
    strategy: str = "naive"
    # the strategy's own hyperparameters, checked against its Params model
    strategy_params: dict[str, Any] = Field(default_factory=dict)
    device: str = "auto"
    # fp64: every float of the model in double precision. Slow, and not for results: it exists so that
    # the regression runs give the same bits on every CPU (in fp32, another kernel's summation order
    # can flip a spike, and one flipped spike changes the run; tests/regression/cases.py)
    precision: Literal["fp32", "bf16", "fp64"] = "fp32"
    data: DataConfig = Field(default_factory=DataConfig)
    stream: StreamConfig = Field(default_factory=StreamConfig)
    encoding: EncodingConfig = Field(default_factory=EncodingConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    replay: ReplayConfig = Field(default_factory=ReplayConfig)
    quirks: QuirksConfig = Field(default_factory=QuirksConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @field_validator("name")
    @classmethod
    def _name_valid(cls, name: str) -> str:
        return _check_run_name(name)

    @field_validator("device")
    @classmethod
    def _device_valid(cls, device: str) -> str:
        if device not in ("auto", "cpu") and not device.startswith("cuda"):
            raise ValueError(f"device must be auto, cpu or cuda[:N], got {device!r}")
        return device

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        """Checks across keys of the schema alone; those that need the registries (dataset, strategy)
        run when a config is loaded (``spikereplay.loader``)."""
        flat = [c for task in self.data.class_order for c in task]
        memory = self.memory
        policy = memory.resolved_policy
        if memory.size and memory.batches_per_task:
            raise ValueError(
                "memory.size (samples) and memory.batches_per_task (the seed's batches per task) size "
                "different policies: give one"
            )
        if policy != "per_task_batches" and memory.batches_per_task:
            raise ValueError(
                f"memory.batches_per_task belongs to policy per_task_batches, not {policy}; set memory.size"
            )
        if policy == "per_task_batches" and memory.size:
            raise ValueError("memory.size does not apply to policy per_task_batches: set memory.batches_per_task")
        if policy == "class_balanced" and 0 < memory.size < len(flat):
            raise ValueError(
                f"memory.size {memory.size} is under one slot per class for class_balanced ({len(flat)} classes)"
            )
        if self.data.eval_split == "val" and self.data.val_fraction == 0:
            raise ValueError("data.eval_split val needs data.val_fraction > 0")
        if self.training.forward_transfer and self.scenario == "class_incremental":
            raise ValueError(
                "training.forward_transfer needs one head from the start (scenario task_free or "
                "domain_incremental): a class-incremental head does not exist before its task"
            )
        if self.training.optimizer == "adam" and self.training.momentum:
            raise ValueError("training.momentum is SGD's: set training.optimizer sgd, or leave momentum at 0")
        if self.stream.kind == "online":
            # the online stream's own defaults (Aljundi et al. 2019; Caccia et al. 2022): one pass of
            # batches of 10, where the key is not given
            if "batch_size" not in self.training.model_fields_set:
                self.training.batch_size = 10
            if "epochs" not in self.training.model_fields_set:
                self.training.epochs = 1
        conflict = quirk_conflict(self) or stream_conflict(self)
        if conflict:
            raise ValueError(conflict)
        if self.training.weight_align and self.scenario != "class_incremental":
            raise ValueError("training.weight_align aligns class-incremental heads: scenario is task_free")
        return self

    @property
    def run_name(self) -> str:
        return self.output.run_name or self.name

    @property
    def run_dir(self) -> Path:
        return Path(self.output.runs_dir) / self.run_name


def stream_conflict(cfg: Config) -> str | None:
    """Why ``stream`` cannot serve the rest of the config, or None."""
    kind = cfg.stream.kind
    if (kind == "domain") != (cfg.scenario == "domain_incremental"):
        return (
            f"stream.kind {kind} and scenario {cfg.scenario} do not fit: a domain stream (every task "
            "holds the same classes) is scored as scenario domain_incremental, and only it is"
        )
    if kind != "online":
        if cfg.stream.blurry_samples:
            return "stream.blurry_samples mixes neighbouring tasks of stream.kind online only"
        return None
    training = cfg.training
    # what needs a task boundary, which the online stream never gives
    needs_boundary = [
        ("scenario class_incremental (a head is added at each task)", cfg.scenario == "class_incremental"),
        (f"training.epochs {training.epochs} (the online stream is one pass)", training.epochs != 1),
        ("training.lr_schedule cosine (it restarts at each task)", training.lr_schedule != "constant"),
        ("training.warmup_steps (a warm-up restarts at each task)", training.warmup_steps > 0),
        ("training.reset_optimizer_per_task", training.reset_optimizer_per_task),
        ("training.weight_align (after each task)", training.weight_align),
        ("training.forward_transfer (before each task)", training.forward_transfer),
        ("memory policy per_task_batches (stores per task)", cfg.memory.resolved_policy == "per_task_batches"),
        ("replay.sample_from earlier_tasks (needs task ids)", cfg.replay.sample_from == "earlier_tasks"),
        ("the published code's quirks", any(cfg.quirks.model_dump().values())),
    ]
    refused = [what for what, present in needs_boundary if present]
    if refused:
        return "stream.kind online gives no task boundaries, which " + "; ".join(refused) + " need(s)"
    return None
