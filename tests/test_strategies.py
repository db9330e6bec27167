"""Each strategy's loss on hand-made cases, exact resume for every strategy, and bad input."""

import math
import subprocess
import sys

import pytest
import torch

from spikereplay.config import ModelConfig
from spikereplay.errors import ConfigError
from spikereplay.experiment import build_tasks, build_trainer, run_experiment
from spikereplay.losses import count_loss, distill_kl, distill_mse, quadratic_penalty
from spikereplay.model import SpikingConvNet
from spikereplay.strategies import Batch
from spikereplay.strategies.agem import project_gradient
from spikereplay.strategies.weight_align import align_newest_head, alignment_gamma


def quiet(*_):
    pass


def trainer_for(tiny_config, tmp_path, **sections):
    cfg = tiny_config(**sections)
    stream, eval_tasks = build_tasks(cfg)
    return build_trainer(cfg, stream, eval_tasks, tmp_path), stream


# -- DER ---------------------------------------------------------------------------------------
def test_distill_mse_hand_values_and_unknown_columns():
    assert distill_mse(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[1.0, 2.0, 3.0]])).tolist() == [0.0]
    # NaN marks an output that did not exist when the target was stored: only two columns count
    got = distill_mse(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[1.0, 4.0, float("nan")]]))
    assert got.tolist() == [2.0]  # (0^2 + 2^2) / 2


def test_der_stored_logits_equal_to_the_output_give_zero_distillation(tiny_config, tmp_path):
    trainer, stream = trainer_for(
        tiny_config,
        tmp_path,
        strategy="der",
        encoding={"kind": "direct"},
        memory={"size": 64},
        replay={"batch_size": 8, "sample_from": "all"},  # the samples just stored are eligible
    )
    strategy, task = trainer.strategy, stream[0]
    trainer.begin_task(task)
    images, labels = task.train_x[:32], task.train_y[:32]
    with torch.no_grad():
        spikes, mems = strategy.outputs(images)
    strategy.memory.observe(images, labels, 0, {"logits": strategy.padded_logits(strategy.logits(spikes, mems))})
    terms = strategy.observe(Batch(task.train_x[32:48], task.train_y[32:48], 0))
    assert terms["distill"] == 0.0 and terms["current"] > 0
    assert "replay" not in terms  # DER: no second draw
    assert strategy.memory.store["logits"].shape == (len(strategy.memory), 10)


def test_derpp_adds_a_replayed_cross_entropy(tiny_config, tmp_path):
    trainer, stream = trainer_for(tiny_config, tmp_path, strategy="derpp", memory={"size": 64})
    trainer.begin_task(stream[0])
    strategy = trainer.strategy
    strategy.observe(Batch(stream[0].train_x[:16], stream[0].train_y[:16], 0))
    terms = strategy.observe(Batch(stream[0].train_x[16:32], stream[0].train_y[16:32], 0))
    assert {"distill", "replay", "current"} <= set(terms)
    params = strategy.params
    assert terms["loss"] == pytest.approx(
        terms["current"] + params.alpha * terms["distill"] + params.beta * terms["replay"]
    )


def test_der_never_distils_a_task_toward_its_own_first_outputs_by_default(tiny_config, tmp_path):
    trainer, stream = trainer_for(tiny_config, tmp_path, strategy="der", memory={"size": 64})
    strategy = trainer.strategy
    assert strategy.memory.sample_from == "earlier_tasks"
    trainer.begin_task(stream[0])
    for start in (0, 16, 32):  # task 0: its samples are stored, none is replayed
        terms = strategy.observe(Batch(stream[0].train_x[start : start + 16], stream[0].train_y[start : start + 16], 0))
        assert "distill" not in terms
    trainer.begin_task(stream[1])
    terms = strategy.observe(Batch(stream[1].train_x[:16], stream[1].train_y[:16], 1))
    assert terms["distill"] >= 0  # task 1 distils task 0's stored outputs
    # DER++ keeps the whole buffer (not measured with earlier tasks only yet)
    trainer, _ = trainer_for(tiny_config, tmp_path, strategy="derpp", memory={"size": 64})
    assert trainer.strategy.memory.sample_from == "all"


