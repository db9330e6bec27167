"""Streams by name (``stream.kind``), as ``@register_stream("domain")`` declares them: the function
that builds a stream's tasks from the config and the dataset's arrays."""

from __future__ import annotations

TASK_BUILDERS: dict = {}


def register_stream(kind: str):
    def register(build_tasks):
        TASK_BUILDERS[kind] = build_tasks
        return build_tasks

    return register
