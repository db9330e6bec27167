"""The published code's quirks (config ``quirks``): each on a hand-made case, off by default, and a
faithful tiny run that resumes to the same matrix."""

import pytest
import snntorch as snn
import torch
import torch.nn.functional as F

from spikereplay.config import Config, ModelConfig
from spikereplay.encoding import draw_spike_images, encode
from spikereplay.errors import ConfigError
from spikereplay.experiment import build_tasks, build_trainer, run_experiment
from spikereplay.hooks import SnapshotEvery
from spikereplay.loader import config_from_dict, load_config
from spikereplay.losses import count_loss
from spikereplay.model import SpikingConvNet, predict
from spikereplay.quirks import QuirksConfig
from tests.conftest import TINY, merge


def quiet(*_):
    pass


def stateless_model(engine="fused"):
    torch.manual_seed(0)
    model = SpikingConvNet(ModelConfig(engine=engine), (1, 28, 28), stateless=True)
    model.add_head(2)
    model.add_head(3)
    return model


def test_every_quirk_is_off_by_default():
    assert not any(QuirksConfig().model_dump().values())
    assert not Config().quirks.any
    assert not SpikingConvNet(ModelConfig(), (1, 28, 28)).stateless


def test_stateless_static_input_fires_0_or_T_times_as_one_hand_computed_step():
    model = stateless_model()
    with torch.no_grad():
        for head in model.heads:  # strong enough that some outputs fire and some do not
            head.weight.mul_(30.0)
    torch.manual_seed(1)
    image = (torch.rand(6, 1, 28, 28) < 0.4).float() * 3.0
    steps = 7
    spikes, mems = model(image, True, steps)
    counts = spikes.sum(0)
    # one step by hand: a membrane starting at 0 equals the input current, a spike is current > 1
    hidden1 = (F.max_pool2d(F.conv2d(image, model.backbone.conv1.weight, model.backbone.conv1.bias), 2) > 1.0).float()
    hidden2 = (F.max_pool2d(F.conv2d(hidden1, model.backbone.conv2.weight, model.backbone.conv2.bias), 2) > 1.0).float()
    weight, bias = model.heads.weights()
    current = hidden2.flatten(1) @ weight.T + bias
    assert torch.equal(counts, steps * (current > 1.0).float())
    assert set(counts.unique().tolist()) == {0.0, float(steps)}
    assert torch.allclose(mems, current.expand(steps, -1, -1), atol=1e-5)


@pytest.mark.parametrize("static", [True, False])
def test_stateless_fused_equals_snn_leaky_restarted_at_every_step(static):
    fused, textbook = stateless_model("fused"), stateless_model("textbook")
    torch.manual_seed(2)
    steps = 5
    images = torch.rand(4, 1, 28, 28) * 3.0 if static else torch.rand(steps, 4, 1, 28, 28) * 3.0
    outputs = [model(images, static, steps) for model in (fused, textbook)]
    for got, want in zip(outputs[0], outputs[1]):
        assert torch.allclose(got, want, atol=1e-5)
    for spikes, mems in outputs:
        (spikes.sum() + 0.01 * mems.pow(2).sum()).backward()
    for (name, p_fused), p_textbook in zip(fused.named_parameters(), textbook.parameters()):
        assert torch.allclose(p_fused.grad, p_textbook.grad, rtol=1e-4, atol=1e-4), name


def test_textbook_stateless_is_the_published_per_step_init_leaky():
    """The published Backbone: init_leaky() then one Leaky call per forward, the forward run once per step."""
    model = stateless_model("textbook")
    lif = snn.Leaky(beta=0.99, spike_grad=model.spike_fn)
    torch.manual_seed(3)
    images = torch.rand(3, 1, 28, 28) * 3.0
    spikes, _ = model(images, True, 4)
    for t in range(4):
        mem = lif.init_leaky()
        spk1, _ = lif(F.max_pool2d(model.backbone.conv1(images), 2), mem)
        spk2, _ = lif(F.max_pool2d(model.backbone.conv2(spk1), 2), lif.init_leaky())
        weight, bias = model.heads.weights()
        out, _ = lif(F.linear(spk2.flatten(1), weight, bias), lif.init_leaky())
        assert torch.equal(out, spikes[t])


def test_ties_go_to_the_lowest_index_only_under_the_quirk():
    spikes = torch.tensor([[[1.0, 1.0, 0.0]], [[1.0, 1.0, 1.0]]])  # counts 2, 2, 1: a tie
    mems = torch.tensor([[[0.1, 0.9, 0.0]], [[0.1, 0.9, 0.0]]])
    assert predict(spikes, mems).tolist() == [1]  # the larger summed membrane
    assert predict(spikes, mems, ties_to_lowest=True).tolist() == [0]


