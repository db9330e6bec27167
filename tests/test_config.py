import subprocess
import sys

import pytest

from spikereplay.errors import ConfigError
from spikereplay.loader import load_config


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_are_the_seed_protocol():
    cfg = load_config(None)
    assert (cfg.training.num_steps, cfg.training.batch_size, cfg.training.epochs) == (30, 16, 5)
    assert (cfg.model.beta, cfg.model.surrogate, cfg.model.surrogate_slope) == (0.99, "fast_sigmoid", 25.0)
    assert cfg.encoding.kind == "rate_conv" and cfg.memory.store_prob == 0.33


def test_overrides_are_dotted_and_typed(tmp_path):
    cfg = load_config(
        write(tmp_path, "strategy: replay\nmemory: {batches_per_task: 5}\n"),
        ["training.num_steps=10", "memory.batches_per_task=40", "replay.heads=own"],
    )
    assert cfg.training.num_steps == 10 and cfg.memory.batches_per_task == 40 and cfg.replay.heads == "own"
    assert cfg.name == "c"


@pytest.mark.parametrize(
    "text,overrides,key",
    [
        ("trainig: {epochs: 1}\n", [], "trainig"),
        ("", ["training.epoch=3"], "training.epoch"),
        ("", ["training.num_steps=0"], "training.num_steps"),
        ("", ["memory.batches_per_task=-1"], "memory.batches_per_task"),
        ("data: {class_order: [[0, 1], [1, 2]]}\n", [], "data.class_order"),
        ("", ["training.batch_size=many"], "training.batch_size"),
        ("strategy: replay\n", [], "batches_per_task"),
        ("", ["scenario=domain_incremental"], "scenario"),
        ("", ["output.run_name=../elsewhere"], "output.run_name"),
        ("name: ''\n", [], "name"),
        ("", ["training.lr=.inf"], "training.lr"),
        ("", ["model.beta=.nan"], "model.beta"),
        ("strategy: lwf\n", ["strategy_params.alpha=.inf"], "strategy_params: 'alpha'"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(write(tmp_path, text), overrides)


def test_non_mapping_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "a: [1,\n"))
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["training.epochs"])


def test_cli_bad_config_exits_2_and_writes_nothing(tmp_path):
    path = write(tmp_path, f"output: {{runs_dir: {tmp_path / 'runs'}}}\ntraining: {{num_stepz: 3}}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "spikereplay.cli", "train", "--config", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "unknown key 'training.num_stepz'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_cli_missing_config_file_exits_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "spikereplay.cli", "train", "--config", str(tmp_path / "no.yaml")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "cannot read config" in proc.stderr


def test_every_shipped_config_validates():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "configs"
    paths = sorted(root.rglob("*.yaml"))
    assert len(paths) >= 30
    for path in paths:
        cfg = load_config(path)
        assert cfg.name == path.stem
    assert load_config(root / "seed" / "tf_replay_mr40.yaml").training.lr == 1e-4


def test_unavailable_cuda_device_is_refused_before_writing(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    path = write(tmp_path, f"device: cuda\noutput: {{runs_dir: {tmp_path / 'runs'}}}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "spikereplay.cli", "train", "--config", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "not available" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_a_config_states_only_what_differs_from_its_base(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "base.yaml").write_text("name: base\nseed: 3\ntraining: {epochs: 2, lr: 0.01}\n")
    (tmp_path / "sub" / "child.yaml").write_text("base: ../base.yaml\ntraining: {epochs: 4}\n")
    cfg = load_config(tmp_path / "sub" / "child.yaml", ["training.num_steps=7"])
    assert (cfg.seed, cfg.training.epochs, cfg.training.lr, cfg.training.num_steps) == (3, 4, 0.01, 7)
    assert cfg.name == "child"  # a file's own name, not its base's
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        load_config(tmp_path / "loop.yaml")
    (tmp_path / "missing.yaml").write_text("base: nowhere.yaml\n")
    with pytest.raises(ConfigError, match="nowhere.yaml"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["training.num_step=4"], "unknown key 'training.num_step' (did you mean 'training.num_steps'?)"),
        (["strategy=ewc"], "did you mean 'ewc_on'?"),
        (["scenario=class_incremntal"], "(did you mean 'class_incremental'?)"),
        (["data.dataset=mnst"], "(did you mean 'mnist'?)"),
        (["strategy=der", "memory.size=10", "strategy_params.alfa=1"], "unknown key 'alfa' (did you mean 'alpha'?)"),
    ],
)
def test_a_mistyped_key_or_name_gets_the_closest_valid_one_and_the_override_that_set_it(tmp_path, overrides, expected):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "seed: 1\n"), overrides)
    message = str(caught.value)
    assert expected in message
    if not overrides[-1].startswith("strategy_params"):
        # the typo was on the command line, not in the file: the message says so
        assert (
            message.startswith("invalid config (command line):") and f"[from the override {overrides[-1]}]" in message
        )


def test_a_bad_key_in_the_file_blames_the_file_and_an_unlike_name_gets_no_guess(tmp_path):
    path = write(tmp_path, "training: {zzz: 3}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, ["training.epochs=2"])
    assert str(caught.value) == f"invalid config {path}: unknown key 'training.zzz'"


def test_a_yaml_syntax_error_is_one_line_naming_the_file_line_and_column(tmp_path):
    path = write(tmp_path, "training:\n  lr: [1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"config {path} is not valid YAML:") and "line 3, column 1" in message
    assert "\n" not in message and "<unicode string>" not in message


def test_the_config_schema_is_a_leaf_that_imports_no_registry():
    code = "import sys, spikereplay.config; print(sorted(m for m in sys.modules if m.startswith('spikereplay.')))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "['spikereplay.config', 'spikereplay.quirks']"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"training": {"num_steps": 10**9}}, "training.num_steps"),
        ({"model": {"threshold": 1e38}}, "model.threshold"),
        ({"memory": {"size": 10**12}}, "memory.size"),
        ({"strategy": "der", "memory": {"size": 10}, "strategy_params": {"alpha": 1e38}}, "alpha"),
        ({"strategy": "ewc_on", "strategy_params": {"e_lambda": 1e38}}, "e_lambda"),
        ({"training": {"batch_size": 10**12}}, "training.batch_size"),
        ({"stream": {"num_tasks": 10**12}}, "stream.num_tasks"),
        ({"data": {"train_per_class": 10**12}}, "data.train_per_class"),
        ({"stream": {"eval_every": 10**20}}, "stream.eval_every"),
    ],
)
def test_a_number_too_large_for_the_arithmetic_or_the_memory_is_refused_naming_its_key(raw, key):
    from spikereplay.loader import config_from_dict

    with pytest.raises(ConfigError, match=f"'{key}': Input should be less than or equal to"):
        config_from_dict(raw)
