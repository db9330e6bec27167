"""Objects named by an import path ``package.module:Name`` (custom strategies and backbones); the
current directory is importable, so a user's own file next to their config can be named."""

from __future__ import annotations

import importlib
import os
import sys


def import_path(path: str, what: str):
    """The object ``path`` names; ValueError saying why it does not resolve."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{what} import path {path!r} must have the form 'package.module:Name'")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"{what} import path {path!r} does not resolve ({exc})") from None
