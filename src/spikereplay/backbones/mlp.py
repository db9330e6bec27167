"""``mlp``: fully connected spiking layers, the literature's network for Permuted and Rotated MNIST
(e.g. van de Ven et al. 2022, two hidden layers).

flatten -> [Linear -> Leaky] per hidden size (``model.backbone_params.hidden``). A static input
runs the first Linear once; the membranes loop over time (``neuron.leaky_sequence``) or, with
``model.engine: textbook``, snn.Leaky runs step by step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from spikereplay.backbones.base import NoParams, SpikingModule, record
from spikereplay.backbones.registry import register_backbone
from spikereplay.config import ModelConfig

MAX_WEIGHTS = 10**9  # 4 GB in float32, before the optimizer's copies


def check_weights(sizes: list[int], hidden: list[int]) -> None:
    """Each hidden size may be within bounds and the layers between ``sizes`` still not fit in memory
    (two hidden layers of 10^6 make 10^12 weights: a run would fail deep in the allocator, or be killed)."""
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    if weights > MAX_WEIGHTS:
        raise ValueError(f"hidden {hidden} makes {weights:,} weights; at most {MAX_WEIGHTS:,} (4 GB in float32) fit")


@register_backbone("mlp")
class MLPBackbone(SpikingModule):
    class Params(NoParams):
        hidden: list[int] = Field(default_factory=lambda: [400, 400], min_length=1)

        def model_post_init(self, _context) -> None:
            if any(size < 1 or size > 1_000_000 for size in self.hidden):
                raise ValueError(f"hidden sizes must lie in 1..1000000, got {self.hidden}")
            check_weights(self.hidden, self.hidden)

    def __init__(self, cfg: ModelConfig, input_shape: tuple[int, ...], precision: str = "fp32", params=None):
        super().__init__(cfg, precision)
        params = params or self.Params()
        sizes = [math.prod(input_shape), *params.hidden]
        check_weights(sizes, params.hidden)  # with the input layer, known here
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.lifs = nn.ModuleList(self.make_leaky() for _ in params.hidden)
        self.features = sizes[-1]

    def forward(self, inputs, static: bool, num_steps: int, layer_spikes: list | None = None) -> torch.Tensor:
        x = inputs.flatten(1) if static else inputs.flatten(2)
        device = self.layers[0].weight.device.type
        for index, (layer, lif) in enumerate(zip(self.layers, self.lifs)):
            with self.autocast(device):
                current = F.linear(x, layer.weight, layer.bias).to(self.real_dtype)
            if index == 0 and static:
                current = current.unsqueeze(0).expand(num_steps, *current.shape)
            x = self._textbook_leaky(lif, current) if self.textbook else self.leaky(current)[0]
            record(layer_spikes, x)
        return x

    @staticmethod
    def _textbook_leaky(lif, currents: torch.Tensor) -> torch.Tensor:
        mem = torch.zeros_like(currents[0])
        spikes = []
        for current in currents:
            spk, mem = lif(current, mem)
            spikes.append(spk)
        return torch.stack(spikes)
