"""A spiking network for continual learning: a backbone (``backbones``), growing output heads
(``heads.Heads``) and one output Leaky layer.

Backbone: maps the encoded input over T steps to spikes ``[T, B, features]`` (``model.backbone``:
``conv``, the seed study's network and the default; ``mlp``; or a module of your own). Heads:
Linear(features, n) each; all heads' outputs are concatenated (in the order the heads were added)
and pass one output Leaky. A Leaky is elementwise, so one Leaky over the concatenation equals one
per head.

Engines (``model.engine``): ``fused`` runs each layer once on all T x B inputs and loops only the
membrane recurrence (``neuron.leaky_sequence``); ``textbook`` is snnTorch's per-step loop with
``snn.Leaky`` modules, kept as the reference for tests and benchmarks.
``model.compile`` compiles the fused engine's time loop (bit-identical); ``model.compile_forward``
compiles its whole forward (backbone, scans, head) as one graph, which is faster but sums some
gradients in another order. The heads' weights enter the graph as inputs, so adding a head does
not recompile it per head count.
The membrane starts at zero for every forward call, i.e. it is reset between
batches only and integrates over the T steps of a sample.

``stateless=True`` is the published code's quirk (``quirks.stateless_steps``): every membrane
restarts at zero at every step, so the network is a feed-forward map of each step's input, and a
static input gives the same output at every step (computed once).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spikereplay.backbones import UserBackbone, build_backbone
from spikereplay.backbones.base import SpikingModule
from spikereplay.backbones.conv import ConvBackbone
from spikereplay.config import ModelConfig
from spikereplay.heads import Heads

# the seed's network kept its layers at the top level before backbones existed: checkpoints of
# that time name them so, and load into ``backbone.*``
LEGACY_BACKBONE_KEYS = ("conv1.", "conv2.", "lif1.", "lif2.")


class SpikingNet(SpikingModule):
    def __init__(
        self,
        cfg: ModelConfig,
        backbone,
        num_classes: int,
        precision: str = "fp32",
        stateless: bool = False,
    ):
        super().__init__(cfg, precision)
        self.stateless = stateless
        self.backbone = backbone
        self.backbone.stateless = stateless
        self.features = backbone.features
        self.heads = Heads(self.features, num_classes, cfg.head_init, self.real_dtype)
        # snn.Leaky module: the textbook engine runs it; the fused engine reads its settings.
        self.lif_out = self.make_leaky()
        self.to(self.real_dtype)
        if isinstance(backbone, UserBackbone):  # the user's module keeps its own dtype
            backbone.net.to(backbone.input_dtype)
        self.register_load_state_dict_pre_hook(_upgrade_legacy_keys)

    @property
    def num_outputs(self) -> int:
        return self.heads.num_outputs

    def add_head(self, classes) -> torch.nn.Linear:
        """A head for ``classes`` (an int n: classes 0..n-1) on the model's device."""
        classes = range(classes) if isinstance(classes, int) else classes
        return self.heads.add_head(classes, self.device)

    @property
    def device(self) -> torch.device:
        return self.lif_out.threshold.device  # a buffer: it moves with the model, parameters or none

    def _autocast(self):
        return self.autocast(self.device.type)

    def forward(self, inputs: torch.Tensor, static: bool, num_steps: int, layer_spikes: list | None = None):
        """Output spikes and membrane, each (T, B, num_outputs).

        ``inputs``: (B, ...) if ``static`` (same at every step), else (T, B, ...). ``layer_spikes``:
        a list that receives each backbone layer's spikes, then the output layer's.
        """
        if not len(self.heads):
            raise RuntimeError("the model has no output head yet")
        if self.textbook:
            out = self._forward_textbook(inputs, static, num_steps, layer_spikes)
        else:
            run = SpikingNet._run_stateless if self.stateless else SpikingNet._run_fused
            weight, bias = self.heads.weights()  # outside the graph: a new head changes only their shape
            if self.cfg.compile_forward:
                run = _compiled(run)
                # One graph for every head count: plain tensors (one head's weight is a Parameter, a
                # guarded type) with a dynamic output dimension. The copy is of the heads only.
                weight, bias = weight.clone(), bias.clone()
                torch._dynamo.maybe_mark_dynamic(weight, 0)
                torch._dynamo.maybe_mark_dynamic(bias, 0)
            out = run(self, inputs, static, num_steps, weight, bias, layer_spikes)
        if layer_spikes is not None:
            layer_spikes.append(out[0])
        return out

    def _run_fused(self, inputs, static, num_steps, weight, bias, layer_spikes=None):
        features = self.backbone(inputs, static, num_steps, layer_spikes)
        with self._autocast():
            cur_out = F.linear(features, weight, bias).to(self.real_dtype)
        return self.leaky(cur_out)

    def _run_stateless(self, inputs, static, num_steps, weight, bias, layer_spikes=None):
        features = self.backbone.stateless_features(inputs, static)
        with self._autocast():
            cur_out = F.linear(features, weight, bias).to(self.real_dtype)
        spk_out = self.spike_fn(cur_out - self.cfg.threshold)
        if static:  # every step is the same; backward sums the T identical gradients
            return spk_out.expand(num_steps, *spk_out.shape), cur_out.expand(num_steps, *cur_out.shape)
        steps = inputs.shape[0]
        return spk_out.unflatten(0, (steps, -1)), cur_out.unflatten(0, (steps, -1))

    def _forward_textbook(self, inputs, static, num_steps, layer_spikes):
        features = self.backbone(inputs, static, num_steps, layer_spikes)
        weight, bias = self.heads.weights()
        mem_out = None
        spikes, mems = [], []
        for t in range(num_steps):
            with self._autocast():
                cur_out = F.linear(features[t], weight, bias).to(self.real_dtype)
            if self.stateless or mem_out is None:
                mem_out = torch.zeros_like(cur_out)
            spk_out, mem_out = self.lif_out(cur_out, mem_out)
            spikes.append(spk_out)
            mems.append(mem_out)
        return torch.stack(spikes), torch.stack(mems)


def current_names(named: dict) -> dict:
    """A mapping keyed by parameter name, with the names of before backbones (``conv1.weight``)
    given their place today (``backbone.conv1.weight``): strategies' saved per-parameter state."""
    return {("backbone." + k if k.startswith(LEGACY_BACKBONE_KEYS) else k): v for k, v in named.items()}


def _upgrade_legacy_keys(module, state_dict, prefix, *_args) -> None:
    for key in [k for k in state_dict if k.startswith(tuple(prefix + k for k in LEGACY_BACKBONE_KEYS))]:
        state_dict[prefix + "backbone." + key[len(prefix) :]] = state_dict.pop(key)


def build_model(
    cfg: ModelConfig,
    input_shape,
    num_classes: int,
    precision: str,
    stateless: bool,
    num_steps: int,
    backbone: str | None = None,
):
    """The network of ``cfg``: the backbone named ``backbone`` (default: ``model.backbone``, else
    conv) under growing heads."""
    name = backbone or cfg.backbone or "conv"
    backbone = build_backbone(cfg, tuple(input_shape), precision, num_steps, name)
    return SpikingNet(cfg, backbone, num_classes, precision, stateless)


class SpikingConvNet(SpikingNet):
    """The seed study's network (the conv backbone), built from an image shape."""

    def __init__(self, cfg: ModelConfig, image_shape, precision: str = "fp32", stateless: bool = False, num_classes=10):
        super().__init__(cfg, ConvBackbone(cfg, tuple(image_shape), precision), num_classes, precision, stateless)
        self.image_shape = tuple(image_shape)


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
