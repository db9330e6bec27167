"""Fashion-MNIST (Xiao et al. 2017): Zalando's 28x28 grayscale images of 10 kinds of clothing, in
MNIST's idx files under MNIST's file names, hash-checked.

Found in ``data.root`` / ``--data-dir``, else ``$SPIKEREPLAY_FASHION_MNIST``, else where Debian's
package puts it (``apt-get install dataset-fashion-mnist``: /usr/share/datasets/fashion-mnist/).
It is not downloaded: the machines this project runs on reach package registries only.
"""

from __future__ import annotations

import os
from pathlib import Path

from spikereplay.datasets.checksums import FASHION_MNIST_SHA256
from spikereplay.datasets.idx import find_file, load_idx_arrays
from spikereplay.datasets.tasks import ImageArrays
from spikereplay.errors import DataError

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
INSTALL = (
    "install it with `apt-get install dataset-fashion-mnist` (Debian, Ubuntu), or put the four idx files "
    "(train-images-idx3-ubyte.gz, ...) of github.com/zalandoresearch/fashion-mnist in a directory and "
    "pass --data-dir DIR or set SPIKEREPLAY_FASHION_MNIST=DIR"
)


def candidate_dirs(explicit_root: str | os.PathLike | None) -> list[Path]:
    """Where Fashion-MNIST is looked for, in order: explicit, $SPIKEREPLAY_FASHION_MNIST, Debian's."""
    if explicit_root is not None:
        return [Path(explicit_root)]  # asked for: another directory would hide the mistake
    dirs = [Path(os.environ["SPIKEREPLAY_FASHION_MNIST"])] if os.environ.get("SPIKEREPLAY_FASHION_MNIST") else []
    return [*dirs, DEBIAN_DIR]


def load_fashion_mnist(root: str | os.PathLike | None = None, download: bool = True) -> ImageArrays:
    """Load and verify Fashion-MNIST; DataError naming where it looked and how to install it."""
    searched = candidate_dirs(root)
    for directory in searched:
        if all(find_file(directory, stem) is not None for stem in FASHION_MNIST_SHA256):
            return load_idx_arrays(directory, FASHION_MNIST_SHA256, "fashion_mnist")
    raise DataError("Fashion-MNIST not found in " + ", ".join(str(d) for d in searched) + f": {INSTALL}")
