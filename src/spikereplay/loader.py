"""Loading a config: a YAML file (with its ``base`` chain) and dotted overrides, validated against the
schema (``config.py``), then checked against what is registered: the dataset and its classes, the
strategy, its ``Params``, the scenarios it supports and the buffer it needs.

The schema knows no registry, so that ``config.py`` stays a leaf of the import graph; these checks
live here, above both, and run whenever a config is loaded.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from spikereplay.backbones import SpikingModule, resolve_backbone
from spikereplay.config import Config
from spikereplay.config_errors import (
    describe_errors,
    did_you_mean,
    format_validation_error,
    invalid_message,
    override_sources,
)
from spikereplay.config_files import apply_overrides, read_config_file, read_yaml_mapping
from spikereplay.datasets import DATASETS
from spikereplay.errors import ConfigError
from spikereplay.strategies import resolve_strategy
from spikereplay.streams import TASK_BUILDERS


def registry_problems(cfg: Config) -> list[tuple[str, str]]:
    """(key, problem) for each setting that the registries refuse; [] when the config fits them."""
    if cfg.data.dataset not in DATASETS:
        choices = sorted(DATASETS)
        return [
            (
                "data.dataset",
                f"data.dataset must be one of {choices}, got {cfg.data.dataset!r}"
                + did_you_mean(cfg.data.dataset, choices),
            )
        ]
    problems = []
    if cfg.stream.kind not in TASK_BUILDERS:
        choices = sorted(TASK_BUILDERS)
        problems.append(
            (
                "stream.kind",
                f"stream.kind must be one of {choices}, got {cfg.stream.kind!r}"
                + did_you_mean(cfg.stream.kind, choices),
            )
        )
    problems += input_kind_problems(cfg)
    num_classes = DATASETS[cfg.data.dataset].num_classes
    flat = [c for task in cfg.data.class_order for c in task]
    if any(c >= num_classes for c in flat):
        problems.append(
            ("data.class_order", f"data.class_order: {cfg.data.dataset} has classes 0..{num_classes - 1}, got {flat}")
        )
    problems += backbone_problems(cfg)
    try:
        strategy = resolve_strategy(cfg.strategy)
    except ValueError as exc:
        return [*problems, ("strategy", f"'strategy': {exc}")]
    if strategy.needs_boundaries and cfg.stream.kind == "online":
        problems.append(
            (
                "strategy",
                f"strategy {cfg.strategy!r} needs task boundaries ({strategy.__name__}.needs_boundaries), which "
                "stream.kind online does not give: use er, er_ace, der or derpp, or stream.kind class_split",
            )
        )
    if strategy.joint_stream and cfg.training.forward_transfer:
        problems.append(
            (
                "training.forward_transfer",
                f"training.forward_transfer: strategy {cfg.strategy!r} trains every task in one step, so no "
                "task is scored before it is trained: drop training.forward_transfer",
            )
        )
    if cfg.scenario not in strategy.scenarios:
        problems.append(
            (
                "scenario",
                f"strategy {cfg.strategy!r} does not support scenario {cfg.scenario!r} (it supports "
                + ", ".join(strategy.scenarios)
                + ")",
            )
        )
    try:
        params = strategy.Params.model_validate(cfg.strategy_params)
    except ValidationError as exc:
        problems.append(("strategy_params", "strategy_params: " + "; ".join(describe_errors(exc, strategy.Params))))
    else:
        problems += strategy.config_problems(params, cfg)
    memory = cfg.memory
    if strategy.needs_memory and not memory.enabled:
        what = {
            None: "memory.size > 0 (samples), or memory.batches_per_task > 0 (the seed's batches per task)",
            "per_task_batches": "memory.batches_per_task > 0",
        }.get(memory.policy, "memory.size > 0")
        problems.append(("memory", f"strategy {cfg.strategy!r} needs a buffer: set {what}"))
    if (
        cfg.replay.schedule == "separate_pass"
        and strategy.needs_memory
        and memory.resolved_policy != "per_task_batches"
    ):
        problems.append(
            (
                "replay.schedule",
                "replay.schedule separate_pass replays stored batches: it needs policy per_task_batches",
            )
        )
    return problems


def input_kind_problems(cfg: Config) -> list[tuple[str, str]]:
    """Settings that only make sense for image input, refused for a dataset of binned events."""
    info = DATASETS[cfg.data.dataset]
    if info.input_kind == "image":
        return []
    image_only = [
        ("replay.shift_pixels", cfg.replay.shift_pixels > 0, "shifts replayed images"),
        ("quirks.store_encoded", cfg.quirks.store_encoded, "stores rate-coded images"),
        ("stream.kind", cfg.stream.kind == "domain", "permutes or rotates images"),
    ]
    return [
        (key, f"{key} {what}, and {cfg.data.dataset}'s input is {info.input_kind}, not images")
        for key, present, what in image_only
        if present
    ]


def backbone_name(cfg: Config) -> str:
    """``model.backbone``, or the dataset's default backbone where it is not given."""
    return cfg.model.backbone or DATASETS[cfg.data.dataset].default_backbone


def backbone_problems(cfg: Config) -> list[tuple[str, str]]:
    """The backbone's name or import path, its ``backbone_params`` and the quirk it must support
    (a user's module is also run on a dummy batch when the model is built)."""
    try:
        backbone = resolve_backbone(backbone_name(cfg))
    except ValueError as exc:
        return [("model.backbone", f"'model.backbone': {exc}")]
    problems = []
    if issubclass(backbone, SpikingModule):
        try:
            backbone.Params.model_validate(cfg.model.backbone_params)
        except ValidationError as exc:
            lines = describe_errors(exc, backbone.Params)
            problems.append(("model.backbone_params", "model.backbone_params: " + "; ".join(lines)))
    if cfg.quirks.stateless_steps and not getattr(backbone, "supports_stateless", False):
        problems.append(
            (
                "quirks.stateless_steps",
                f"quirks.stateless_steps is the conv backbone's quirk, not {backbone_name(cfg)!r}'s",
            )
        )
    return problems


def check_config(cfg: Config, source: str = "<dict>", overrides: list[str] | None = None) -> Config:
    """``cfg`` if the registries accept it; else ConfigError naming every problem and the override
    that set its key."""
    problems = registry_problems(cfg)
    if not problems:
        return cfg
    sources = override_sources(overrides)
    lines = []
    for key, problem in problems:
        override = next((text for name, text in sources.items() if name == key or name.startswith(f"{key}.")), None)
        lines.append(problem + (f" [from the override {override}]" if override else ""))
    raise ConfigError(invalid_message(lines, source, sources))


def config_from_dict(raw: dict, source: str = "<dict>", overrides: list[str] | None = None) -> Config:
    """The validated config; ConfigError naming each bad key, and the override that set it."""
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, sources=override_sources(overrides))) from None
    return check_config(cfg, source, overrides)


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Config:
    """Load a YAML config (or the defaults when ``path`` is None) and apply overrides. A config file
    may name another as its ``base`` (relative to it) and state only what differs."""
    raw: dict = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        named = "name" in read_yaml_mapping(path)
        raw = read_config_file(path)
        if not named:
            raw["name"] = Path(path).stem
    return config_from_dict(apply_overrides(raw, overrides or []), source, overrides)