# -- A-GEM ---------------------------------------------------------------------------------------
def test_agem_projects_a_conflicting_gradient_orthogonal_to_the_reference():
    grads, conflicted = project_gradient([torch.tensor([1.0, 0.0])], [torch.tensor([-1.0, 1.0])])
    assert conflicted and grads[0].tolist() == [0.5, 0.5]  # g - (-1 / 2) r
    assert float(grads[0] @ torch.tensor([-1.0, 1.0])) == 0.0


def test_agem_leaves_an_agreeing_gradient_and_handles_missing_ones():
    same, conflicted = project_gradient([torch.tensor([1.0, 1.0])], [torch.tensor([1.0, 0.0])])
    assert not conflicted and same[0].tolist() == [1.0, 1.0]
    # an old head only the memory scores (current grad None) takes the projection's component;
    # a parameter with no gradient in either stays None
    grads, conflicted = project_gradient(
        [torch.tensor([2.0]), None, None], [torch.tensor([-1.0]), torch.tensor([1.0]), None]
    )
    assert conflicted and grads[2] is None
    # dot = -2, |r|^2 = 2: g' = g + r
    assert grads[0].tolist() == [1.0] and grads[1].tolist() == [1.0]


# -- LwF -----------------------------------------------------------------------------------------
def test_distill_kl_hand_values():
    assert distill_kl(torch.tensor([[0.3, 1.2]]), torch.tensor([[0.3, 1.2]]), 2.0).item() == pytest.approx(
        0.0, abs=1e-7
    )
    # teacher softmax (0.75, 0.25), student (0.5, 0.5), T = 1
    got = distill_kl(torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0]]), 1.0).item()
    assert got == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))


def test_lwf_distills_nothing_while_the_teacher_equals_the_student(tiny_config, tmp_path):
    trainer, stream = trainer_for(tiny_config, tmp_path, strategy="lwf")
    strategy = trainer.strategy
    trainer.begin_task(stream[0])
    strategy.end_task(stream[0])  # the teacher is a copy of the model as it is now
    trainer.begin_task(stream[1])
    terms = strategy.observe(Batch(stream[1].train_x[:16], stream[1].train_y[:16], 1))
    assert terms["distill"] == pytest.approx(0.0, abs=1e-6)
    assert len(strategy.teacher.heads) == 1 and len(strategy.model.heads) == 2


# -- EWC and SI ----------------------------------------------------------------------------------
def test_quadratic_penalty_is_zero_at_the_anchor_and_hand_computed_off_it():
    fisher, anchor = {"w": torch.tensor([1.0, 2.0])}, {"w": torch.tensor([0.0, 0.0])}
    assert quadratic_penalty({"w": torch.zeros(2), "new": torch.ones(3)}, fisher, anchor).item() == 0.0
    assert quadratic_penalty({"w": torch.tensor([3.0, 4.0])}, fisher, anchor).item() == 41.0  # 1*9 + 2*16


def test_ewc_fisher_accumulates_with_gamma(tiny_config, tmp_path):
    trainer, stream = trainer_for(
        tiny_config,
        tmp_path,
        strategy="ewc_on",
        encoding={"kind": "direct"},  # deterministic input: the same samples give the same Fisher
        strategy_params={"gamma": 0.5, "fisher_samples": 4},
    )
    strategy = trainer.strategy
    trainer.begin_task(stream[0])
    strategy.end_task(stream[0])
    first = {name: value.clone() for name, value in strategy.fisher.items()}
    assert strategy.penalty().item() == 0.0  # at the anchor
    assert sum(value.sum() for value in first.values()) > 0
    strategy.end_task(stream[0])  # same model, same samples: F = 0.5 F + F
    for name, value in strategy.fisher.items():
        assert torch.allclose(value, 1.5 * first[name])


