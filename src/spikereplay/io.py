"""Atomic file writes: a reader never sees a half-written file.

Each write goes to a temporary file in the same directory, then os.replace
renames it over the target, which is atomic on POSIX file systems.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import torch

_UMASK = os.umask(0)
os.umask(_UMASK)


def _atomic(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    _atomic(path, lambda fh: fh.write(text.encode()))


def finite(data):
    """``data`` with every NaN or infinite float replaced by None: Python's json writes them as the
    bare words NaN and Infinity, which are not JSON, and strict readers (jq, JavaScript) refuse the file."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(value) for value in data]
    return data


def json_text(data, indent: int | None = None) -> str:
    return json.dumps(finite(data), indent=indent, allow_nan=False)


def write_json(path: Path, data) -> None:
    write_text(path, json_text(data, indent=2) + "\n")


def write_bytes(path: Path, data: bytes) -> None:
    _atomic(path, lambda fh: fh.write(data))


def save_torch(path: Path, obj) -> None:
    _atomic(path, lambda fh: torch.save(obj, fh))
