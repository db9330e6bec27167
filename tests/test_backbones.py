"""Backbones by name or import path, the heads module, and a user's own snnTorch network."""

from pathlib import Path

import pytest
import torch

from spikereplay import cli
from spikereplay.backbones import BACKBONES, build_backbone
from spikereplay.backbones.mlp import MLPBackbone
from spikereplay.config import ModelConfig
from spikereplay.experiment import run_experiment
from spikereplay.heads import Heads
from spikereplay.model import SpikingConvNet, SpikingNet, build_model

quiet = lambda *_: None  # noqa: E731

README = Path(__file__).parents[1] / "README.md"
# a module that returns [T*B, ...]: not [T, B, F]
FLAT = """
from torch import nn


class Flat(nn.Module):
    def forward(self, x):
        return x.flatten(1)


class Zero(nn.Module):  # [T, B, 0]: nothing for the heads to read
    def forward(self, x):
        return x.flatten(2)[..., :0]


class CtorFails(nn.Module):
    def __init__(self):
        raise RuntimeError("needs a GPU")


class MultiLine(nn.Module):
    def forward(self, x):
        raise RuntimeError("line one\\nline two")
"""


def readme_example() -> str:
    """The README's own snn.Leaky example (the python block after its marker), so the test runs
    exactly what a user copies."""
    text = README.read_text().split("<!-- example: my_nets.py -->", 1)[1]
    return text.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_nets.py").write_text(readme_example() + FLAT)
    (tmp_path / "broken_nets.py").write_text("def Net(:\n")  # a SyntaxError on import
    (tmp_path / "needs_dep.py").write_text("import no_such_dependency\n")  # found; its own import fails
    monkeypatch.chdir(tmp_path)  # the current directory is importable, as for custom strategies
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_nets"


def test_built_in_backbones_are_registered_by_name():
    assert {"conv", "mlp"} <= set(BACKBONES)


def test_the_mlp_backbone_maps_steps_to_spikes_and_records_each_layer():
    torch.manual_seed(0)
    backbone = MLPBackbone(ModelConfig(), (1, 28, 28), params=MLPBackbone.Params(hidden=[32, 16]))
    layers: list = []
    spikes = backbone(torch.rand(3, 1, 28, 28) * 4, True, 5, layers)
    assert spikes.shape == (5, 3, 16) and backbone.features == 16
    assert [tuple(s.shape) for s in layers] == [(5, 3, 32), (5, 3, 16)]
    assert set(spikes.unique().tolist()) <= {0.0, 1.0} and layers[0].sum() > 0


def test_the_mlp_fused_engine_matches_snn_leaky_step_by_step():
    x = torch.rand(4, 1, 28, 28) * 3
    outputs = []
    for engine in ("fused", "textbook"):
        torch.manual_seed(0)
        model = build_model(ModelConfig(engine=engine, backbone="mlp"), (1, 28, 28), 10, "fp32", False, 6)
        model.add_head(10)
        spikes, mem = model(x, True, 6)
        mem.sum().backward()
        outputs.append((spikes, mem, model.backbone.layers[0].weight.grad))
    (s1, m1, g1), (s2, m2, g2) = outputs
    assert torch.equal(s1, s2)
    torch.testing.assert_close(m1, m2)
    torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-6)


def test_heads_map_classes_to_columns_in_the_order_they_were_added():
    heads = Heads(features=8, num_classes=10)
    heads.add_head((3, 7))
    heads.add_head((1,))
    assert heads.num_outputs == 3 and heads.columns_of([7, 1, 3]) == [1, 2, 0]
    assert heads.column_classes().tolist() == [3, 7, 1]
    assert [list(r) for r in heads.head_columns()] == [[0, 1], [2]]
    assert heads.class_to_column[0] == -1  # no column yet
    assert len(heads[:-1]) == 1  # a slice is a plain list of heads


def test_a_checkpoint_from_before_backbones_loads_into_the_conv_backbone():
    torch.manual_seed(0)
    model = SpikingConvNet(ModelConfig(), (1, 28, 28))
    model.add_head(2)
    old_layout = {k.removeprefix("backbone."): v.clone() + 1 for k, v in model.state_dict().items()}
    assert "conv1.weight" in old_layout
    fresh = SpikingConvNet(ModelConfig(), (1, 28, 28))
    fresh.add_head(2)
    fresh.load_state_dict(old_layout)
    assert torch.equal(fresh.backbone.conv1.weight, old_layout["conv1.weight"])


