"""Objects named by an import path ``package.module:Name`` (custom strategies and backbones); the
current directory is importable, so a user's own file next to their config can be named."""

from __future__ import annotations

import difflib
import importlib
import os
import sys

from spikereplay.errors import one_line


def import_path(path: str, what: str):
    """The object ``path`` names; ValueError saying why it does not resolve."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{what} import path {path!r} must have the form 'package.module:Name'")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    unresolved = f"{what} import path {path!r} does not resolve"
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - a user's module may fail on import with anything (a SyntaxError)
        # a ModuleNotFoundError for the named module (or a parent package) means the path is wrong; any
        # other failure, a missing dependency of the module included, is the module's own
        wrong_path = isinstance(exc, ModuleNotFoundError) and (
            exc.name is None or module_name == exc.name or module_name.startswith(f"{exc.name}.")
        )
        if wrong_path:
            raise ValueError(f"{unresolved} ({one_line(exc)})") from None
        raise ValueError(
            f"{what} import path {path!r}: module {module_name!r} failed on import ({one_line(exc)})"
        ) from None
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise ValueError(f"{unresolved} ({one_line(exc)})") from None


def resolve_name(name: str, registry: dict, what: str):
    """What ``name`` stands for: a registered entry (an object, or an import path string), else the
    object of the import path ``name``; ValueError naming the choices and the closest one."""
    found = registry.get(name, name)
    if not isinstance(found, str):
        return found
    if ":" not in found:
        close = difflib.get_close_matches(name, list(registry), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ValueError(
            f"unknown {what} {name!r}: {hint}use one of {', '.join(registry)} or an import path 'module:Class'"
        )
    return import_path(found, what)
