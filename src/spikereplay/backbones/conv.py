"""``conv``: the seed study's convolutional backbone (the default).

Conv2d(C, 12, 5) -> max-pool 2 -> Leaky -> Conv2d(12, 64, 5) -> max-pool 2 -> Leaky -> flatten
(1024 features for 28 x 28 images).

Two engines compute the same function (``model.engine``):
- ``fused``: every convolution runs once on all T x B inputs; only the membrane recurrence loops
  over time (``neuron.leaky_sequence``). A static input runs the first convolution once.
- ``textbook``: snnTorch's per-step loop with ``snn.Leaky`` modules, the reference for tests.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spikereplay.backbones.base import SpikingModule, record
from spikereplay.backbones.registry import register_backbone
from spikereplay.config import ModelConfig


def conv_features(input_shape: tuple[int, ...]) -> int:
    """Features after the two 5x5 convolutions (no padding) and 2x2 max-pools."""
    if len(input_shape) != 3:
        raise ValueError(f"the conv backbone takes images (channels, height, width), got input shape {input_shape}")
    _, height, width = input_shape
    for _ in range(2):
        height, width = (height - 4) // 2, (width - 4) // 2
    if height < 1 or width < 1:
        raise ValueError(f"images of shape {input_shape} are too small for two 5x5 conv + 2x2 pool stages")
    return 64 * height * width


@register_backbone("conv")
class ConvBackbone(SpikingModule):
    supports_stateless = True

    def __init__(self, cfg: ModelConfig, input_shape: tuple[int, ...], precision: str = "fp32", params=None):
        super().__init__(cfg, precision)
        self.features = conv_features(tuple(input_shape))
        self.conv1 = nn.Conv2d(input_shape[0], 12, 5)
        self.conv2 = nn.Conv2d(12, 64, 5)
        self.lif1, self.lif2 = self.make_leaky(), self.make_leaky()

    def forward(self, inputs, static: bool, num_steps: int, layer_spikes: list | None = None) -> torch.Tensor:
        """Spikes of the last conv stage, flattened per sample: (T, B, features)."""
        if self.textbook:
            return self._forward_textbook(inputs, static, num_steps, layer_spikes)
        device = self.conv1.weight.device.type
        with self.autocast(device):
            if static:
                cur1 = F.max_pool2d(self.conv1(inputs), 2)
                cur1 = cur1.to(self.real_dtype).unsqueeze(0).expand(num_steps, *cur1.shape)
            else:
                steps, batch = inputs.shape[:2]
                cur1 = F.max_pool2d(self.conv1(inputs.flatten(0, 1)), 2)
                cur1 = cur1.unflatten(0, (steps, batch))
        spk1, _ = self.leaky(cur1)
        record(layer_spikes, spk1)
        steps, batch = spk1.shape[:2]
        with self.autocast(device):
            spk1_flat = spk1.flatten(0, 1).contiguous(memory_format=torch.channels_last)
            cur2 = F.max_pool2d(self.conv2(spk1_flat), 2)
        if cur2.requires_grad:
            # The scan hands back a plain (NCHW) gradient; max-pool's backward would then copy its
            # whole channels_last input gradient to NCHW and back. Matching its layout costs one
            # copy of the 4x smaller pooled gradient instead. Same values, so the result is unchanged.
            cur2.register_hook(lambda grad: grad.contiguous(memory_format=torch.channels_last))
        spk2, _ = self.leaky(cur2.to(self.real_dtype).unflatten(0, (steps, batch)))
        record(layer_spikes, spk2)
        return spk2.flatten(2)

    def stateless_features(self, inputs, static: bool) -> torch.Tensor:
        """``quirks.stateless_steps``: with the membrane at 0 before every step, snn.Leaky gives
        m = input current and s = S(m - thr) exactly, whatever the reset mechanism. Spikes of the
        last stage, flattened: (B, features) for a static input, else (T*B, features)."""
        threshold = self.cfg.threshold
        device = self.conv1.weight.device.type
        with self.autocast(device):
            cur1 = F.max_pool2d(self.conv1(inputs if static else inputs.flatten(0, 1)), 2).to(self.real_dtype)
        spk1 = self.spike_fn(cur1 - threshold)
        with self.autocast(device):
            cur2 = F.max_pool2d(self.conv2(spk1), 2).to(self.real_dtype)
        return self.spike_fn(cur2 - threshold).flatten(1)

    def _forward_textbook(self, inputs, static, num_steps, layer_spikes):
        mem1 = mem2 = None
        device = self.conv1.weight.device.type
        first, second = [], []
        for t in range(num_steps):
            x_t = inputs if static else inputs[t]
            if self.stateless:  # the published code's init_leaky() inside the per-step forward
                mem1 = mem2 = None
            with self.autocast(device):
                cur1 = F.max_pool2d(self.conv1(x_t), 2).to(self.real_dtype)
            mem1 = torch.zeros_like(cur1) if mem1 is None else mem1
            spk1, mem1 = self.lif1(cur1, mem1)
            with self.autocast(device):
                cur2 = F.max_pool2d(self.conv2(spk1), 2).to(self.real_dtype)
            mem2 = torch.zeros_like(cur2) if mem2 is None else mem2
            spk2, mem2 = self.lif2(cur2, mem2)
            first.append(spk1)
            second.append(spk2)
        spk1, spk2 = torch.stack(first), torch.stack(second)
        record(layer_spikes, spk1)
        record(layer_spikes, spk2)
        return spk2.flatten(2)
