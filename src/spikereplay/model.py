"""The convolutional SNN of the seed study, with a growable set of output heads.

Backbone: Conv2d(C,12,5) -> max-pool 2 -> Leaky -> Conv2d(12,64,5) -> max-pool 2
-> Leaky -> flatten (1024 for 28x28 images). Heads: Linear(features, n) each; all heads' outputs are
concatenated (in the order the heads were added) and pass one output Leaky.
A Leaky is elementwise, so one Leaky over the concatenation equals one per head.

Two engines compute the same function:
- ``fused``: every conv/linear runs once on all T x B inputs; only the membrane
  recurrence loops over time (``neuron.leaky_sequence``). A static input (the
  same at every step) runs the first conv once.
- ``textbook``: snnTorch's per-step loop with ``snn.Leaky`` modules, kept as
  the reference for tests and benchmarks.
``model.compile`` compiles the fused engine's time loop (bit-identical); ``model.compile_forward``
compiles its whole forward (convs, pools, scans, head) as one graph, which is faster but sums some
gradients in another order. The heads' weights enter the graph as inputs, so adding a head does
not recompile it per head count.
The membrane starts at zero for every forward call, i.e. it is reset between
batches only and integrates over the T steps of a sample.

``stateless=True`` is the published code's quirk (``quirks.stateless_steps``): every membrane
restarts at zero at every step, so the network is a feed-forward map of each step's input, and a
static input gives the same output at every step (computed once).
"""

from __future__ import annotations

import contextlib

import snntorch as snn
import torch
import torch.nn.functional as F
from torch import nn

from spikereplay.config import ModelConfig
from spikereplay.neuron import leaky_sequence, make_surrogate


def backbone_features(image_shape: tuple[int, int, int]) -> int:
    """Features after the two 5x5 convolutions (no padding) and 2x2 max-pools."""
    _, height, width = image_shape
    for _ in range(2):
        height, width = (height - 4) // 2, (width - 4) // 2
    if height < 1 or width < 1:
        raise ValueError(f"images of shape {image_shape} are too small for two 5x5 conv + 2x2 pool stages")
    return 64 * height * width


