"""The idx file format (MNIST and its relatives): parsing, and reading with a checksum of the
decompressed bytes, so any correct gzip of a file passes."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np
import torch

from spikereplay.datasets.checksums import IDX_DATASETS
from spikereplay.datasets.tasks import ImageArrays, check_images_labels
from spikereplay.errors import DataError

IDX_DTYPE_UBYTE = 0x08
IDX_CLASSES = 10  # every MNIST-like dataset here has ten classes, labelled 0..9


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an idx file (unsigned-byte data only) into an array.

    Raises DataError naming ``name`` on a wrong magic number or a size that
    does not match the header.
    """
    if len(raw) < 4:
        raise DataError(f"{name}: truncated idx file ({len(raw)} bytes, no header)")
    zero0, zero1, dtype_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or dtype_code != IDX_DTYPE_UBYTE or not 1 <= ndim <= 4:
        raise DataError(f"{name}: wrong magic number {raw[:4].hex()} (expected 000008 + ndim)")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(f"{name}: truncated idx header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header_len + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{name}: size mismatch: header says {shape} ({expected} bytes), file has {len(raw)}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape)


def read_idx_file(path: Path, expected_sha256: str | None = None) -> np.ndarray:
    """Read an idx file (``.gz`` or raw), check its decompressed SHA-256, parse it."""
    try:
        raw = _read_bytes(path)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: cannot read ({exc})") from exc
    if expected_sha256 is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != expected_sha256:
            raise DataError(
                f"{path}: SHA-256 of the decompressed content is {digest}, expected "
                f"{expected_sha256} (corrupt or not the expected file)"
            )
    return parse_idx(raw, str(path))


def find_file(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def load_idx_arrays(directory: Path, checksums: dict[str, str], name: str):
    """The four idx files of an MNIST-like dataset in ``directory`` as ImageArrays, each checked
    against ``checksums``. MNIST and Fashion-MNIST share file names: a directory that holds the
    other one is refused with a message saying so, never loaded."""
    labels_stem = "train-labels-idx1-ubyte"
    path = find_file(directory, labels_stem)
    try:
        digest = hashlib.sha256(_read_bytes(path)).hexdigest()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    for other, stems in IDX_DATASETS.items():
        if other != name and stems.get(labels_stem) == digest:
            raise DataError(
                f"{directory} holds {other}, not {name} (the file names are the same): point data.root at {name}'s files"
            )
    arrays = {stem: read_idx_file(find_file(directory, stem), sha) for stem, sha in checksums.items()}
    for split in ("train", "t10k"):
        images, labels = arrays[f"{split}-images-idx3-ubyte"], arrays[f"{split}-labels-idx1-ubyte"]
        check_images_labels(images, labels, f"{directory}/{split}", IDX_CLASSES)
    return ImageArrays(
        train_images=torch.from_numpy(arrays["train-images-idx3-ubyte"].copy()),
        train_labels=torch.from_numpy(arrays["train-labels-idx1-ubyte"].astype(np.int64)),
        test_images=torch.from_numpy(arrays["t10k-images-idx3-ubyte"].copy()),
        test_labels=torch.from_numpy(arrays["t10k-labels-idx1-ubyte"].astype(np.int64)),
    )


def _read_bytes(path: Path) -> bytes:
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as fh:
            return fh.read()
    return path.read_bytes()
