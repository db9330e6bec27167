"""Stand-in for the parts of torchvision the published code uses (torchvision cannot be installed
here): MNIST read from spikereplay's bundled idx files, and the transforms it composes. The numerics
are torchvision's: ToTensor divides uint8 by 255 as float32; Resize to the image's own size and
Grayscale of a one-channel image leave it unchanged."""

from . import datasets, transforms

__all__ = ["datasets", "transforms"]
