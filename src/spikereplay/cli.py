"""Command line: ``spikereplay train|test|joint|bench|sweep|report|compare``.

Input problems (config, data) print one ``error:`` line and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spikereplay.errors import DivergedError, SpikeReplayError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_JOINT_CONFIG = REPO_ROOT / "configs" / "seed" / "cil_joint.yaml"


def _add_run_args(parser: argparse.ArgumentParser, config_required: bool = True) -> None:
    parser.add_argument("--config", required=config_required, help="YAML config file")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. training.num_steps=10")
    parser.add_argument("--data-dir", help="directory holding the dataset's idx files (data.root)")
    parser.add_argument("--run", type=int, default=None, help="repetition N: seed = config seed + 10*N")
    parser.add_argument("--mem_size", "--mem-size", type=int, default=None, help="replay batches per task (0 = naive)")
    parser.add_argument("--overwrite", action="store_true", help="replace a run dir that holds another config")


def resolve_config(args):
    """The config file plus overrides, then the seed's --mem_size and --run flags."""
    from spikereplay.errors import ConfigError
    from spikereplay.loader import load_config

    overrides = list(args.overrides)
    if args.data_dir:
        overrides.append(f"data.root={args.data_dir}")
    cfg = load_config(args.config, overrides)
    suffix = ""
    if args.mem_size is not None:
        if args.mem_size < 0:
            raise ConfigError(f"--mem_size must be >= 0, got {args.mem_size}")
        overrides.append(f"memory.batches_per_task={args.mem_size}")
        if cfg.strategy != "joint":  # joint has no memory: the flag changes nothing there
            overrides.append(f"strategy={'replay' if args.mem_size > 0 else 'naive'}")
            suffix += f"_mr{args.mem_size}"
    if args.run is not None:
        if args.run < 0:
            raise ConfigError(f"--run must be >= 0, got {args.run}")
        overrides.append(f"seed={cfg.seed + 10 * args.run}")
        suffix += f"_run{args.run}"
    if suffix:
        overrides.append(f"output.run_name={cfg.run_name}{suffix}")
    return load_config(args.config, overrides)


def cmd_train(args) -> int:
    from spikereplay.experiment import run_experiment

    if args.command == "joint":
        args.overrides = [*args.overrides, "strategy=joint"]
    cfg = resolve_config(args)
    metrics = run_experiment(cfg, overwrite=args.overwrite)
    print(
        f"{cfg.run_name}: final average accuracy {metrics['final_average_accuracy']:.2f}% "
        f"({metrics['train_seconds']:.0f} s training) -> {cfg.run_dir}"
    )
    return 0


def cmd_test(args) -> int:
    from spikereplay.experiment import evaluate_run

    # test re-scores a run with the config it was trained with: an override may only locate the run
    unused = [o for o in args.overrides if args.run_dir or not o.startswith(("output.runs_dir=", "output.run_name="))]
    if unused:
        raise SpikeReplayError(
            f"test re-scores a run with the config it was trained with, so it would not use {' '.join(unused)!r}: "
            "train a new run with it (with its own output.run_name), or drop it"
        )
    run_dir = Path(args.run_dir) if args.run_dir else resolve_config(args).run_dir
    if not (run_dir / "config.yaml").exists():
        raise SpikeReplayError(f"{run_dir} is not a run directory (no config.yaml): train it first")
    metrics = evaluate_run(run_dir, data_root=args.data_dir)
    print(f"{run_dir}: final average accuracy {metrics['final_average_accuracy']:.2f}%")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spikereplay", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a continual-learning run")
    _add_run_args(train)
    train.set_defaults(func=cmd_train)

    joint = sub.add_parser("joint", help="joint training on all classes (upper bound)")
    _add_run_args(joint, config_required=False)
    joint.set_defaults(func=cmd_train, config=None)

    test = sub.add_parser("test", help="re-evaluate the per-task checkpoints of a run")
    _add_run_args(test, config_required=False)
    test.add_argument("--run-dir", help="run directory (instead of --config)")
    test.set_defaults(func=cmd_test)

    from spikereplay import bench, compare, report, sweep

    for name, module in (("bench", bench), ("sweep", sweep), ("report", report), ("compare", compare)):
        command = sub.add_parser(name, help=module.__doc__.strip().splitlines()[0], description=module.__doc__)
        module.add_arguments(command)
        command.set_defaults(func=module.main)
    return parser


def main(argv: list[str] | None = None, default_command: str | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if default_command is not None:
        argv = [default_command, *argv]
    args = build_parser().parse_args(argv)
    if args.command == "joint" and args.config is None:
        args.config = str(DEFAULT_JOINT_CONFIG)
    if args.command == "test" and not args.config and not args.run_dir:
        print("error: test needs --config or --run-dir", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except DivergedError as exc:  # not a usage error: the input was fine, training diverged
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SpikeReplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished tasks are checkpointed; re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