def test_si_importance_is_the_path_integral_over_the_squared_move(tiny_config, tmp_path):
    trainer, stream = trainer_for(tiny_config, tmp_path, strategy="si", strategy_params={"xi": 1.0})
    strategy = trainer.strategy
    trainer.begin_task(stream[0])
    param = strategy.model.backbone.conv1.bias
    strategy.start = {"backbone.conv1.bias": param.detach() - 1.0}  # every entry moved by 1 during the task
    strategy.path = {"backbone.conv1.bias": torch.full_like(param, 2.0)}
    strategy.end_task(stream[0])
    assert torch.allclose(strategy.omega["backbone.conv1.bias"], torch.ones_like(param))  # 2 / (1^2 + 1)
    assert list(strategy.omega) == ["backbone.conv1.bias"]


# -- ER-ACE --------------------------------------------------------------------------------------
def test_er_ace_current_batch_gives_no_gradient_to_absent_old_classes(tiny_config, tmp_path):
    trainer, stream = trainer_for(tiny_config, tmp_path, strategy="er_ace", memory={"size": 32})
    strategy = trainer.strategy
    trainer.begin_task(stream[0])
    trainer.scenario.observe_labels(stream[0].train_y)
    strategy.end_task(stream[0])
    trainer.begin_task(stream[1])
    images, labels = stream[1].train_x[:16], stream[1].train_y[:16]  # classes 2 and 3 only
    columns = strategy.current_columns_ace(labels)
    assert columns == [2, 3]
    spikes, _ = strategy.outputs(images)
    strategy.model.zero_grad(set_to_none=True)
    count_loss(spikes, labels, columns, strategy.scenario.class_to_column).mean().backward()
    assert strategy.model.heads[0].weight.grad is None or not strategy.model.heads[0].weight.grad.any()
    assert strategy.model.heads[1].weight.grad.abs().sum() > 0
    mixed = torch.tensor([0, 2, 3])  # an old class in the batch keeps its column
    assert strategy.current_columns_ace(mixed) == [0, 2, 3]


# -- weight aligning -----------------------------------------------------------------------------
def test_weight_align_gamma_on_hand_made_heads():
    old = torch.tensor([[3.0, 4.0], [0.0, 5.0]])  # row norms 5, 5
    new = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # row norms 1, 2
    assert alignment_gamma(old, new) == pytest.approx(5.0 / 1.5)
    torch.manual_seed(0)
    model = SpikingConvNet(ModelConfig(), (1, 28, 28))
    model.add_head(2)
    assert align_newest_head(model) is None  # one head: nothing to align to
    model.add_head(2)
    before_w, before_b = model.heads[1].weight.detach().clone(), model.heads[1].bias.detach().clone()
    gamma = align_newest_head(model)
    assert torch.allclose(model.heads[1].weight, gamma * before_w) and torch.equal(model.heads[1].bias, before_b)
    assert model.heads[1].weight.norm(dim=1).mean().item() == pytest.approx(
        model.heads[0].weight.norm(dim=1).mean().item()
    )


# -- every strategy: same seed same matrix, exact resume ---------------------------------------------
STRATEGY_CASES = {
    "er_reservoir": {"strategy": "er", "memory": {"size": 40}},
    "er_class_balanced": {"strategy": "er", "memory": {"size": 40, "policy": "class_balanced"}},
    "er_ace": {"strategy": "er_ace", "memory": {"size": 40}},
    "der": {"strategy": "der", "memory": {"size": 40}},
    "derpp": {"strategy": "derpp", "memory": {"size": 40}},
    "agem": {"strategy": "agem", "memory": {"size": 40}, "replay": {"sample_from": "earlier_tasks"}},
    "lwf": {"strategy": "lwf"},
    "ewc_on": {"strategy": "ewc_on", "strategy_params": {"fisher_samples": 8}},
    "si": {"strategy": "si"},
    "naive_weight_align": {"strategy": "naive", "training": {"weight_align": True, "current_heads": "all"}},
    "custom_import_path": {"strategy": "examples.custom_strategy:WeightedReplay", "memory": {"size": 40}},
}


