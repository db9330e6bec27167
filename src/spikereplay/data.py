"""MNIST loading (idx files, hash-checked) and the Split-MNIST task stream.

Everything is held as uint8 tensors; batches are made by indexing, never by
per-sample Python work.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from spikereplay.errors import DataError

# SHA-256 of the *decompressed* idx files, as given in data/mnist/README.md.
# Checking the decompressed bytes lets any correct gzip of them pass.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# MD5 of the original .gz downloads, for pooch's check of what it fetches.
MNIST_GZ_MD5 = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

IDX_DTYPE_UBYTE = 0x08
REPO_DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "mnist"


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
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: cannot read ({exc})") from exc
    if expected_sha256 is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != expected_sha256:
            raise DataError(
                f"{path}: SHA-256 of the decompressed content is {digest}, expected "
                f"{expected_sha256} (corrupt or not the MNIST file)"
            )
    return parse_idx(raw, str(path))


def _find_file(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def _has_all_files(directory: Path) -> bool:
    return all(_find_file(directory, stem) is not None for stem in MNIST_SHA256)


def default_cache_dir() -> Path:
    import pooch

    return Path(pooch.os_cache("spikereplay")) / "mnist"


def candidate_dirs(explicit_root: str | os.PathLike | None) -> list[Path]:
    """Where MNIST is looked for, in order: explicit, $SPIKEREPLAY_DATA, repo, cache."""
    dirs = []
    if explicit_root is not None:
        dirs.append(Path(explicit_root))
    if os.environ.get("SPIKEREPLAY_DATA"):
        dirs.append(Path(os.environ["SPIKEREPLAY_DATA"]))
    dirs.append(REPO_DATA_DIR)
    dirs.append(default_cache_dir())
    return dirs


def download_mnist(target: Path) -> None:
    """Fetch the four MNIST files into ``target`` with pooch, MD5-checked."""
    import pooch

    target.mkdir(parents=True, exist_ok=True)
    errors = []
    for stem, md5 in MNIST_GZ_MD5.items():
        for mirror in MNIST_MIRRORS:
            try:
                pooch.retrieve(
                    url=f"{mirror}{stem}.gz",
                    known_hash=f"md5:{md5}",
                    fname=f"{stem}.gz",
                    path=target,
                    progressbar=False,
                )
                break
            except Exception as exc:  # noqa: BLE001 - any network failure tries the next mirror
                errors.append(f"{mirror}{stem}.gz: {exc.__class__.__name__}")
        else:
            raise DataError("; ".join(errors))


def resolve_mnist_dir(explicit_root: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Return the first directory holding all four MNIST files, downloading if needed.

    An explicit root that lacks the files is an error by itself: the user asked
    for that directory, so silently using another would hide their mistake.
    """
    if explicit_root is not None and not _has_all_files(Path(explicit_root)):
        raise DataError(
            f"MNIST not found in data.root={explicit_root}: expected " + ", ".join(f"{s}[.gz]" for s in MNIST_SHA256)
        )
    searched = candidate_dirs(explicit_root)
    for directory in searched:
        if _has_all_files(directory):
            return directory
    cache = default_cache_dir()
    if download:
        try:
            download_mnist(cache)
            return cache
        except DataError as exc:
            reason = f"download failed ({exc})"
    else:
        reason = "download disabled"
    raise DataError(
        "MNIST not found. Looked in: "
        + ", ".join(str(d) for d in searched)
        + f"; {reason}. Put the four idx files (train-images-idx3-ubyte.gz, ...) in one of "
        "those directories, or pass --data-dir / set SPIKEREPLAY_DATA."
    )


@dataclass
class MnistArrays:
    train_images: torch.Tensor  # (N, 28, 28) uint8
    train_labels: torch.Tensor  # (N,) int64
    test_images: torch.Tensor
    test_labels: torch.Tensor


