"""Run a grid of experiments from a sweep YAML file, resumable, locally or on Ray.

Sweep file keys (unknown keys are refused):

    name:        sweep name (default: the file's stem)
    output_dir:  sweep directory, relative to the working directory (default: results/<name>)
    base:        base config, relative to the sweep file (default: the schema defaults)
    overrides:   dotted ``key=value`` overrides applied to every point
    grid:        dotted key -> list of values; the cartesian product gives the points
    grids:       a list of such grids, each expanded on its own (e.g. one per strategy, with its
                 own strategy_params)
    points:      extra explicit points, each a mapping of dotted key -> value
    published:   ``reproduce`` or ``beat``: the report sets the rows beside Proietti et al.'s table,
                 as a reproduction of it (the faithful configs) or as meant to beat it; omitted
                 (the default) for any other protocol, where no published value applies

Run names: ``<cil|tf>_<strategy>[_mr<k>|_m<size>]_seed<s>``, plus a 6-hex hash of any other key
the point varies (e.g. ``cil_replay_mr40_seed0_3fa2c1`` for a replay.schedule grid); ``mr<k>`` is
the seed's batches per task, ``m<size>`` a buffer of that many samples.

Memory rule: a point that sets ``memory.batches_per_task`` picks the strategy with it
(> 0 turns naive into replay, 0 turns replay into naive), so a grid over memory sizes yields
the naive baseline and the replay runs from one base config; joint stores nothing, so its
memory is set to 0 and a strategy x memory grid gives one joint run. Likewise a point that sets
``memory.size`` for a strategy without a buffer (naive, lwf, ewc_on, si, joint) gets size 0, so
a strategy x ``memory.size`` grid runs each of those once.

The resolved sweep file is recorded as ``<sweep dir>/sweeps/<file stem>.yaml``. Each
finished run appends one JSON line to ``<sweep dir>/results.jsonl``, each run that fails (a diverged
loss, say) one line with its message to ``failures.jsonl``, and the sweep goes on; a run already
in results.jsonl is skipped, and an unfinished one resumes from its last per-task checkpoint
in ``<sweep dir>/runs/<run name>``. With Ray on several machines the sweep directory must
be on a shared file system.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path

import yaml

from spikereplay import io as atomic
from spikereplay.errors import ConfigError
from spikereplay.sweep.file import Point, config_digest, expand, load_sweep, sweep_dir
from spikereplay.sweep.results import (
    FAILURES_FILE,
    RESULTS_FILE,
    append_result,
    read_results,
    record_failure,
    result_record,
)


def run_point(point_data: dict, results_path: str, threads: int | None = None, verbose: bool = False) -> dict:
    """Train (or resume) one point and append its result line; runs in any worker process."""
    from spikereplay.experiment import run_experiment

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    point = Point.model_validate(point_data)
    metrics = run_experiment(point.config, log=print if verbose else _quiet)
    if not metrics.get("complete"):
        raise RuntimeError(f"run {point.name} stopped before its last task")
    record = result_record(point, metrics)
    append_result(Path(results_path), record)
    return record


def slow_precision_warning(points: list[Point]) -> str | None:
    """The bf16-emulation warning if a point would run bf16 on this machine's CPU without native
    bf16 (sweep runs are quiet, so it is said once for the sweep)."""
    from spikereplay import model

    native = model.cpu_has_native_bf16()
    for point in points:
        cfg = point.config
        warning = model.precision_warning(cfg.precision, model.resolve_device(cfg.device), native)
        if warning:
            return warning
    return None


def _quiet(*_args) -> None:
    pass


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def shown_path(path: Path) -> str:
    """A path relative to the working directory when it lies inside it, so records stay portable."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def pending_points(points: list[Point], results: dict[str, dict]) -> list[Point]:
    """Points without a result line; a listed run from another config is an error."""
    for point in points:
        done = results.get(point.name)
        if done is not None and done.get("config_digest") != config_digest(point.config):
            raise ConfigError(
                f"{RESULTS_FILE} already holds run {point.name!r} from a different config; "
                "use another output_dir (or delete that line and its run directory)"
            )
    return [p for p in points if p.name not in results]


class Progress:
    """One printed line per finished run, plus a rich bar when stderr is an interactive terminal."""

    def __init__(self, total: int, failures_path: Path | None = None):
        from spikereplay.trainer import progress_enabled

        self.total, self.finished = total, 0
        self.failures_path = failures_path
        self.bar = None
        if progress_enabled(True):
            from rich.console import Console
            from rich.progress import Progress as RichProgress

            # the bar lives on stderr; rich shows our stdout lines above it while it is running
            self.bar = RichProgress(console=Console(stderr=True), transient=False)
            self.task = self.bar.add_task("sweep", total=total)

    def __enter__(self):
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()

    def line(self, text: str) -> None:
        self.finished += 1
        print(f"[{self.finished}/{self.total}] {text}", flush=True)
        if self.bar is not None:
            self.bar.advance(self.task)

    def done(self, record: dict) -> None:
        self.line(
            f"{record['run']}: final average accuracy {record['final_average_accuracy']:.2f}% "
            f"({record['train_seconds']:.1f} s training)"
            + "".join(f"\n  warning: {warning}" for warning in record.get("warnings") or [])
        )

    def failed(self, name: str, error: BaseException) -> None:
        """Print and record (``failures.jsonl``) a run that stopped; the sweep goes on with the others."""
        self.line(f"{name}: FAILED: {type(error).__name__}: {error}")
        if self.failures_path is not None:
            record_failure(self.failures_path, name, error)


