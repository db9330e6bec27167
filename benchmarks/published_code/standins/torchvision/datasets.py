"""``datasets.MNIST`` with torchvision's attributes (``data`` uint8 [N, 28, 28], ``targets`` int64)."""

from __future__ import annotations

import os
from pathlib import Path

from spikereplay.datasets import load_dataset


class MNIST:
    def __init__(self, root, train: bool = True, download: bool = False, transform=None):
        arrays = load_dataset("mnist", os.environ.get("SPIKEREPLAY_MNIST_DIR") or str(Path(root)), download=False)
        self.data = arrays.train_images if train else arrays.test_images
        self.targets = arrays.train_labels if train else arrays.test_labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index):
        image = self.data[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])
