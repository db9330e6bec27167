"""Stand-in for scikit-image: the published code imports it for its class-activation maps, which
its training and test runs do not draw."""

from . import transform

__all__ = ["transform"]