@pytest.mark.parametrize("case", list(STRATEGY_CASES))
def test_strategy_resumes_after_a_kill_to_the_same_matrix(tiny_config, case):
    three_tasks = {"data": {"train_per_class": 40, "test_per_class": 20, "class_order": [[0, 1], [2, 3], [4, 5]]}}
    cfg = tiny_config(**three_tasks, **STRATEGY_CASES[case])
    first = run_experiment(cfg, log=quiet)
    assert first["complete"] and len(first["accuracy_matrix"]) == 3
    if cfg.memory.size:
        saved = torch.load(cfg.run_dir / "checkpoints" / "task_3.pt", weights_only=False)
        assert 0 < first["buffer_size"] <= 40 and first["buffer_bytes"] > first["buffer_size"] * 28 * 28
        assert len(saved["strategy"]["memory"]["store"]["fields"]["labels"]) == first["buffer_size"]
    # killed during task 2: the task-2 and task-3 checkpoints never got written
    for name in ("task_2.pt", "task_3.pt"):
        (cfg.run_dir / "checkpoints" / name).unlink()
    resumed = run_experiment(cfg, log=quiet)
    assert resumed["accuracy_matrix"] == first["accuracy_matrix"]


def test_loss_terms_reach_the_training_log(tiny_config):
    import csv

    cfg = tiny_config(strategy="derpp", memory={"size": 40}, training={"log_every": 2})
    run_experiment(cfg, log=quiet)
    rows = list(csv.DictReader((cfg.run_dir / "train_log.csv").open()))
    assert {"loss", "current", "distill", "replay"} <= set(rows[-1])
    assert float(rows[-1]["distill"]) >= 0 and float(rows[-1]["replay"]) > 0


