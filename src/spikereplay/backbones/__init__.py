"""Backbones: the spiking layers between the encoded input and the output heads, chosen by
``model.backbone``: a registered name (``conv``, the default; ``mlp``) or an import path
``package.module:Class`` to a network of your own.

Every backbone maps inputs over T steps to spikes ``[T, B, features]``; the model adds the heads
(``heads.Heads``) and the output Leaky layer. A backbone of your own is any ``nn.Module`` built
from snnTorch layers whose ``forward(x)`` takes ``x`` of shape ``[T, B, *input_shape]`` and
returns spikes ``[T, B, F]``, with its membranes starting at rest at every call (``init_leaky()``
inside ``forward``). It is constructed as ``Class(**model.backbone_params)``, and checked on one
dummy batch before anything is trained.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel
from torch import nn

from spikereplay.backbones import conv, mlp  # noqa: F401 - registers the built-in backbones
from spikereplay.backbones.base import SpikingModule
from spikereplay.backbones.registry import BACKBONES, register_backbone
from spikereplay.config import ModelConfig
from spikereplay.errors import one_line
from spikereplay.imports import resolve_name


class UserBackbone(nn.Module):
    """A user's snnTorch module as a backbone: static inputs are repeated over the T steps, and the
    output must be ``[T, B, F]``. The module keeps its own dtype (snnTorch's spikes are float32
    whatever their input), and its output is cast to the model's (``precision: fp64`` makes the
    heads double precision, not the module)."""

    supports_stateless = False

    def __init__(self, net: nn.Module, real_dtype: torch.dtype):
        super().__init__()
        self.net = net
        self.real_dtype = real_dtype
        self.input_dtype = next((p.dtype for p in net.parameters()), torch.float32)
        self.features: int | None = None

    def forward(self, inputs, static: bool, num_steps: int, layer_spikes: list | None = None) -> torch.Tensor:
        if static:
            inputs = inputs.unsqueeze(0).expand(num_steps, *inputs.shape)
        out = self.net(inputs.to(self.input_dtype))
        batch = inputs.shape[1]
        if not isinstance(out, torch.Tensor) or out.dim() != 3 or tuple(out.shape[:2]) != (num_steps, batch):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"returned {got} for an input of shape {tuple(inputs.shape)}; it must return [T, B, F]")
        if out.shape[2] == 0:
            raise ValueError(f"returned {tuple(out.shape)}: no features for the heads to read")
        if self.features is not None and out.shape[2] != self.features:
            raise ValueError(f"returned {out.shape[2]} features, {self.features} on its first batch")
        return out.to(self.real_dtype)


def resolve_backbone(name: str):
    """The class ``model.backbone`` names; ValueError naming the choices where there is none."""
    found = resolve_name(name, BACKBONES, "backbone")
    if not (isinstance(found, type) and issubclass(found, nn.Module)):
        raise ValueError(f"backbone {name!r} is not an nn.Module class")
    return found


def backbone_params(cls, params: dict) -> BaseModel | dict:
    """``model.backbone_params`` checked against a built-in backbone's ``Params`` (ValidationError);
    a user's class gets the mapping as keyword arguments, unchecked here."""
    if issubclass(cls, SpikingModule):
        return cls.Params.model_validate(params)
    return dict(params)


def build_backbone(
    cfg: ModelConfig, input_shape: tuple[int, ...], precision: str, num_steps: int, name: str = "conv"
) -> nn.Module:
    """The backbone ``name`` (``model.backbone``, or the dataset's default), its ``features`` known;
    ValueError naming what is wrong with a user's module (its constructor, or its output on one
    dummy batch)."""
    cls = resolve_backbone(name)
    params = backbone_params(cls, cfg.backbone_params)
    if issubclass(cls, SpikingModule):  # a built-in one checks its own sizes (ValueError)
        return cls(cfg, tuple(input_shape), precision, params)
    try:
        net = cls(**params)
    except Exception as exc:  # noqa: BLE001 - a user's constructor may raise anything; one line names it
        raise ValueError(f"backbone {name!r} could not be built from model.backbone_params: {one_line(exc)}") from None
    real_dtype = torch.float64 if precision == "fp64" else torch.float32
    backbone = UserBackbone(net, real_dtype)
    # one dummy batch, outside the run's random stream (a module may draw at its first call)
    with torch.random.fork_rng(), torch.no_grad():
        try:
            out = backbone(torch.zeros(num_steps, 2, *input_shape, dtype=real_dtype), False, num_steps)
        except Exception as exc:  # noqa: BLE001 - any failure of a user's forward is reported as one line
            raise ValueError(
                f"backbone {name!r} failed on a dummy batch of shape {(num_steps, 2, *input_shape)}: {one_line(exc)}"
            ) from None
    backbone.features = int(out.shape[2])
    return backbone


__all__ = ["BACKBONES", "SpikingModule", "UserBackbone", "build_backbone", "register_backbone", "resolve_backbone"]
