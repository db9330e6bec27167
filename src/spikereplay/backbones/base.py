"""What every built-in spiking layer stack shares: the model's settings (neuron, surrogate,
precision) and the two ways of running a Leaky layer over T steps.

A backbone maps inputs over T steps to spikes ``[T, B, features]``. Built-in backbones subclass
``SpikingModule`` and implement ``forward(inputs, static, num_steps, layer_spikes=None)``:
``inputs`` is ``[B, ...]`` when ``static`` (the same at every step, so a first layer can run once)
and ``[T, B, ...]`` otherwise; ``layer_spikes``, when a list is given, receives each spiking layer's
spikes ``[T, B, ...]`` in order (for counting synaptic operations). A user's own snnTorch module
needs none of this: ``backbones.UserBackbone`` adapts any ``nn.Module`` mapping ``[T, B, ...]`` to
``[T, B, F]``.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

import snntorch as snn
import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from spikereplay.config import ModelConfig
from spikereplay.neuron import leaky_sequence, make_surrogate


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SpikingModule(nn.Module):
    """Holds the neuron settings of ``model:`` and runs Leaky layers with them (fused or snn.Leaky)."""

    Params: ClassVar[type[BaseModel]] = NoParams
    # whether quirks.stateless_steps (the published code's membrane reset at every step) is implemented
    supports_stateless: ClassVar[bool] = False

    def __init__(self, cfg: ModelConfig, precision: str = "fp32"):
        super().__init__()
        self.cfg = cfg
        self.precision = precision
        # the dtype of membranes, currents and parameters (bf16 runs under autocast with fp32 parameters)
        self.real_dtype = torch.float64 if precision == "fp64" else torch.float32
        self.spike_fn = make_surrogate(cfg.surrogate, cfg.surrogate_slope)
        self.stateless = False  # quirks.stateless_steps, set by the model on backbones that support it

    def make_leaky(self) -> snn.Leaky:
        """An snn.Leaky with the model's settings: the textbook engine runs it; the fused one reads it."""
        return snn.Leaky(
            beta=self.cfg.beta,
            threshold=self.cfg.threshold,
            spike_grad=self.spike_fn,
            reset_mechanism=self.cfg.reset_mechanism,
            reset_delay=self.cfg.reset_delay,
        )

    def autocast(self, device_type: str):
        if self.precision == "bf16":
            return torch.autocast(device_type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def leaky(self, currents: torch.Tensor):
        """Spikes and membrane of a Leaky layer over currents ``[T, ...]`` (``neuron.leaky_sequence``)."""
        return leaky_sequence(
            currents,
            self.cfg.beta,
            self.cfg.threshold,
            self.spike_fn,
            self.cfg.reset_mechanism,
            self.cfg.reset_delay,
            # inside a compiled forward the eager scan is traced into the graph (the same ops), so
            # the graph does not depend on the scan-compile cache being filled or not
            self.cfg.compile and not self.cfg.compile_forward,
        )

    @property
    def textbook(self) -> bool:
        return self.cfg.engine == "textbook"


def record(layer_spikes: list | None, spikes: torch.Tensor) -> None:
    if layer_spikes is not None:
        layer_spikes.append(spikes)
