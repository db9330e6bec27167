"""A sweep file and the validated points it expands to: the grid(s) and explicit points, the memory
rule and the run names (the format is documented in ``spikereplay.sweep``, the ``sweep --help``)."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spikereplay.config import Config
from spikereplay.config_errors import format_validation_error
from spikereplay.config_files import apply_overrides, read_yaml_mapping
from spikereplay.errors import ConfigError
from spikereplay.loader import load_config
from spikereplay.strategies import resolve_strategy

SCENARIO_ABBREV = {"class_incremental": "cil", "task_free": "tf", "domain_incremental": "dil"}
# Keys that already appear in a run name in readable form; any other varied key goes into its hash.
NAMED_KEYS = ("scenario", "strategy", "memory.batches_per_task", "memory.size", "stream.blurry_samples", "seed")


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    output_dir: str | None = None
    base: str | None = None
    overrides: list[str] = Field(default_factory=list)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    grids: list[dict[str, list[Any]]] = Field(default_factory=list)
    points: list[dict[str, Any]] = Field(default_factory=list)
    # how the report sets these rows beside Proietti et al.'s table: ``reproduce`` (a sweep of the
    # published protocol, the faithful configs), ``beat`` (the correct system under that protocol);
    # None: the sweep runs another protocol, and the report shows no published value
    published: Literal["reproduce", "beat"] | None = None

    @field_validator("grid")
    @classmethod
    def _values_non_empty(cls, grid: dict[str, list]) -> dict[str, list]:
        empty = [key for key, values in grid.items() if not values]
        if empty:
            raise ValueError(f"grid keys without values: {empty}")
        return grid

    @field_validator("grids")
    @classmethod
    def _each_grid_non_empty(cls, grids: list[dict[str, list]]) -> list[dict[str, list]]:
        for grid in grids:
            cls._values_non_empty(grid)
        return grids


class Point(BaseModel):
    """One run of the sweep: its name, the values it varies and its validated config."""

    name: str
    values: dict[str, Any]
    config: Config


def load_sweep(path: str | Path) -> tuple[SweepSpec, Path | None]:
    """Parse and validate a sweep file; return the spec and the resolved base config path."""
    path = Path(path)
    raw = read_yaml_mapping(path, "sweep file")
    raw.setdefault("name", path.stem)
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path), "sweep file")) from None
    base = (path.parent / spec.base).resolve() if spec.base else None
    return spec, base


def sweep_dir(spec: SweepSpec, output_dir: str | None = None) -> Path:
    return Path(output_dir or spec.output_dir or Path("results") / spec.name).resolve()


def yaml_value(value: Any) -> str:
    """A value as override text that parses back to the same value (floats and strings included)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=float("inf")).strip()
    return text.removesuffix("...").strip()


def grid_values(grid: dict[str, list]) -> list[dict[str, Any]]:
    """The cartesian product of one grid, in file order."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())] if grid else []


def point_values(spec: SweepSpec) -> list[dict[str, Any]]:
    """The grid's cartesian product (in file order), then each of ``grids``, then the explicit points."""
    values = grid_values(spec.grid)
    for grid in spec.grids:
        values += grid_values(grid)
    return values + [dict(p) for p in spec.points]


def _raw_base(base: Path | None) -> dict:
    return {} if base is None else read_yaml_mapping(base, "base config")


def memory_rule(raw: dict, values: dict[str, Any]) -> list[str]:
    """The overrides the memory rule adds to a point (documented in ``spikereplay.sweep``'s docstring)."""
    strategy = raw.get("strategy", Config.model_fields["strategy"].default)
    if values.get("memory.size", 0) != 0:
        try:
            needs_memory = resolve_strategy(strategy).needs_memory
        except ValueError:
            return []  # the point's validation names the bad strategy
        return [] if needs_memory else ["memory.size=0"]
    if "memory.batches_per_task" not in values:
        return []
    memory = values["memory.batches_per_task"]
    if strategy == "naive" and isinstance(memory, int) and memory > 0:
        return ["strategy=replay"]
    if strategy == "replay" and memory == 0:
        return ["strategy=naive"]
    if strategy == "joint" and memory != 0:
        return ["memory.batches_per_task=0"]
    return []


def run_name(cfg: Config, values: dict[str, Any]) -> str:
    """``<scenario>_<strategy>[_mr<k>][_blurry<w>]_seed<s>[_<hash of the other varied keys>]`` (an
    online stream's runs start with ``online``)."""
    scenario = "online" if cfg.stream.kind == "online" else SCENARIO_ABBREV[cfg.scenario]
    parts = [scenario, cfg.strategy.replace(":", "-").replace(".", "-")]
    if resolve_strategy(cfg.strategy).needs_memory:
        policy = cfg.memory.resolved_policy
        parts.append(f"mr{cfg.memory.batches_per_task}" if policy == "per_task_batches" else f"m{cfg.memory.size}")
    if cfg.stream.blurry_samples:
        parts.append(f"blurry{cfg.stream.blurry_samples}")
    parts.append(f"seed{cfg.seed}")
    other = {k: v for k, v in values.items() if k not in NAMED_KEYS}
    if other:
        parts.append(hashlib.sha1(json.dumps(other, sort_keys=True, default=str).encode()).hexdigest()[:6])
    return "_".join(parts)


def config_digest(cfg: Config) -> str:
    """Hash of the settings that differ from the schema defaults (name and output excluded).

    Only non-defaults count so that a new config field added with a default keeps old results valid.
    """
    dumped = cfg.model_dump(mode="json", exclude={"name", "output"}, exclude_defaults=True)
    return hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()[:16]


def expand(spec: SweepSpec, base: Path | None, directory: Path) -> list[Point]:
    """Every point's validated config; any invalid point raises one ConfigError."""
    raw_base = _raw_base(base)
    runs_dir = directory / "runs"
    points: dict[str, Point] = {}
    all_values = point_values(spec)
    if not all_values:
        raise ConfigError(f"sweep {spec.name!r} has no points: give a grid or points")
    for values in all_values:
        overrides = [*spec.overrides, *(f"{k}={yaml_value(v)}" for k, v in values.items())]
        overrides += memory_rule(apply_overrides(raw_base, overrides), values)
        try:
            cfg = load_config(base, overrides)
        except ConfigError as exc:
            raise ConfigError(f"sweep point {values}: {exc}") from None
        name = run_name(cfg, values)
        cfg = cfg.model_copy(
            update={
                "output": cfg.output.model_copy(update={"runs_dir": str(runs_dir), "run_name": name, "progress": False})
            }
        )
        previous = points.get(name)
        if previous is not None:
            if config_digest(previous.config) != config_digest(cfg):
                raise ConfigError(f"sweep points {previous.values} and {values} get the same run name {name!r}")
            continue  # the memory rule made two points one run
        points[name] = Point(name=name, values=values, config=cfg)
    return list(points.values())