def _run_local(todo: list[Point], results_path: Path, workers: int, verbose: bool, progress: Progress) -> int:
    failures = 0
    if workers == 1:  # in-process: tracebacks and Ctrl-C behave as for a single run
        for point in todo:
            try:
                progress.done(run_point(point.model_dump(mode="json"), str(results_path), verbose=verbose))
            except Exception as exc:
                failures += 1
                progress.failed(point.name, exc)
        return failures
    threads = max(1, _cores() // workers)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        futures = {
            pool.submit(run_point, p.model_dump(mode="json"), str(results_path), threads, verbose): p for p in todo
        }
        for future in as_completed(futures):
            try:
                progress.done(future.result())
            except Exception as exc:
                failures += 1
                progress.failed(futures[future].name, exc)
    except KeyboardInterrupt:
        # Ctrl-C or a kill: end the runs in flight too (left alone, they would go on training with no
        # sweep left to record them), and record none of them as failed. Each keeps its last
        # checkpoint and resumes from it.
        for worker in multiprocessing.active_children():
            worker.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return failures


@contextmanager
def stopped_by_kill():
    """A ``kill`` (SIGTERM) stops a sweep as Ctrl-C does: the runs in flight end with it, nothing
    half-written is recorded, and the same command resumes. Without this the sweep's own process
    would die at once and leave its workers running."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_ray(todo: list[Point], results_path: Path, args, progress: Progress) -> int:
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray backend needs ray: pip install .[ray]") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=args.ray_address)
    try:
        remote = ray.remote(num_cpus=args.cpus_per_run, num_gpus=args.gpus_per_run)(run_point)
        threads = max(1, int(args.cpus_per_run))
        refs = {
            remote.remote(p.model_dump(mode="json"), str(results_path), threads, args.verbose): p.name for p in todo
        }
        failures = 0
        while refs:
            (ref,), _ = ray.wait(list(refs), num_returns=1)
            name = refs.pop(ref)
            try:
                progress.done(ray.get(ref))
            except Exception as exc:
                failures += 1
                progress.failed(name, exc)
        return failures
    finally:
        if started_here:
            ray.shutdown()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__  # the sweep file format, in `spikereplay sweep --help`
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("sweep_file", nargs="?", help="sweep YAML file (or give it as --config FILE)")
    parser.add_argument("--config", dest="sweep_config", metavar="FILE", help="sweep YAML file, as with train")
    parser.add_argument("--output-dir", help="sweep directory (default: the file's output_dir or results/<name>)")
    parser.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    parser.add_argument("--backend", choices=["local", "ray"], default="local")
    parser.add_argument("--ray-address", default=None, help="Ray cluster address (default: start a local instance)")
    parser.add_argument("--cpus-per-run", type=float, default=1, help="ray: CPUs reserved (and torch threads) per run")
    parser.add_argument("--gpus-per-run", type=float, default=0, help="ray: GPUs reserved per run")
    parser.add_argument("--dry-run", action="store_true", help="print the run names and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print each run's per-task lines")


def main(args) -> int:
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    if args.workers != 1 and args.backend == "ray":
        raise ConfigError("--workers is for the local backend; Ray runs as many as the cluster has --cpus-per-run for")
    if (args.sweep_file is None) == (args.sweep_config is None):
        raise ConfigError("give the sweep file once: spikereplay sweep FILE, or spikereplay sweep --config FILE")
    sweep_file = Path(args.sweep_file or args.sweep_config)
    spec, base = load_sweep(sweep_file)
    directory = sweep_dir(spec, args.output_dir)
    points = expand(spec, base, directory)  # every config is validated before anything runs
    results_path = directory / RESULTS_FILE
    todo = pending_points(points, read_results(results_path))
    if args.dry_run:
        pending = {p.name for p in todo}
        for point in points:
            print(point.name + ("" if point.name in pending else "  (done)"))
        return 0

    # one record per sweep file, as several files (stages) may share one sweep directory; it is
    # itself a sweep file that gives the same runs (base relative to it, output_dir to the cwd)
    record = directory / "sweeps" / f"{sweep_file.stem}.yaml"
    resolved = spec.model_dump(mode="json") | {
        "output_dir": shown_path(directory),
        "base": os.path.relpath(base, record.parent) if base else None,
    }
    header = f"# {shown_path(sweep_file.resolve())}, resolved (output_dir is relative to where it ran)\n"
    atomic.write_text(record, header + yaml.safe_dump(resolved, sort_keys=False))
    print(f"sweep {spec.name}: {len(points)} runs, {len(points) - len(todo)} already done -> {directory}", flush=True)
    slow_precision = slow_precision_warning(todo) if args.backend == "local" else None
    if slow_precision:
        print(f"warning: {slow_precision}", file=sys.stderr, flush=True)
    with stopped_by_kill(), Progress(len(todo), directory / FAILURES_FILE) as progress:
        if args.backend == "ray":
            failures = _run_ray(todo, results_path, args, progress)
        else:
            failures = _run_local(todo, results_path, args.workers, args.verbose, progress)
    if failures:
        print(f"{failures} run(s) failed; re-run the same command to retry them", file=sys.stderr)
        return 1
    return 0