def trainer_for(tiny_config, tmp_path, **sections):
    cfg = tiny_config(**sections)
    stream, eval_tasks = build_tasks(cfg)
    return build_trainer(cfg, stream, eval_tasks, tmp_path), stream


THREE_TASKS = {"data": {"class_order": [[0, 1], [2, 3], [4, 5]]}}
OWN_HEAD_REPLAY = {"strategy": "replay", "memory": {"batches_per_task": 2}, "replay": {"heads": "own"}}


def test_label_remap_gives_every_replayed_sample_position_1_of_its_scored_columns(tiny_config, tmp_path):
    quirks = {"replay_label_remap": True, "task0_all_heads": True}
    trainer, stream = trainer_for(tiny_config, tmp_path, **THREE_TASKS, **OWN_HEAD_REPLAY, quirks=quirks)
    for task in stream:
        trainer.begin_task(task)  # training task 3: classes 4, 5; columns 0..5 in class order
    strategy = trainer.strategy
    labels, task_ids = torch.tensor([0, 1, 2, 3]), torch.tensor([0, 0, 1, 1])
    # published: targets = where(label == 4, 0, 1) -> 1 for all; task 0 scored on all heads (global
    # column 1 = digit 1), task 1 on its own head (local 1 = digit 3)
    assert strategy._scored_labels(labels[:2], strategy._replayed_task_columns(0)).tolist() == [1, 1]
    assert strategy._scored_labels(labels[2:], strategy._replayed_task_columns(1)).tolist() == [3, 3]
    assert strategy._scored_labels(torch.tensor([4, 5]), [4, 5]).tolist() == [4, 5]
    assert strategy.replay_columns(task_ids) == [0, 1, 2, 3, 4, 5]
    torch.manual_seed(0)
    spikes = (torch.rand(6, 4, 6) < 0.5).float()
    counts = spikes.sum(0)
    want = torch.cat(
        [
            F.cross_entropy(counts[:2], torch.tensor([1, 1]), reduction="none"),
            F.cross_entropy(counts[2:, 2:4], torch.tensor([1, 1]), reduction="none"),
        ]
    )
    assert torch.allclose(strategy.replay_losses(spikes, labels, task_ids), want)
    # without the quirks: own heads and true labels
    plain, _ = trainer_for(tiny_config, tmp_path / "plain", **THREE_TASKS, **OWN_HEAD_REPLAY)
    for task in stream:
        plain.begin_task(task)
    want_plain = torch.cat(
        [
            F.cross_entropy(counts[:2, :2], torch.tensor([0, 1]), reduction="none"),
            F.cross_entropy(counts[2:, 2:4], torch.tensor([0, 1]), reduction="none"),
        ]
    )
    assert torch.allclose(plain.strategy.replay_losses(spikes, labels, task_ids), want_plain)
    assert torch.allclose(count_loss(spikes[:, :2], labels[:2], [0, 1], plain.scenario.class_to_column), want_plain[:2])


@pytest.mark.parametrize("scenario", ["class_incremental", "task_free"])
def test_replay_optimizer_made_once_before_any_head(tiny_config, tmp_path, scenario):
    sections = {"scenario": scenario, **THREE_TASKS, "strategy": "replay", "memory": {"batches_per_task": 2}}
    trainer, stream = trainer_for(
        tiny_config, tmp_path, **sections, replay={"schedule": "separate_pass"}, quirks={"replay_optimizer_once": True}
    )
    trainer.begin_task(stream[0])
    first = trainer.strategy.replay_optimizer
    trainer.begin_task(stream[1])
    assert trainer.strategy.replay_optimizer is first  # kept across tasks
    held = {id(p) for group in first.param_groups for p in group["params"]}
    backbone = {id(p) for name, p in trainer.model.named_parameters() if not name.startswith("heads.")}
    heads = {id(p) for p in trainer.model.heads.parameters()}
    assert backbone <= held
    assert held.isdisjoint(heads) == (scenario == "class_incremental")


def test_store_encoded_trains_on_and_stores_one_rate_conv_draw(tiny_config, tmp_path):
    cfg = tiny_config(
        strategy="replay", memory={"batches_per_task": 3, "store_prob": 1.0}, quirks={"store_encoded": True}
    )
    metrics = run_experiment(cfg, log=quiet)
    stored = torch.load(cfg.run_dir / "checkpoints" / "task_2.pt", weights_only=False)["strategy"]["memory"]
    images = stored["store"]["fields"]["images"]
    assert metrics["buffer_size"] > 0 and set(images.unique().tolist()) == {0, 255}
    # a drawn spike image encodes to itself: replaying it repeats the stored draw
    drawn = draw_spike_images(torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8))
    assert torch.equal(encode("rate_conv", drawn, 3)[0], drawn.unsqueeze(1).float() / 255)


