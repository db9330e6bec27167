"""MNIST: the idx files, found in the repo, a cache or downloaded with pooch, and hash-checked."""

from __future__ import annotations

import os
from pathlib import Path

from spikereplay.datasets.checksums import MNIST_SHA256
from spikereplay.datasets.idx import find_file as _find_file
from spikereplay.datasets.idx import load_idx_arrays
from spikereplay.datasets.tasks import ImageArrays
from spikereplay.errors import DataError

# MD5 of the original .gz downloads, for pooch's check of what it fetches.
MNIST_GZ_MD5 = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
NUM_CLASSES = 10
REPO_DATA_DIR = Path(__file__).resolve().parents[3] / "data" / "mnist"
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


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


def load_mnist(root: str | os.PathLike | None = None, download: bool = True) -> ImageArrays:
    """Load and verify MNIST from the resolved directory."""
    return load_idx_arrays(resolve_mnist_dir(root, download=download), MNIST_SHA256, "mnist")