# -- bad input: one clear error, exit 2, nothing written --------------------------------------------
class TaskFreeOnly:  # stands in for a user's strategy module (see test_unsupported_scenario_is_refused)
    pass


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["strategy=bogus"], "unknown strategy 'bogus': use one of naive, joint, er"),
        (["strategy=er"], "needs a buffer"),
        (["strategy=der", "memory.policy=reservoir"], "needs a buffer: set memory.size > 0"),
        (["strategy=er", "memory.size=5", "memory.policy=class_balanced"], "under one slot per class"),
        (["strategy=nosuchmodule:Thing"], "does not resolve"),
        (["strategy=der", "memory.size=10", "strategy_params.alfa=1"], "strategy_params: unknown key 'alfa'"),
        (["strategy=er", "memory.size=10", "memory.batches_per_task=2"], "size different policies: give one"),
        (["strategy=er", "memory.policy=reservoir", "memory.batches_per_task=2"], "belongs to policy per_task_batches"),
        (["strategy=naive", "scenario=task_free", "training.weight_align=true"], "weight_align"),
        (["strategy=er", "memory.size=10", "replay.schedule=separate_pass"], "needs policy per_task_batches"),
    ],
)
def test_bad_strategy_config_exits_2_and_writes_nothing(tmp_path, overrides, message):
    runs = tmp_path / "runs"
    result = subprocess.run(
        [sys.executable, "-m", "spikereplay.cli", "train", "--config", "configs/quick.yaml", f"output.runs_dir={runs}"]
        + ["memory.batches_per_task=0", *overrides],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
    assert not runs.exists()


def test_unsupported_scenario_is_refused(tmp_path, tiny_config, monkeypatch):
    module = tmp_path / "only_cil.py"
    module.write_text(
        "from spikereplay.strategies.naive import Naive\n\nclass OnlyCIL(Naive):\n    scenarios = ('class_incremental',)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert tiny_config(strategy="only_cil:OnlyCIL").strategy == "only_cil:OnlyCIL"
    with pytest.raises(ConfigError, match="does not support scenario 'task_free'"):
        tiny_config(strategy="only_cil:OnlyCIL", scenario="task_free")
    with pytest.raises(ConfigError, match="not a subclass"):
        tiny_config(strategy="test_strategies:TaskFreeOnly")


def test_er_with_the_whole_buffer_eligible_never_replays_the_batch_it_stores(tiny_config, tmp_path):
    trainer, stream = trainer_for(tiny_config, tmp_path, strategy="er", memory={"size": 64})
    trainer.begin_task(stream[0])
    strategy = trainer.strategy
    assert strategy.memory.sample_from == "all"
    first = strategy.observe(Batch(stream[0].train_x[:16], stream[0].train_y[:16], 0))
    assert "replay" not in first and len(strategy.memory) == 16  # stored after the (empty) draw
    second = strategy.observe(Batch(stream[0].train_x[16:32], stream[0].train_y[16:32], 0))
    assert "replay" in second


def test_agem_replays_earlier_tasks_unless_told_otherwise(tiny_config, tmp_path):
    trainer, _ = trainer_for(tiny_config, tmp_path, strategy="agem", memory={"size": 64})
    assert trainer.strategy.memory.sample_from == "earlier_tasks"
    trainer, _ = trainer_for(tiny_config, tmp_path, strategy="agem", memory={"size": 64}, replay={"sample_from": "all"})
    assert trainer.strategy.memory.sample_from == "all"


def test_weight_align_comes_before_the_strategy_snapshots(tiny_config, tmp_path):
    trainer, stream = trainer_for(tiny_config, tmp_path, strategy="lwf", training={"weight_align": True})
    for step, task in enumerate(stream):
        trainer.begin_task(task)
        trainer.end_task(task, step)
    model, teacher = trainer.model, trainer.strategy.teacher
    old_norm = model.heads[0].weight.norm(dim=1).mean()
    assert model.heads[1].weight.norm(dim=1).mean().item() == pytest.approx(old_norm.item())
    assert torch.equal(teacher.heads[1].weight, model.heads[1].weight)  # the teacher is the aligned model


def test_der_pulls_outputs_added_after_storage_to_zero_unless_told_to_ignore_them(tiny_config, tmp_path):
    # replayed: the one stored sample, 8 times; outputs 0-1 match their stored counts, output 2 fires at
    # every one of the T = 4 steps, output 3 never: (0 + 0 + 4^2 + 0) / 4 = 4 with the zero target
    for mode, expected in (("zero", 4.0), ("ignore", 0.0)):
        trainer, stream = trainer_for(
            tiny_config,
            tmp_path,
            strategy="der",
            encoding={"kind": "direct"},
            memory={"size": 64},
            strategy_params={"unseen_outputs": mode},
        )
        strategy = trainer.strategy
        trainer.begin_task(stream[0])
        trainer.begin_task(stream[1])  # two heads: four outputs now
        images, labels = stream[0].train_x[:1], stream[0].train_y[:1]
        with torch.no_grad():
            logits = strategy.logits(*strategy.outputs(images))
        assert logits.shape == (1, 4)
        stored = torch.full((1, 10), float("nan"))
        stored[0, :2] = logits[0, :2]  # stored when the first head alone existed
        strategy.memory.observe(images, labels, 0, {"logits": stored})
        strategy.model.heads[1].bias.data.fill_(0.0)
        strategy.model.heads[1].weight.data.fill_(0.0)
        strategy.model.heads[1].bias.data[0] = 100.0
        terms = strategy.observe(Batch(stream[1].train_x[:8], stream[1].train_y[:8], 1))
        assert terms["distill"] == pytest.approx(expected)


def test_the_sgd_optimizer_takes_the_plain_gradient_step_a_gem_assumes():
    from spikereplay.config import TrainingConfig
    from spikereplay.optim import Optimization

    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0]]))
    optim = Optimization(model, TrainingConfig(optimizer="sgd", lr=0.5))
    assert isinstance(optim.optimizer, torch.optim.SGD)
    model.weight.grad = torch.tensor([[0.2, 0.4]])  # e.g. an A-GEM projected gradient
    optim.optimizer.step()
    # w - lr g = (1 - 0.1, -2 - 0.2): the step is along -g, so g . g_ref >= 0 still holds for the step
    assert model.weight.tolist() == [[pytest.approx(0.9), pytest.approx(-2.2)]]


def test_momentum_without_sgd_is_refused(tiny_config):
    from spikereplay.errors import ConfigError

    with pytest.raises(ConfigError, match="training.momentum is SGD's"):
        tiny_config(training={"momentum": 0.9})