def load_mnist(root: str | os.PathLike | None = None, download: bool = True) -> MnistArrays:
    """Load and verify MNIST from the resolved directory."""
    directory = resolve_mnist_dir(root, download=download)
    arrays = {}
    for stem, sha in MNIST_SHA256.items():
        arrays[stem] = read_idx_file(_find_file(directory, stem), sha)
    for split in ("train", "t10k"):
        images, labels = arrays[f"{split}-images-idx3-ubyte"], arrays[f"{split}-labels-idx1-ubyte"]
        check_images_labels(images, labels, f"{directory}/{split}")
    return MnistArrays(
        train_images=torch.from_numpy(arrays["train-images-idx3-ubyte"].copy()),
        train_labels=torch.from_numpy(arrays["train-labels-idx1-ubyte"].astype(np.int64)),
        test_images=torch.from_numpy(arrays["t10k-images-idx3-ubyte"].copy()),
        test_labels=torch.from_numpy(arrays["t10k-labels-idx1-ubyte"].astype(np.int64)),
    )


def check_images_labels(images: np.ndarray, labels: np.ndarray, name: str) -> None:
    """Refuse data whose shapes disagree or whose labels fall outside 0..9."""
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DataError(f"{name}: images {images.shape} and labels {labels.shape} do not match")
    if labels.size and labels.max() > 9:
        raise DataError(f"{name}: label {int(labels.max())} outside 0..9")


@dataclass
class TaskData:
    """One task of the stream: its classes and its train/val/test tensors."""

    task_id: int
    classes: tuple[int, ...]
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def batches_per_epoch(self, batch_size: int) -> int:
        return -(-self.train_x.shape[0] // batch_size)


def _select(images, labels, classes, limit_per_class, generator):
    """Indices of the samples of ``classes``, at most ``limit_per_class`` each (seeded)."""
    picked = []
    for cls in classes:
        idx = torch.nonzero(labels == cls).flatten()
        if limit_per_class is not None and idx.numel() > limit_per_class:
            idx = idx[torch.randperm(idx.numel(), generator=generator)[:limit_per_class]]
            idx = idx.sort().values
        picked.append(idx)
    return torch.cat(picked)


def split_tasks(
    mnist: MnistArrays,
    class_order: list[list[int]],
    val_fraction: float,
    seed: int,
    train_per_class: int | None = None,
    test_per_class: int | None = None,
) -> list[TaskData]:
    """Split MNIST into tasks by ``class_order``; each task's train part is split
    train/val by a permutation drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    tasks = []
    for task_id, classes in enumerate(class_order):
        train_idx = _select(mnist.train_images, mnist.train_labels, classes, train_per_class, generator)
        test_idx = _select(mnist.test_images, mnist.test_labels, classes, test_per_class, generator)
        perm = train_idx[torch.randperm(train_idx.numel(), generator=generator)]
        n_val = int(round(val_fraction * perm.numel()))
        val_idx, fit_idx = perm[:n_val].sort().values, perm[n_val:].sort().values
        tasks.append(
            TaskData(
                task_id=task_id,
                classes=tuple(classes),
                train_x=mnist.train_images[fit_idx],
                train_y=mnist.train_labels[fit_idx],
                val_x=mnist.train_images[val_idx],
                val_y=mnist.train_labels[val_idx],
                test_x=mnist.test_images[test_idx],
                test_y=mnist.test_labels[test_idx],
            )
        )
    return tasks


def merge_tasks(tasks: list[TaskData]) -> TaskData:
    """All tasks as one task (joint training is a one-task stream)."""
    return TaskData(
        task_id=0,
        classes=tuple(c for t in tasks for c in t.classes),
        train_x=torch.cat([t.train_x for t in tasks]),
        train_y=torch.cat([t.train_y for t in tasks]),
        val_x=torch.cat([t.val_x for t in tasks]),
        val_y=torch.cat([t.val_y for t in tasks]),
        test_x=torch.cat([t.test_x for t in tasks]),
        test_y=torch.cat([t.test_y for t in tasks]),
    )
