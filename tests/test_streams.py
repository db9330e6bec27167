"""Streams: domain-incremental tasks (Permuted and Rotated MNIST) and the online stream."""

from pathlib import Path

import pytest
import torch

from spikereplay import cli
from spikereplay.datasets import TaskData
from spikereplay.errors import ConfigError
from spikereplay.experiment import evaluate_run, run_experiment
from spikereplay.loader import config_from_dict
from spikereplay.strategies.der import DER
from spikereplay.strategies.er import ER
from spikereplay.streams.domain import permutations, permute, rotate
from spikereplay.streams.online import online_order

quiet = lambda *_: None  # noqa: E731
REPO = Path(__file__).resolve().parents[1]

DOMAIN = {
    "stream": {"kind": "domain", "num_tasks": 3},
    "scenario": "domain_incremental",
    "data": {"class_order": [[0, 1, 2]], "train_per_class": 40, "test_per_class": 20},
}
ONLINE = {
    "stream": {"kind": "online", "checkpoint_every": 3, "eval_every": 4},
    "scenario": "task_free",
    "strategy": "er",
    "memory": {"size": 30},
    "training": {"mask_unseen_classes": True, "batch_size": 10},
}


def fake_tasks(sizes):
    return [
        TaskData(k, (k,), torch.zeros(n, 2, 2, dtype=torch.uint8), torch.full((n,), k), *[torch.empty(0)] * 4)
        for k, n in enumerate(sizes)
    ]


def test_permutations_are_fixed_by_the_seed_and_task_0_is_the_original():
    first, again, other = permutations(4, 784, 0), permutations(4, 784, 0), permutations(4, 784, 1)
    assert torch.equal(first[0], torch.arange(784))
    assert all(torch.equal(a, b) for a, b in zip(first, again))  # the same in every process
    assert not torch.equal(first[1], first[2]) and not torch.equal(first[1], other[1])
    assert all(torch.equal(p.sort().values, torch.arange(784)) for p in first)


def test_permute_reorders_pixels_by_hand():
    image = torch.tensor([[[1, 2], [3, 4]]], dtype=torch.uint8)
    assert permute(image, torch.tensor([3, 2, 1, 0])).tolist() == [[[4, 3], [2, 1]]]


def test_rotate_by_90_degrees_is_rot90_and_by_0_is_the_image():
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    assert torch.equal(rotate(images, 0), images)
    assert torch.equal(rotate(images, 90), torch.rot90(images, 1, dims=(1, 2)))
    assert torch.equal(rotate(images, 180), torch.rot90(images, 2, dims=(1, 2)))


@pytest.mark.parametrize("transform", ["permute", "rotate"])
def test_a_domain_run_scores_each_task_only_once_its_position_is_trained(tiny_config, transform):
    stream = {**DOMAIN["stream"], "transform": transform}
    metrics = run_experiment(tiny_config(**{**DOMAIN, "stream": stream}), log=quiet)
    matrix = metrics["accuracy_matrix"]
    assert [[v is not None for v in row] for row in matrix] == [
        [True, False, False],
        [True, True, False],
        [True, True, True],
    ]
    assert metrics["task_classes"] == [[0, 1, 2]] * 3


def test_the_domain_stream_and_its_scenario_go_together(tiny_config):
    with pytest.raises(ConfigError, match="domain_incremental"):
        tiny_config(stream={"kind": "domain"})
    with pytest.raises(ConfigError, match="domain_incremental"):
        tiny_config(scenario="domain_incremental")


def test_a_stream_registered_by_name_is_accepted_by_the_loader_and_built(tiny_config):
    from spikereplay import streams

    with pytest.raises(ConfigError, match="stream.kind must be one of"):
        tiny_config(stream={"kind": "reversed_split"})

    @streams.register_stream("reversed_split")
    def build_tasks(cfg, arrays):  # the class-split tasks, last one first
        return fake_tasks([3, 5])[::-1]

    try:
        cfg = tiny_config(stream={"kind": "reversed_split"})
        stream, eval_tasks = streams.build_stream(cfg, arrays=None)
    finally:
        del streams.TASK_BUILDERS["reversed_split"]  # registered for this test only
    assert [task.train_x.shape[0] for task in stream] == [5, 3]
    assert [task.train_x.shape[0] for task in eval_tasks] == [5, 3]


def test_a_hard_online_order_is_each_sample_once_task_after_task():
    order = online_order(fake_tasks([5, 3, 4]), 0, seed=0)
    assert order.samples.sort().values.tolist() == list(range(12))
    assert order.task_ends == [4, 7, 11]
    assert sorted(order.samples[:5].tolist()) == [0, 1, 2, 3, 4]
    assert order.end_batches(2) == [2, 3, 5] and order.num_batches(5) == 3


