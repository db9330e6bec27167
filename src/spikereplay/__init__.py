"""spikereplay: continual learning with spiking neural networks (snnTorch)."""

__version__ = "0.1.0"