def test_snapshot_is_the_model_after_the_last_multiple_and_only_scored(tiny_config, tmp_path):
    # 2 x 54 training images, batch 32: batches 0..3 per epoch, snapshots after batches 0 and 2
    sections = {"scenario": "task_free", "training": {"epochs": 2}, "quirks": {"snapshot_every": 2}}
    trainer, stream = trainer_for(tiny_config, tmp_path, **sections)
    seen = []
    observe = trainer.strategy.observe

    def recording(batch):
        terms = observe(batch)
        seen.append({k: v.detach().clone() for k, v in trainer.model.state_dict().items()})
        return terms

    trainer.strategy.observe = recording
    rows = []
    (snapshots,) = [hook for hook in trainer.hooks if isinstance(hook, SnapshotEvery)]
    trainer.fit(on_step_done=lambda state: rows.append((snapshots.snapshot, state.matrix[-1])))
    assert len(seen) == 2 * 2 * 4
    snapshot, row = rows[0]
    # task 1's snapshot: after batch 2 of its epoch 2 (seen[6]), not after its last batch (seen[7])
    assert all(torch.equal(value, seen[6][name]) for name, value in snapshot.items())
    assert not all(torch.equal(value, seen[7][name]) for name, value in snapshot.items())
    live = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    snapshots.snapshot = snapshot
    assert trainer.eval_row(0)[0] == row  # the row was scored on the snapshot ...
    assert all(torch.equal(v, live[k]) for k, v in trainer.model.state_dict().items())  # ... the live model is back


def test_drop_last_skips_the_partial_batch(tiny_config, tmp_path):
    trainer, _ = trainer_for(tiny_config, tmp_path, quirks={"drop_last": True})
    assert trainer.fit().iteration == 2 * 3  # 2 tasks of 108 images: 3 full batches of 32 each


def test_diagonal_from_val_replaces_only_the_diagonal(tiny_config, tmp_path):
    plain = run_experiment(tiny_config(output={"run_name": "plain"}), log=quiet)
    cfg = tiny_config(output={"run_name": "val"}, quirks={"diagonal_from_val": True})
    quirked = run_experiment(cfg, log=quiet)
    matrix, plain_matrix = quirked["accuracy_matrix"], plain["accuracy_matrix"]
    assert matrix[1][0] == plain_matrix[1][0]
    trainer, stream = trainer_for(tiny_config, tmp_path, quirks={"diagonal_from_val": True})
    trainer.fit()
    # the trained model's last diagonal: task 2's task-aware (own head) validation accuracy
    assert matrix[1][1] == trainer.validation_accuracy(stream[1])
    from spikereplay.trainer import EVAL_SEED_OFFSET, evaluate

    _, task_aware = evaluate(
        trainer.strategy, stream[1].val_x, stream[1].val_y, (2, 3), 64, cfg.seed + EVAL_SEED_OFFSET
    )
    assert matrix[1][1] == task_aware


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"quirks": {"store_encoded": True}, "encoding": {"kind": "direct"}}, "rate_conv"),
        ({"quirks": {"replay_optimizer_once": True}}, "separate_pass"),
        ({"quirks": {"replay_label_remap": True}, "scenario": "task_free"}, "class-incremental"),
        ({"quirks": {"snapshot_every": -1}}, "snapshot_every"),
        ({"quirks": {"stateless": True}}, "unknown key 'quirks.stateless'"),
    ],
)
def test_bad_quirks_are_refused_with_the_key_named(raw, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


@pytest.mark.parametrize("scenario", ["cil", "tf"])
def test_faithful_config_runs_and_resumes_to_the_same_matrix(tmp_path, scenario):
    tiny = merge(TINY, {"data": {"class_order": [[0, 1], [2, 3], [4, 5]]}, "memory": {"batches_per_task": 2}})
    overrides = [f"{section}.{key}={value}" for section, keys in tiny.items() for key, value in keys.items()]
    overrides += [f"output.runs_dir={tmp_path}", "quirks.snapshot_every=1", "training.num_steps=3"]
    cfg = load_config(f"configs/seed-faithful/{scenario}.yaml", overrides)
    assert cfg.quirks.stateless_steps and cfg.quirks.any
    first = run_experiment(cfg, log=quiet)
    for name in ("task_2.pt", "task_3.pt"):
        (cfg.run_dir / "checkpoints" / name).unlink()
    assert run_experiment(cfg, log=quiet)["accuracy_matrix"] == first["accuracy_matrix"]