class SpikingConvNet(nn.Module):
    def __init__(
        self, cfg: ModelConfig, image_shape: tuple[int, int, int], precision: str = "fp32", stateless: bool = False
    ):
        super().__init__()
        self.cfg = cfg
        self.precision = precision
        # the dtype of membranes, currents and parameters (bf16 runs under autocast with fp32 parameters)
        self.real_dtype = torch.float64 if precision == "fp64" else torch.float32
        self.stateless = stateless
        self.image_shape = tuple(image_shape)
        self.features = backbone_features(self.image_shape)
        self.spike_fn = make_surrogate(cfg.surrogate, cfg.surrogate_slope)
        self.conv1 = nn.Conv2d(self.image_shape[0], 12, 5)
        self.conv2 = nn.Conv2d(12, 64, 5)
        self.heads = nn.ModuleList()
        # snn.Leaky modules: the textbook engine runs them; the fused engine reads their settings.
        self.lif1, self.lif2, self.lif_out = (self._make_leaky() for _ in range(3))
        self.to(self.real_dtype)

    def _make_leaky(self) -> snn.Leaky:
        return snn.Leaky(
            beta=self.cfg.beta,
            threshold=self.cfg.threshold,
            spike_grad=self.spike_fn,
            reset_mechanism=self.cfg.reset_mechanism,
            reset_delay=self.cfg.reset_delay,
        )

    @property
    def num_outputs(self) -> int:
        return sum(h.out_features for h in self.heads)

    def add_head(self, num_classes: int) -> nn.Linear:
        device = self.conv1.weight.device
        # Constructed the same way for every init, so the RNG stream that follows does not depend on it.
        head = nn.Linear(self.features, num_classes).to(device, self.real_dtype)
        if self.cfg.head_init == "zero":
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.heads.append(head)
        return head

    def _head_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        if len(self.heads) == 1:
            return self.heads[0].weight, self.heads[0].bias
        return torch.cat([h.weight for h in self.heads]), torch.cat([h.bias for h in self.heads])

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.conv1.weight.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def forward(self, inputs: torch.Tensor, static: bool, num_steps: int):
        """Output spikes and membrane, each (T, B, num_outputs).

        ``inputs``: (B, C, H, W) if ``static`` (same at every step), else (T, B, C, H, W).
        """
        if not self.heads:
            raise RuntimeError("the model has no output head yet")
        if self.cfg.engine == "textbook":
            return self._forward_textbook(inputs, static, num_steps)
        run = SpikingConvNet._run_stateless if self.stateless else SpikingConvNet._run_fused
        weight, bias = self._head_weights()  # outside the graph: a new head changes only their shape
        if self.cfg.compile_forward:
            run = _compiled(run)
            # One graph for every head count: plain tensors (one head's weight is a Parameter, a
            # guarded type) with a dynamic output dimension. The copy is of the heads only.
            weight, bias = weight.clone(), bias.clone()
            torch._dynamo.maybe_mark_dynamic(weight, 0)
            torch._dynamo.maybe_mark_dynamic(bias, 0)
        return run(self, inputs, static, num_steps, weight, bias)

    def _run_fused(self, inputs, static, num_steps, weight, bias):
        features = self._backbone_fused(inputs, static, num_steps)
        with self._autocast():
            cur_out = F.linear(features, weight, bias).to(self.real_dtype)
        return self._leaky(cur_out)

    def _run_stateless(self, inputs, static, num_steps, weight, bias):
        features = self._backbone_stateless(inputs, static, num_steps)
        with self._autocast():
            cur_out = F.linear(features, weight, bias).to(self.real_dtype)
        spk_out = self.spike_fn(cur_out - self.cfg.threshold)
        if static:  # every step is the same; backward sums the T identical gradients
            return spk_out.expand(num_steps, *spk_out.shape), cur_out.expand(num_steps, *cur_out.shape)
        steps = inputs.shape[0]
        return spk_out.unflatten(0, (steps, -1)), cur_out.unflatten(0, (steps, -1))

    def _leaky(self, currents: torch.Tensor):
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

    def _backbone_fused(self, inputs, static, num_steps):
        """Spikes of the last conv stage, flattened per sample: (T, B, features)."""
        with self._autocast():
            if static:
                cur1 = F.max_pool2d(self.conv1(inputs), 2)
                cur1 = cur1.to(self.real_dtype).unsqueeze(0).expand(num_steps, *cur1.shape)
            else:
                steps, batch = inputs.shape[:2]
                cur1 = F.max_pool2d(self.conv1(inputs.flatten(0, 1)), 2)
                cur1 = cur1.unflatten(0, (steps, batch))
        spk1, _ = self._leaky(cur1)
        steps, batch = spk1.shape[:2]
        with self._autocast():
            spk1_flat = spk1.flatten(0, 1).contiguous(memory_format=torch.channels_last)
            cur2 = F.max_pool2d(self.conv2(spk1_flat), 2)
        if cur2.requires_grad:
            # The scan hands back a plain (NCHW) gradient; max-pool's backward would then copy its
            # whole channels_last input gradient to NCHW and back. Matching its layout costs one
            # copy of the 4x smaller pooled gradient instead. Same values, so the result is unchanged.
            cur2.register_hook(lambda grad: grad.contiguous(memory_format=torch.channels_last))
        spk2, _ = self._leaky(cur2.to(self.real_dtype).unflatten(0, (steps, batch)))
        return spk2.flatten(2)

    def _backbone_stateless(self, inputs, static, num_steps):
        """With the membrane at 0 before every step, snn.Leaky gives m = input current and
        s = S(m - thr) exactly, whatever the reset mechanism. Spikes of the last conv stage,
        flattened: (B, features) for a static input (the same at every step), else (T*B, features)."""
        threshold = self.cfg.threshold
        with self._autocast():
            cur1 = F.max_pool2d(self.conv1(inputs if static else inputs.flatten(0, 1)), 2).to(self.real_dtype)
        spk1 = self.spike_fn(cur1 - threshold)
        with self._autocast():
            cur2 = F.max_pool2d(self.conv2(spk1), 2).to(self.real_dtype)
        return self.spike_fn(cur2 - threshold).flatten(1)

    def _forward_textbook(self, inputs, static, num_steps):
        mem1 = mem2 = mem_out = None
        weight, bias = self._head_weights()
        spikes, mems = [], []
        for t in range(num_steps):
            x_t = inputs if static else inputs[t]
            with self._autocast():
                cur1 = F.max_pool2d(self.conv1(x_t), 2).to(self.real_dtype)
            if self.stateless:  # the published code's init_leaky() inside the per-step forward
                mem1 = mem2 = mem_out = None
            mem1 = torch.zeros_like(cur1) if mem1 is None else mem1
            spk1, mem1 = self.lif1(cur1, mem1)
            with self._autocast():
                cur2 = F.max_pool2d(self.conv2(spk1), 2).to(self.real_dtype)
            mem2 = torch.zeros_like(cur2) if mem2 is None else mem2
            spk2, mem2 = self.lif2(cur2, mem2)
            with self._autocast():
                cur_out = F.linear(spk2.flatten(1), weight, bias).to(self.real_dtype)
            mem_out = torch.zeros_like(cur_out) if mem_out is None else mem_out
            spk_out, mem_out = self.lif_out(cur_out, mem_out)
            spikes.append(spk_out)
            mems.append(mem_out)
        return torch.stack(spikes), torch.stack(mems)


_compiled_forwards: dict = {}


def _compiled(forward):
    """One compiled graph family per forward function, shared by all models (teacher copies too)."""
    if forward not in _compiled_forwards:
        # graphs per head count, batch shape, grad mode and model instance: more than dynamo's default 8
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
        _compiled_forwards[forward] = torch.compile(forward)
    return _compiled_forwards[forward]


def predict(spikes: torch.Tensor, mems: torch.Tensor, ties_to_lowest: bool = False) -> torch.Tensor:
    """Class index per sample: most output spikes; ties broken by the larger
    summed output membrane potential (spike counts tie often in SNNs), or with ``ties_to_lowest``
    given to the lowest output index (snnTorch's ``accuracy_rate``, the published code's rule)."""
    counts = spikes.sum(0)
    if ties_to_lowest:
        return counts.argmax(dim=-1)  # torch.argmax returns the first maximal index
    mem_sum = mems.sum(0)
    is_top = counts == counts.max(dim=-1, keepdim=True).values
    return torch.where(is_top, mem_sum, torch.full_like(mem_sum, -torch.inf)).argmax(dim=-1)


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512 or newer); elsewhere it is emulated."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return False


def precision_warning(precision: str, device: torch.device, native_bf16: bool) -> str | None:
    """The warning for bf16 on a CPU that emulates it, else None.

    Measured with ``spikereplay bench`` on an AVX2-only CPU: bf16 + compile trains at 35 samples/s
    against 244 for fp32 + compile (T=30, B=32), where an AVX512 CPU gains 1.7x from bf16.
    """
    if precision != "bf16" or device.type != "cpu" or native_bf16:
        return None
    return (
        "precision bf16 on a CPU without native bf16 (no AVX512): it is emulated here and trains "
        "several times slower than fp32; precision=fp32 is faster (its numbers differ slightly)"
    )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
