"""End-to-end runs on a small real-MNIST subset (seconds each)."""

import csv
import json
import math
import subprocess
import sys

import pytest
import torch
import yaml

from spikereplay.errors import DataError
from spikereplay.experiment import evaluate_run, run_experiment


def quiet(*_):
    pass


def test_replay_run_learns_and_writes_every_output(tiny_config):
    cfg = tiny_config(
        strategy="replay",
        data={"train_per_class": 200, "class_order": [[0, 1], [2, 3]]},
        training={"current_heads": "all"},
        memory={"batches_per_task": 3, "store_prob": 1.0},
    )
    metrics = run_experiment(cfg, log=quiet)
    run_dir = cfg.run_dir
    # chance over the 4 classes seen is 25 %
    assert metrics["complete"] and metrics["final_average_accuracy"] > 70
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["accuracy_matrix"] == metrics["accuracy_matrix"] and len(saved["accuracy_matrix"]) == 2
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["strategy"] == "replay"
    rows = list(csv.DictReader((run_dir / "train_log.csv").open()))
    assert rows and {"loss", "val_accuracy"} <= set(rows[0]) and float(rows[-1]["loss"]) > 0
    assert (run_dir / "accuracy_history.png").read_bytes()[:4] == b"\x89PNG"
    assert (run_dir / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    # the confusion matrix after the last task agrees with the final row of the accuracy matrix
    confusion = saved["confusion"]
    assert confusion["classes"] == [0, 1, 2, 3]
    counts = confusion["matrix"]
    for j, (a, b) in enumerate(([0, 1], [2, 3])):
        correct = counts[a][a] + counts[b][b]
        assert 100.0 * correct / (sum(counts[a]) + sum(counts[b])) == pytest.approx(saved["accuracy_matrix"][-1][j])
    assert len(saved["per_class_accuracy"]) == 4
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["task_1.pt", "task_2.pt"]
    assert not list(run_dir.rglob("*.tmp"))


def final_checkpoint(cfg):
    return torch.load(cfg.run_dir / "checkpoints" / "task_2.pt", weights_only=False)


def assert_same_tensors(a, b):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same_tensors(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_tensors(x, y)
    else:
        assert a == b


def test_same_seed_same_matrix_and_resume_matches(tiny_config, tmp_path):
    replay = {"strategy": "replay", "memory": {"batches_per_task": 2, "store_prob": 0.5}}
    first_cfg = tiny_config(**replay)
    first = run_experiment(first_cfg, log=quiet)
    again_cfg = tiny_config(**replay, output={"run_name": "again"})
    assert run_experiment(again_cfg, log=quiet)["accuracy_matrix"] == first["accuracy_matrix"]

    # a run killed during task 2: only the task-1 checkpoint survives
    (again_cfg.run_dir / "checkpoints" / "task_2.pt").unlink()
    resumed = run_experiment(again_cfg, log=quiet)
    assert resumed["accuracy_matrix"] == first["accuracy_matrix"]
    uninterrupted, after_resume = final_checkpoint(first_cfg), final_checkpoint(again_cfg)
    for part in ("model", "strategy", "torch_rng", "shuffle_rng"):
        assert_same_tensors(after_resume[part], uninterrupted[part])

    other_cfg = tiny_config(**replay, seed=5, output={"run_name": "seed5"})
    assert run_experiment(other_cfg, log=quiet)["accuracy_matrix"] != first["accuracy_matrix"]


def test_shifted_replay_is_seeded_and_changes_training(tiny_config):
    replay = {"strategy": "replay", "memory": {"batches_per_task": 2, "store_prob": 1.0}}
    plain = run_experiment(tiny_config(**replay), log=quiet)["accuracy_matrix"]
    shifted = [
        run_experiment(tiny_config(**replay, replay={"shift_pixels": 2}, output={"run_name": f"s{i}"}), log=quiet)
        for i in range(2)
    ]
    assert shifted[0]["accuracy_matrix"] == shifted[1]["accuracy_matrix"] != plain


def test_run_dir_takes_a_renamed_config_but_refuses_a_changed_one(tiny_config):
    from spikereplay.errors import ConfigError
    from spikereplay.experiment import prepare_run_dir

    cfg = tiny_config()
    cfg = cfg.model_copy(update={"output": cfg.output.model_copy(update={"run_name": "kept"})})
    run_dir = prepare_run_dir(cfg, overwrite=False)
    (run_dir / "checkpoints").mkdir()
    assert prepare_run_dir(cfg.model_copy(update={"name": "renamed"}), overwrite=False) == run_dir
    assert (run_dir / "checkpoints").exists()
    with pytest.raises(ConfigError, match="different config"):
        prepare_run_dir(cfg.model_copy(update={"seed": cfg.seed + 1}), overwrite=False)


def test_own_head_training_leaves_old_heads_untouched(tiny_config):
    cfg = tiny_config(strategy="naive", training={"current_heads": "own"})
    run_experiment(cfg, log=quiet)
    checkpoints = cfg.run_dir / "checkpoints"
    after_task1 = torch.load(checkpoints / "task_1.pt", weights_only=False)["model"]
    after_task2 = torch.load(checkpoints / "task_2.pt", weights_only=False)["model"]
    assert torch.equal(after_task1["heads.0.weight"], after_task2["heads.0.weight"])
    assert not torch.equal(after_task1["backbone.conv1.weight"], after_task2["backbone.conv1.weight"])


def test_separate_pass_and_own_replay_heads_run(tiny_config):
    for name, replay in (("separate", {"schedule": "separate_pass"}), ("own", {"heads": "own"})):
        cfg = tiny_config(
            strategy="replay",
            memory={"batches_per_task": 2, "store_prob": 1.0},
            replay=replay,
            output={"run_name": name},
        )
        metrics = run_experiment(cfg, log=quiet)
        assert metrics["complete"] and metrics["accuracy_matrix"][1][0] is not None
    state = final_checkpoint(cfg)
    assert "replay_optimizer" not in state["strategy"]  # interleaved (own heads) has no second optimizer
    separate = torch.load(cfg.run_dir.parent / "separate" / "checkpoints" / "task_2.pt", weights_only=False)
    assert separate["strategy"]["replay_optimizer"]["state"]  # the separate pass stepped its own Adam


def test_output_files_are_readable_by_others(tiny_config):
    cfg = tiny_config(strategy="naive", data={"class_order": [[0, 1]]})
    run_experiment(cfg, log=quiet)
    assert (cfg.run_dir / "metrics.json").stat().st_mode & 0o044 == 0o044


def test_test_command_rescores_checkpoints(tiny_config):
    cfg = tiny_config(strategy="naive", scenario="task_free")
    trained = run_experiment(cfg, log=quiet)
    rescored = evaluate_run(cfg.run_dir, log=quiet)
    assert rescored["accuracy_matrix"] == trained["accuracy_matrix"]


def test_joint_is_one_step_scored_on_every_task(tiny_config):
    metrics = run_experiment(tiny_config(strategy="joint"), log=quiet)
    assert len(metrics["accuracy_matrix"]) == 1 and None not in metrics["accuracy_matrix"][0]
    assert metrics["forgetting"] is None


def test_cli_train_then_test(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "name": "cli",
                "strategy": "replay",
                "memory": {"batches_per_task": 1},
                "data": {"train_per_class": 40, "test_per_class": 20, "class_order": [[0, 1], [2, 3]]},
                "training": {"num_steps": 3, "batch_size": 32, "epochs": 1, "val_samples": 0},
                "output": {"runs_dir": str(tmp_path / "runs")},
            }
        )
    )
    run = subprocess.run(
        [sys.executable, "train.py", "--config", str(cfg), "--run", "1", "--mem_size", "2"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    run_dir = tmp_path / "runs" / "cli_mr2_run1"
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["seed"] == 10 and saved["memory"]["batches_per_task"] == 2
    test = subprocess.run([sys.executable, "test.py", "--run-dir", str(run_dir)], capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    assert "final average accuracy" in test.stdout
    assert torch.load(run_dir / "checkpoints" / "task_2.pt", weights_only=False)["run_state"]["steps_done"] == 2


def test_corrupt_checkpoint_is_a_clear_error(tiny_config):
    cfg = tiny_config(strategy="naive")
    run_experiment(cfg, log=quiet)
    (cfg.run_dir / "checkpoints" / "task_2.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="task_2.pt"):
        run_experiment(cfg, log=quiet)


def test_replay_batch_size_sets_memory_samples_per_step(tiny_config, monkeypatch):
    from spikereplay.memory import ReplayBuffer

    drawn = []
    original = ReplayBuffer.sample

    def spy(self, n, task_id, names=None):
        drawn.append(n)
        return original(self, n, task_id, names)

    monkeypatch.setattr(ReplayBuffer, "sample", spy)
    cfg = tiny_config(strategy="replay", memory={"batches_per_task": 2, "store_prob": 1.0}, replay={"batch_size": 48})
    run_experiment(cfg, log=quiet)
    assert drawn and set(drawn) == {48}


def test_cosine_factor_hand_values():
    from spikereplay.optim import cosine_factor

    assert cosine_factor(0, 8) == 1.0
    assert cosine_factor(4, 8) == pytest.approx(0.5)
    assert cosine_factor(2, 8) == pytest.approx(0.5 * (1 + 2**-0.5))  # cos(pi/4)
    assert cosine_factor(8, 8) == pytest.approx(0.0)


def test_cosine_schedule_restarts_each_task_and_resumes(tiny_config, monkeypatch):
    seen_lrs = []
    original_step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen_lrs.append([group["lr"] for group in self.param_groups])
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    replay = {"strategy": "replay", "memory": {"batches_per_task": 2, "store_prob": 1.0}}
    cfg = tiny_config(**replay, training={"epochs": 2, "lr": 0.01, "lr_schedule": "cosine"})
    first = run_experiment(cfg, log=quiet)
    # 54 train samples per class after the 10 % validation split -> 108 per task -> 4 batches of 32, 2 epochs
    per_task = 8
    assert len(seen_lrs) == 2 * per_task
    expected = [0.01 * 0.5 * (1 + math.cos(math.pi * i / per_task)) for i in range(per_task)]
    assert [lrs[0] for lrs in seen_lrs[:per_task]] == pytest.approx(expected)
    # task 2: the body, head 1 and the new head 2 groups all restart from the full lr
    for lrs, want in zip(seen_lrs[per_task:], expected):
        assert len(lrs) == 3 and lrs == pytest.approx([want] * 3)

    (cfg.run_dir / "checkpoints" / "task_2.pt").unlink()
    seen_lrs.clear()
    resumed = run_experiment(cfg, log=quiet)
    assert [lrs[0] for lrs in seen_lrs] == pytest.approx(expected)
    assert resumed["accuracy_matrix"] == first["accuracy_matrix"]


def test_lr_factor_hand_values():
    from spikereplay.optim import lr_factor

    assert [lr_factor(s, 10, "constant", 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert lr_factor(3, 10, "constant", 0) == 1.0
    # cosine over the 6 steps after a 4-step warm-up: step 4 -> 1, step 7 -> cos(pi/2) -> 0.5
    assert lr_factor(4, 10, "cosine", 4) == 1.0
    assert lr_factor(7, 10, "cosine", 4) == pytest.approx(0.5)
    assert lr_factor(2, 8, "cosine", 0) == pytest.approx(0.5 * (1 + 2**-0.5))


def test_warmup_and_optimizer_reset_restart_each_task_and_resume(tiny_config, monkeypatch):
    seen = []  # (lr of the first group, Adam steps taken so far on the first parameter)
    original_step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        first_param = self.param_groups[0]["params"][0]
        steps_taken = int(self.state[first_param]["step"]) if first_param in self.state else 0
        seen.append((self.param_groups[0]["lr"], steps_taken))
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    training = {"epochs": 2, "lr": 0.01, "warmup_steps": 4, "reset_optimizer_per_task": True}
    cfg = tiny_config(strategy="naive", training=training)
    first = run_experiment(cfg, log=quiet)
    per_task = 8  # 4 batches of 32, 2 epochs (see the cosine test)
    want_lrs = [0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01, 0.01, 0.01]
    want_steps = list(range(per_task))  # Adam's count restarts at 0 on task 2
    assert [lr for lr, _ in seen] == pytest.approx(want_lrs * 2)
    assert [steps for _, steps in seen] == want_steps * 2

    (cfg.run_dir / "checkpoints" / "task_2.pt").unlink()
    seen.clear()
    resumed = run_experiment(cfg, log=quiet)
    assert [steps for _, steps in seen] == want_steps
    assert resumed["accuracy_matrix"] == first["accuracy_matrix"]


def test_a_step_that_did_not_take_is_warned_about(tiny_config, monkeypatch):
    import spikereplay.trainer

    scores = iter([99.0, 99.0, 12.5])  # task 1 on task 1; after task 2: task 1, then task 2 (its own classes)
    monkeypatch.setattr(spikereplay.trainer, "evaluate", lambda *args: (next(scores), 0.0))
    lines = []
    cfg = tiny_config(strategy="naive", training={"val_samples": 0})
    metrics = run_experiment(cfg, log=lines.append)
    assert len(metrics["warnings"]) == 1 and metrics["warnings"][0].startswith("after task 2: 12.5 %")
    assert json.loads((cfg.run_dir / "metrics.json").read_text())["warnings"] == metrics["warnings"]
    assert sum("warning: after task 2" in line for line in lines) == 1


@pytest.mark.parametrize("current_heads", ["own", "all"])
def test_a_step_learnt_only_task_aware_under_own_heads_names_that_cause(tiny_config, monkeypatch, current_heads):
    import spikereplay.trainer

    # (class-IL, task-IL): task 2 scores 12.5 % among all outputs but 98 % with its task id given
    scores = iter([(99.0, 99.0), (99.0, 99.0), (12.5, 98.0)])
    monkeypatch.setattr(spikereplay.trainer, "evaluate", lambda *args: next(scores))
    cfg = tiny_config(strategy="naive", training={"val_samples": 0, "current_heads": current_heads})
    warning = run_experiment(cfg, log=quiet)["warnings"][0]
    assert warning.startswith("after task 2: 12.5 %")
    assert ("task-IL 98.0 %" in warning and "training.current_heads own" in warning) == (current_heads == "own")


def test_scenario_masks_unseen_classes_only_in_task_free():
    from spikereplay.config import ModelConfig
    from spikereplay.model import SpikingConvNet
    from spikereplay.scenarios import Scenario

    task = type("Task", (), {"task_id": 0, "classes": [3, 1]})()
    task_free = Scenario("task_free", SpikingConvNet(ModelConfig(), (1, 28, 28)), 10, mask_unseen_classes=True)
    task_free.begin_task(task)
    assert task_free.active_columns() == list(range(10))  # nothing seen yet
    task_free.observe_labels(torch.tensor([3, 1, 3]))
    assert task_free.active_columns() == [1, 3]
    class_incremental = Scenario(
        "class_incremental", SpikingConvNet(ModelConfig(), (1, 28, 28)), 10, mask_unseen_classes=True
    )
    class_incremental.begin_task(task)
    class_incremental.observe_labels(torch.tensor([3]))
    assert class_incremental.active_columns() == [0, 1]  # its one head: classes 3 and 1


@pytest.mark.parametrize("mask", [True, False])
def test_task_free_masking_leaves_unseen_outputs_untrained_and_resumes(tiny_config, mask):
    cfg = tiny_config(
        scenario="task_free",
        strategy="replay",
        memory={"batches_per_task": 2, "store_prob": 1.0},
        training={"mask_unseen_classes": mask},
    )
    first = run_experiment(cfg, log=quiet)
    checkpoints = cfg.run_dir / "checkpoints"
    after = [torch.load(checkpoints / f"task_{i}.pt", weights_only=False) for i in (1, 2)]
    head_rows = [state["model"]["heads.0.weight"] for state in after]
    # classes 4..9 never appear: masked, their output weights never move; unmasked, they are pushed down
    assert torch.equal(head_rows[0][4:], head_rows[1][4:]) == mask
    assert after[1]["scenario"]["seen_classes"] == [0, 1, 2, 3]
    assert first["accuracy_matrix"][0][0] > 80  # task 1 (0/1) learnt

    (checkpoints / "task_2.pt").unlink()
    resumed = run_experiment(cfg, log=quiet)
    assert resumed["accuracy_matrix"] == first["accuracy_matrix"]


@pytest.mark.parametrize("native_bf16", [False, True])
def test_bf16_run_warns_where_the_cpu_emulates_bf16(tiny_config, monkeypatch, native_bf16):
    monkeypatch.setattr("spikereplay.experiment.cpu_has_native_bf16", lambda: native_bf16)
    cfg = tiny_config(
        precision="bf16", device="cpu", data={"train_per_class": 20, "test_per_class": 10, "class_order": [[0, 1]]}
    )
    lines: list[str] = []
    assert run_experiment(cfg, log=lines.append)["complete"]
    warned = [line for line in lines if "precision bf16" in line]
    assert len(warned) == (0 if native_bf16 else 1)
    assert not warned or warned[0].startswith(f"[{cfg.run_name}] warning:")


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_config, monkeypatch):
    from spikereplay.errors import DivergedError
    from spikereplay.strategies.naive import Naive

    cfg = tiny_config(strategy="naive")
    original = Naive.observe

    def diverge_in_task_2(self, batch):
        terms = original(self, batch)
        return {**terms, "loss": float("nan")} if batch.task_id == 1 else terms

    monkeypatch.setattr(Naive, "observe", diverge_in_task_2)
    with pytest.raises(DivergedError, match=r"non-finite loss \(nan\) at task 2, epoch 1, iteration 5"):
        run_experiment(cfg, log=quiet)
    assert sorted(p.name for p in (cfg.run_dir / "checkpoints").iterdir()) == ["task_1.pt"]
    metrics = json.loads((cfg.run_dir / "metrics.json").read_text())
    assert metrics["complete"] is False and metrics["steps_done"] == 1


def test_progress_lines_give_both_averages_then_the_row():
    from spikereplay.experiment import progress_lines
    from spikereplay.trainer import RunState

    state = RunState(steps_done=2, matrix=[[99.0, None], [90.0, 96.0]], ti_matrix=[[99.0, None], [99.0, 100.0]])
    assert progress_lines(state, 5) == [
        "Accuracy after task 2/5: class-IL 93.0 % | task-IL 99.5 %",
        "  per task, class-IL %: [90.0, 96.0]",
    ]


def test_forward_transfer_scores_each_task_before_training_it_and_leaves_the_run_unchanged(tiny_config):
    from spikereplay.errors import ConfigError

    three = {"data": {"train_per_class": 40, "test_per_class": 20, "class_order": [[0, 1], [2, 3], [4, 5]]}}
    plain = run_experiment(tiny_config(scenario="task_free", **three), log=quiet)
    cfg = tiny_config(scenario="task_free", training={"forward_transfer": True}, output={"run_name": "fwt"}, **three)
    scored = run_experiment(cfg, log=quiet)
    assert scored["accuracy_matrix"] == plain["accuracy_matrix"]  # evaluation draws from its own seeded stream
    state = torch.load(cfg.run_dir / "checkpoints" / "task_3.pt", weights_only=False)["run_state"]
    assert len(state["initial_row"]) == 3 and len(state["ahead"]) == 2
    expected = ((state["ahead"][0] - state["initial_row"][1]) + (state["ahead"][1] - state["initial_row"][2])) / 2
    assert scored["forward_transfer"] == pytest.approx(expected)
    assert plain["forward_transfer"] is None
    with pytest.raises(ConfigError, match="forward_transfer needs one head from the start"):
        tiny_config(training={"forward_transfer": True})


def test_forward_transfer_is_refused_for_joint_training_which_scores_no_task_before_training_it(tiny_config):
    from spikereplay.errors import ConfigError

    with pytest.raises(ConfigError, match="trains every task in one step, so no task is scored before"):
        tiny_config(strategy="joint", scenario="task_free", training={"forward_transfer": True})
