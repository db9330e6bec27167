"""The config's error messages: one phrase per bad key, naming the closest valid key or value where
one was mistyped, and the command-line override that set it."""

from __future__ import annotations

import difflib
import re

from pydantic import BaseModel, ValidationError

from spikereplay.config import Config


def did_you_mean(word: str, choices) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to a mistyped ``word``, else ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _section_fields(model: type[BaseModel], path: tuple) -> list[str]:
    """The keys valid beside the last part of ``path`` in ``model`` ([] where it is not a section)."""
    for part in path[:-1]:
        field = model.model_fields.get(str(part)) if isinstance(model, type) else None
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def describe_errors(
    exc: ValidationError, model: type[BaseModel] | None = None, sources: dict | None = None
) -> list[str]:
    """One phrase per error of a pydantic validation error, naming its key, the closest valid key or
    value where one was mistyped, and (``sources``: dotted key -> override text) the command-line
    override that set it."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            prefix = "".join(f"{part}." for part in err["loc"][:-1])
            close = difflib.get_close_matches(
                str(err["loc"][-1]), _section_fields(model, err["loc"]) if model else [], 1, 0.6
            )
            line = f"unknown key '{key}'" + (f" (did you mean '{prefix}{close[0]}'?)" if close else "")
        elif not key:  # a check across keys: its message names them
            line = msg
        else:
            hint = ""
            if err["type"] == "literal_error":
                hint = did_you_mean(err.get("input"), re.findall(r"'([^']*)'", err["ctx"]["expected"]))
            line = f"'{key}': {msg} (got {err.get('input')!r}){hint}"
        override = (sources or {}).get(key)
        if not key:  # a check across keys: the override whose key its message names
            override = next((text for name, text in (sources or {}).items() if name in msg), None)
        lines.append(line + (f" [from the override {override}]" if override else ""))
    return lines


def override_sources(overrides: list[str] | None) -> dict[str, str]:
    """Dotted key -> the ``key=value`` override text that set it."""
    return {text.split("=", 1)[0]: text for text in overrides or []}


def invalid_message(errors: list[str], source: str, sources: dict | None, what: str = "config") -> str:
    """``invalid <what> <source>: ...``, the source being the command line where every bad key came
    from an override (each such phrase ends with its ``[from the override ...]``), not the file."""
    if sources and all(line.endswith("]") for line in errors):
        source = "(command line)"
    return f"invalid {what} {source}: " + "; ".join(errors)


def format_validation_error(exc: ValidationError, source: str, what: str = "config", sources=None) -> str:
    """One line naming every bad key of a pydantic validation error (and the override that set it)."""
    return invalid_message(describe_errors(exc, Config if what == "config" else None, sources), source, sources, what)
