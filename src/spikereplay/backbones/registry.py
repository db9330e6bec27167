"""Backbones by name (``model.backbone``), as ``@register_backbone("conv")`` declares them."""

from __future__ import annotations

BACKBONES: dict[str, type] = {}


def register_backbone(name: str):
    def register(cls: type) -> type:
        BACKBONES[name] = cls
        cls.name = name
        return cls

    return register