def test_a_user_module_is_built_from_its_import_path_and_params(user_module):
    cfg = ModelConfig(backbone=f"{user_module}:TwoLayerNet", backbone_params={"hidden": 24})
    backbone = build_backbone(cfg, (1, 28, 28), "fp64", num_steps=3, name=cfg.backbone)
    assert backbone.features == 24
    model = SpikingNet(cfg, backbone, num_classes=10, precision="fp64")
    assert backbone.net.fc1.weight.dtype == torch.float32 and model.heads.dtype == torch.float64
    model.add_head(10)
    spikes, _ = model(torch.rand(2, 1, 28, 28, dtype=torch.float64), True, 3)  # repeated over the steps
    assert spikes.shape == (3, 2, 10)


def test_a_user_network_trains_with_every_strategy_part_and_resumes_after_a_kill(tiny_config, user_module):
    sections = {
        "model": {"backbone": f"{user_module}:TwoLayerNet", "backbone_params": {"hidden": 32}},
        "strategy": "derpp",
        "memory": {"size": 40},
        "data": {"class_order": [[0, 1], [2, 3], [4, 5]]},
    }
    first = run_experiment(tiny_config(**sections), log=quiet)
    again_cfg = tiny_config(**sections, output={"run_name": "again"})
    run_experiment(again_cfg, log=quiet)
    # killed during task 3: its checkpoint never got written
    (again_cfg.run_dir / "checkpoints" / "task_3.pt").unlink()
    resumed = run_experiment(again_cfg, log=quiet)
    assert resumed["accuracy_matrix"] == first["accuracy_matrix"] and resumed["complete"]
    assert first["final_average_accuracy"] > 100 / 6  # above chance among 6 classes: it learned


@pytest.mark.parametrize(
    ("backbone", "message"),
    [
        ("mpl", "unknown backbone 'mpl': did you mean 'mlp'?"),
        ("my_nets:Missing", "backbone import path 'my_nets:Missing' does not resolve"),
        ("my_nets:Flat", "it must return [T, B, F]"),
        ("no_such_module:Net", "does not resolve (ModuleNotFoundError: No module named 'no_such_module')"),
        ("broken_nets:Net", "module 'broken_nets' failed on import (SyntaxError: "),
        ("needs_dep:Net", "module 'needs_dep' failed on import (ModuleNotFoundError: No module named 'no_such_dep"),
        ("my_nets:Zero", "no features for the heads to read"),
        ("my_nets:CtorFails", "could not be built from model.backbone_params: RuntimeError: needs a GPU"),
        ("my_nets:MultiLine", "RuntimeError: line one line two"),
    ],
)
def test_a_backbone_that_does_not_exist_or_fit_is_one_error_line_and_nothing_is_written(
    tmp_path, user_module, capsys, backbone, message
):
    code = cli.main(
        [
            "train",
            "--config",
            str(Path(__file__).parents[1] / "configs" / "quick.yaml"),
            f"model.backbone={backbone}",
            f"output.runs_dir={tmp_path / 'runs'}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_an_mlp_too_large_with_its_input_layer_is_one_error_line_and_nothing_is_written(tmp_path, capsys):
    # the hidden layers alone make 10^9 weights, within the cap; 784 inputs x 10^6 add 7.84 x 10^8
    quick = str(Path(__file__).parents[1] / "configs" / "quick.yaml")
    overrides = ["model.backbone=mlp", "model.backbone_params.hidden=[1000000,1000]", f"output.runs_dir={tmp_path}"]
    code = cli.main(["train", "--config", quick, *overrides])
    err = capsys.readouterr().err
    assert code == 2 and "makes 1,784,000,000 weights" in err and len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir())


def test_bad_mlp_params_name_the_key(tiny_config):
    from spikereplay.errors import ConfigError

    with pytest.raises(ConfigError, match="model.backbone_params: 'hidden'"):
        tiny_config(model={"backbone": "mlp", "backbone_params": {"hidden": "wide"}})
    with pytest.raises(ConfigError, match="unknown key 'widths'"):
        tiny_config(model={"backbone": "mlp", "backbone_params": {"widths": [3]}})
    # each size within bounds, but a layer of 10^12 weights (4 TB) between them
    with pytest.raises(ConfigError, match=r"hidden \[1000000, 1000000\] makes 1,000,000,000,000 weights"):
        tiny_config(model={"backbone": "mlp", "backbone_params": {"hidden": [1000000, 1000000]}})


def test_the_model_hands_back_every_layers_spikes_for_counting_operations():
    torch.manual_seed(0)
    model = SpikingConvNet(ModelConfig(), (1, 28, 28))
    model.add_head(10)
    layers: list = []
    spikes, _ = model(torch.rand(3, 1, 28, 28) * 3, True, 4, layers)
    assert [tuple(s.shape) for s in layers] == [(4, 3, 12, 12, 12), (4, 3, 64, 4, 4), (4, 3, 10)]
    assert torch.equal(layers[-1], spikes)