def test_a_blurry_window_mixes_neighbouring_tasks_with_a_rising_probability():
    order = online_order(fake_tasks([2000, 2000]), 1000, seed=0)
    samples = order.samples
    assert samples.sort().values.tolist() == list(range(4000))  # each sample once
    window = samples[1500:2500] >= 2000  # True: the next task's sample
    quarters = [float(window[i * 250 : (i + 1) * 250].float().mean()) for i in range(4)]
    assert quarters == sorted(quarters) and quarters[0] < 0.25 and quarters[-1] > 0.75
    assert bool((samples[:1500] < 2000).all() and (samples[2500:] >= 2000).all())
    last_of_task_0 = max(i for i, s in enumerate(samples.tolist()) if s < 2000)
    assert order.task_ends[0] == last_of_task_0 and 2000 < last_of_task_0 < 2500


def test_the_next_tasks_share_rises_linearly_across_the_window_to_its_last_place():
    # at place p of a window of W, a sample of the next task with probability about (p + 1/2) / W;
    # measured over 1000 seeded orders, every place within 0.05 of it (the first and last too)
    width, orders = 20, 1000
    share = torch.zeros(width)
    for seed in range(orders):
        share += (online_order(fake_tasks([30, 30]), width, seed).samples[20:40] >= 30).float()
    expected = (torch.arange(width) + 0.5) / width
    assert (share / orders - expected).abs().max() < 0.05


def test_a_blurry_window_larger_than_a_task_is_refused_before_anything_is_written(tiny_config, tmp_path):
    cfg = tiny_config(**{**ONLINE, "stream": {"kind": "online", "blurry_samples": 500}})
    with pytest.raises(ConfigError, match="stream.blurry_samples 500 is larger than a task"):
        run_experiment(cfg, log=quiet)
    assert not cfg.run_dir.exists()


def test_the_online_stream_never_gives_the_strategy_a_task_id_or_a_boundary(tiny_config, monkeypatch):
    seen = {"task_ids": set(), "boundaries": 0, "batch_sizes": set()}
    original = ER.observe

    def spy(self, batch):
        seen["task_ids"].add(batch.task_id)
        seen["batch_sizes"].add(batch.labels.shape[0])
        return original(self, batch)

    def boundary(self, task):
        seen["boundaries"] += 1

    monkeypatch.setattr(ER, "observe", spy)
    monkeypatch.setattr(ER, "begin_task", boundary)
    monkeypatch.setattr(ER, "end_task", boundary)
    metrics = run_experiment(tiny_config(**ONLINE), log=quiet)
    assert seen == {"task_ids": {None}, "boundaries": 0, "batch_sizes": {10, 6}}  # 216 = 21 x 10 + 6
    assert len(metrics["accuracy_matrix"]) == 2 and metrics["complete"]
    assert metrics["batches_done"] == 22  # 216 training samples in batches of 10
    assert [p[0] for p in metrics["stream_accuracy"]] == [4, 8, 12, 16, 20, 22]


def test_without_periodic_points_the_stream_average_is_taken_at_each_task_end_on_the_tasks_shown(tiny_config):
    # a blurry window shows the next task before this one ends: the task-end point must count it,
    # exactly as a periodic point at the same batch does (scoring never changes the training)
    blurry = {**ONLINE["stream"], "blurry_samples": 40}
    every_batch = run_experiment(tiny_config(**{**ONLINE, "stream": {**blurry, "eval_every": 1}}), log=quiet)
    ends_only = run_experiment(
        tiny_config(**{**ONLINE, "stream": {**blurry, "eval_every": 0}}, output={"run_name": "ends"}), log=quiet
    )
    at_batch = dict(every_batch["stream_accuracy"])
    points = ends_only["stream_accuracy"]
    assert len(points) == 2 and points[-1][0] == every_batch["batches_done"]
    assert [value for _, value in points] == [at_batch[done] for done, _ in points]


def test_the_online_stream_defaults_to_one_pass_of_batches_of_10():
    cfg = config_from_dict(
        {"stream": {"kind": "online"}, "scenario": "task_free", "strategy": "er", "memory": {"size": 9}}
    )
    assert (cfg.training.batch_size, cfg.training.epochs) == (10, 1)
    given = config_from_dict(
        {"stream": {"kind": "online"}, "scenario": "task_free", "training": {"batch_size": 4}, "strategy": "naive"}
    )
    assert given.training.batch_size == 4


