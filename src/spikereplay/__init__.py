"""spikereplay: continual learning with spiking neural networks (snnTorch).

The Python API (``spikereplay.api``): ``load_config``, ``run``, ``evaluate``, ``Result``.
"""

__version__ = "0.1.0"

_API = ("load_config", "run", "evaluate", "Result")


def __getattr__(name: str):
    # imported on first use, so that `spikereplay --help` and `import spikereplay.config` stay light
    if name in _API:
        from spikereplay import api

        return getattr(api, name)
    raise AttributeError(f"module 'spikereplay' has no attribute {name!r}")


__all__ = ["__version__", *_API]
