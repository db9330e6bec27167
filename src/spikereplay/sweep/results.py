"""A sweep's records: one JSON line per finished run in ``results.jsonl`` (made by
``result_record``, appended whole under a lock, read back by run name), and the run names that
failed in ``failures.jsonl``. The sweep writes them; ``spikereplay report`` and ``compare`` read them."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from spikereplay import io as atomic
from spikereplay.strategies import resolve_strategy
from spikereplay.sweep.file import Point, config_digest

RESULTS_FILE = "results.jsonl"
FAILURES_FILE = "failures.jsonl"  # one line per run that stopped with an error (a retry that succeeds is in results)
METRIC_KEYS = (
    "accuracy_matrix",
    "average_accuracy",
    "final_average_accuracy",
    "forgetting",
    "backward_transfer",
    "task_incremental_final_average_accuracy",
    "memory_policy",
    "buffer_size",
    "buffer_bytes",
    "train_seconds",
    "warnings",
    "confusion",
    "forward_transfer",
    "silent_outputs",
    "task_labels",
    "stream_average_accuracy",  # online streams: the mean accuracy along the stream
    "environment",  # threads, CPU, versions: a sweep sets its workers' threads, so its bits can differ from train's
)


def read_results(path: Path) -> dict[str, dict]:
    """Results by run name; the first line for a name wins, unparsable lines are ignored."""
    if not path.exists():
        return {}
    results: dict[str, dict] = {}
    # The last element is either empty or a line still being written (or cut short by a crash).
    for line in path.read_bytes().split(b"\n")[:-1]:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "run" in record:
            results.setdefault(record["run"], record)
    return results


def append_result(path: Path, record: dict) -> bool:
    """Append one JSON line under an exclusive lock; False if the run was already listed."""
    data = (atomic.json_text(record) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if record["run"] in read_results(path):
            return False
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # end a line a crashed writer left unfinished, so ours stays whole
        written = os.write(fd, data)
        while written < len(data):  # only on a full disk or a signal; keep the line whole if we can
            written += os.write(fd, data[written:])
        os.fsync(fd)
        return True
    finally:
        os.close(fd)  # closing releases the lock


def result_record(point: Point, metrics: dict) -> dict:
    cfg = point.config
    replay = resolve_strategy(cfg.strategy).needs_memory
    return {
        "run": point.name,
        "point": point.values,
        "scenario": cfg.scenario,
        "dataset": cfg.data.dataset,
        "stream": cfg.stream.kind,
        "memory_size": cfg.memory.size if replay else 0,
        "strategy": cfg.strategy,
        "batches_per_task": cfg.memory.batches_per_task if replay else 0,
        "replay_schedule": cfg.replay.schedule if replay else None,
        "seed": cfg.seed,
        "config_digest": config_digest(cfg),
        **{key: metrics.get(key) for key in METRIC_KEYS},
    }


def record_failure(path: Path, name: str, error: BaseException) -> None:
    """One line in ``failures.jsonl`` for a run that stopped with an error."""
    with path.open("a") as fh:
        fh.write(atomic.json_text({"run": name, "error": f"{type(error).__name__}: {error}"}) + "\n")