def test_an_online_run_killed_mid_stream_resumes_to_the_same_results(tiny_config, monkeypatch):
    first = run_experiment(tiny_config(**{**ONLINE, "strategy": "derpp"}), log=quiet)
    cfg = tiny_config(**{**ONLINE, "strategy": "derpp"}, output={"run_name": "killed"})
    calls = {"n": 0}
    observe = DER.observe

    def die_at_batch_8(self, batch):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt  # a kill between the checkpoints at batches 6 and 9
        return observe(self, batch)

    monkeypatch.setattr(DER, "observe", die_at_batch_8)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, log=quiet)
    monkeypatch.setattr(DER, "observe", observe)
    resumed = run_experiment(cfg, log=quiet)
    for key in ("accuracy_matrix", "stream_accuracy", "silent_outputs"):
        assert resumed[key] == first[key], key
    rescored = evaluate_run(cfg.run_dir, log=quiet)  # spikereplay test: the hidden task ends again
    assert rescored["accuracy_matrix"] == first["accuracy_matrix"]
    assert rescored["stream_accuracy"] == first["stream_accuracy"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("strategy=lwf", "strategy 'lwf' needs task boundaries"),
        ("strategy=ewc_on", "strategy 'ewc_on' needs task boundaries"),
        ("strategy=si", "strategy 'si' needs task boundaries"),
        ("strategy=agem", "strategy 'agem' needs task boundaries"),
        ("stream.blurry_samples=100000", "stream.blurry_samples 100000 is larger than a task"),
        ("data.class_order=[[0,1],[10,11]]", "mnist has classes 0..9, got [0, 1, 10, 11]"),
        ("data.dataset=mnst", "did you mean 'mnist'?"),
        ("scenario=class_incremental", "scenario class_incremental (a head is added at each task)"),
        ("training.epochs=3", "training.epochs 3 (the online stream is one pass)"),
        ("stream.kind=onlin", "did you mean 'online'?"),
    ],
)
def test_what_the_online_stream_cannot_serve_is_refused_in_one_line(tmp_path, capsys, override, message):
    config = tmp_path / "online.yaml"
    config.write_text("stream: {kind: online}\nscenario: task_free\nstrategy: er\nmemory: {size: 20}\n")
    code = cli.main(["train", "--config", str(config), override, f"output.runs_dir={tmp_path}/runs"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_an_eval_split_with_no_sample_in_some_task_is_refused_before_anything_is_written(tmp_path, capsys):
    # 5 training images per digit at a validation share of 5 % round to no validation image
    overrides = ["data.eval_split=val", "data.val_fraction=0.05", "data.train_per_class=5"]
    code = cli.main(
        ["train", "--config", str(REPO / "configs/quick.yaml"), *overrides, f"output.runs_dir={tmp_path}/runs"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "have no validation samples at data.val_fraction 0.05" in err
    assert not (tmp_path / "runs").exists()


def test_time_varying_input_is_fed_bin_by_bin_and_learnt(tiny_config, monkeypatch):
    """A dataset of binned events (uint8 (N, T, C, H, W)) over noise: class c fires its own row of
    pixels in bins c and c + 1. The model is fed the data's own bins, in order, and learns it."""
    from spikereplay import datasets
    from spikereplay.datasets import DatasetInfo, ImageArrays
    from spikereplay.strategies.naive import Naive

    def load(root=None, download=True):
        generator = torch.Generator().manual_seed(0)

        def split(n):
            labels = torch.arange(n) % 4
            events = (torch.rand(n, 6, 1, 4, 4, generator=generator) < 0.1).to(torch.uint8)
            for c in range(4):
                events[labels == c, c : c + 2, 0, c] = 1
            return events, labels

        return ImageArrays(*split(400), *split(200))

    info = DatasetInfo("events4", 4, (1, 4, 4), load, input_kind="events", default_backbone="mlp")
    monkeypatch.setitem(datasets.DATASETS, "events4", info)
    seen_steps = []
    original = Naive.observe

    def spy(self, batch):
        inputs, static, steps = self.encoded(batch.images)
        seen_steps.append((tuple(inputs.shape[:2]), static, steps))
        return original(self, batch)

    monkeypatch.setattr(Naive, "observe", spy)
    cfg = tiny_config(
        data={"dataset": "events4", "class_order": [[0, 1, 2, 3]], "train_per_class": None, "test_per_class": None},
        training={"epochs": 10, "lr": 0.005},
        model={"backbone_params": {"hidden": [32]}},
    )
    metrics = run_experiment(cfg, log=quiet)
    assert seen_steps[0] == ((6, 32), False, 6)  # [T, B]: the data's own 6 bins, not training.num_steps
    assert metrics["final_average_accuracy"] > 90


def test_image_only_settings_are_refused_for_an_events_dataset(tiny_config, monkeypatch):
    from spikereplay import datasets
    from spikereplay.datasets import DatasetInfo

    monkeypatch.setitem(datasets.DATASETS, "events4", DatasetInfo("events4", 4, (1, 4, 4), None, input_kind="events"))
    with pytest.raises(ConfigError, match="replay.shift_pixels shifts replayed images, and events4's input is events"):
        tiny_config(data={"dataset": "events4", "class_order": [[0, 1], [2, 3]]}, replay={"shift_pixels": 2})
