"""Datasets: one small file each, registered here with the facts the rest of the code needs
(number of classes, input shape and kind, default backbone), so that nothing else hard-codes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from spikereplay.datasets.tasks import ImageArrays, TaskData, merge_tasks, split_tasks


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    image_shape: tuple[int, ...]  # the shape of one input at one step: (channels, height, width) of an image
    load: Callable[..., ImageArrays]  # load(root, download) -> the train and test arrays
    class_names: tuple[str, ...] = ()  # what plots and reports call class i (default: its index)
    # "image": uint8 images, encoded into spikes per ``encoding``; "events": time-varying input binned
    # in time, uint8 (N, T, ...), fed bin by bin (``spikereplay.encoding.encode_inputs``)
    input_kind: str = "image"
    default_backbone: str = "conv"  # model.backbone where a config does not name one

    def class_name(self, index: int) -> str:
        return self.class_names[index] if index < len(self.class_names) else str(index)

    def task_label(self, position: int, classes) -> str:
        """How plots and reports name the task at ``position`` (0-based): its number, then its classes."""
        return f"task {position + 1} ({', '.join(self.class_name(c) for c in classes)})"


def _load_mnist(root=None, download=True) -> ImageArrays:
    from spikereplay.datasets.mnist import load_mnist

    return load_mnist(root, download=download)


def _load_fashion_mnist(root=None, download=True) -> ImageArrays:
    from spikereplay.datasets.fashion_mnist import load_fashion_mnist

    return load_fashion_mnist(root, download=download)


# Fashion-MNIST's class names, here so that naming a class does not load the data module
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", 10, (1, 28, 28), _load_mnist, tuple(str(digit) for digit in range(10))),
    "fashion_mnist": DatasetInfo("fashion_mnist", 10, (1, 28, 28), _load_fashion_mnist, FASHION_CLASSES),
}


def dataset_info(name: str) -> DatasetInfo:
    return DATASETS[name]


def load_dataset(name: str, root=None, download: bool = True) -> ImageArrays:
    """The train and test arrays of dataset ``name``, checked against its registered facts."""
    info = DATASETS[name]
    arrays = info.load(root, download)
    arrays.check(info.num_classes, name)
    return arrays


__all__ = [
    "DATASETS",
    "DatasetInfo",
    "ImageArrays",
    "TaskData",
    "dataset_info",
    "load_dataset",
    "merge_tasks",
    "split_tasks",
]
