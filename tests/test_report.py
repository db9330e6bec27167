"""Sweep report: aggregation over seeds, checked against hand-computed numbers."""

import json
import math
import shutil
from pathlib import Path

import pytest

from spikereplay import report
from spikereplay.errors import SpikeReplayError
from spikereplay.report import plots as report_plots
from spikereplay.sweep.results import read_results

FIXTURE = Path(__file__).parent / "fixtures" / "results.jsonl"


@pytest.fixture
def records():
    return list(read_results(FIXTURE).values())


def test_fixture_reads_deduplicated_without_partial_line(records):
    names = [r["run"] for r in records]
    assert len(names) == len(set(names)) == 9
    # the duplicate line for cil_naive_seed0 comes later and is ignored
    naive0 = next(r for r in records if r["run"] == "cil_naive_seed0")
    assert naive0["final_average_accuracy"] == 20


def test_mean_and_sample_std():
    assert report.mean_std([40, 44, 48]) == (44, 4.0)
    m, s = report.mean_std([20, 24])
    assert m == 22 and math.isclose(s, 2 * math.sqrt(2))
    assert report.mean_std([7.5]) == (7.5, None)
    assert report.mean_std([None, None]) == (None, None)
    assert report.format_mean_std([40, 44, 48]) == "44.0 ± 4.0"
    assert report.format_mean_std([7.5]) == "7.5"
    assert report.format_mean_std([]) == "–"


def test_rows_grouped_and_ordered(records):
    groups = report.group_rows(records)
    assert list(groups) == ["class_incremental", "task_free"]
    cil = groups["class_incremental"]
    assert [report.row_label(k) for k in cil] == ["naive", "MR10", "MR40 (separate_pass)", "joint"]
    assert [len(runs) for runs in cil.values()] == [2, 3, 1, 2]
    assert [report.published(k) for k in cil] == [43.9, 47.9, 51.0, 90.1]
    assert [report.published(k) for k in groups["task_free"]] == [21.6]


def test_other_varied_keys_make_their_own_row(records):
    tweaked = dict(records[0], point={**records[0]["point"], "training.lr": 0.0001}, run="x")
    groups = report.group_rows([records[0], tweaked])
    assert [report.row_label(k) for k in groups["class_incremental"]] == ["naive", "naive (training.lr=0.0001)"]


def test_history_columns_put_joint_in_the_last_column(records):
    cil = report.group_rows(records)["class_incremental"]
    by_label = {report.row_label(k): runs for k, runs in cil.items()}
    assert report.history_columns(by_label["naive"], 5) == [[90, 94], [50, 54], [30, 34], [25, 27], [20, 24]]
    assert report.history_columns(by_label["joint"], 5) == [[], [], [], [], [88.0, 92.0]]


def test_mean_matrix_keeps_unseen_entries_empty(records):
    naive = [r["accuracy_matrix"] for r in records if r["run"].startswith("cil_naive")]
    matrix = report.mean_matrix(naive)
    assert matrix[1] == [9, 95, None, None, None]
    assert matrix[4] == [0, 0, 0, 15, 95]


def test_report_tables_match_hand_computed_values(records):
    text = report.render_report(records, "fixture", "reproduce")
    lines = text.splitlines()
    assert "| row | T1 | T2 | T3 | T4 | T5 | published | seeds |" in lines
    # naive T5: 20, 24 -> 22.0 ± 2.83; T4: 25, 27 -> 26.0 ± 1.41
    assert "| naive | 92.0 ± 2.8 | 52.0 ± 2.8 | 32.0 ± 2.8 | 26.0 ± 1.4 | 22.0 ± 2.8 | 43.9 | 2 |" in lines
    # MR10 final: 40, 44, 48 -> 44.0 ± 4.0
    assert "| MR10 | 95.0 ± 0.0 | 72.0 ± 2.0 | 57.0 ± 2.0 | 50.0 ± 2.0 | 44.0 ± 4.0 | 47.9 | 3 |" in lines
    assert "| MR40 (separate_pass) | 96.0 | 75.0 | 60.0 | 55.0 | 50.0 | 51.0 | 1 |" in lines
    assert "| joint | – | – | – | – | 90.0 ± 2.8 | 90.1 | 2 |" in lines
    assert "| naive | 90.0 | 48.0 | 31.0 | 24.0 | 19.5 | 21.6 | 1 |" in lines
    # forgetting 85, 91 -> 88.0 ± 4.2; MR10 27, 24.5, 22 -> 24.5 ± 2.5; task-incremental 70, 74 -> 72.0 ± 2.8
    # learning accuracy: mean diagonal 88 and 96.8 -> 92.4 ± 6.2; intransigence against the joint
    # final row (88 and 92 -> 90 on every task): 10/5 = 2.0 and -34/5 = -6.8 -> -2.4 ± 6.2
    assert "| naive | 88.0 ± 4.2 | -88.0 ± 4.2 | 92.4 ± 6.2 | -2.4 ± 6.2 | 72.0 ± 2.8 |" in lines
    assert any(
        line.startswith("| MR10 | 24.5 ± 2.5 | -24.5 ± 2.5 |") and line.endswith(" 81.0 ± 1.0 |") for line in lines
    )
    assert "| joint | – | – | 90.0 ± 2.8 | – | 95.0 ± 0.0 |" in lines
    # task-free has no joint row: no intransigence
    assert any(line.startswith("| naive | ") and "| – | " in line for line in lines[lines.index("## task_free") :])
    assert "| after 2 | 9.0 | 95.0 | – | – | – |" in lines


def test_final_accuracy_table_lists_each_seed(records):
    lines = report.render_report(records, "fixture", "reproduce").splitlines()
    assert "| row | mean ± std | per seed | silent % | published | published value reproduced? |" in lines
    # MR10 finals 40, 44, 48 (seeds 0, 1, 2): sample std 4; 47.9 lies inside 40..48
    assert "| MR10 | 44.00 ± 4.00 | s0: 40.00, s1: 44.00, s2: 48.00 | – | 47.9 | yes (in the seeds' range) |" in lines
    # naive 20, 24: sample std sqrt(8) = 2.828...; 43.9 is 19.9 above 24 and 21.9 above the mean 22
    assert (
        "| naive | 22.00 ± 2.83 | s0: 20.00, s1: 24.00 | – | 43.9 | **no**: +19.90 beyond the seeds' range, "
        "+21.9 from the mean |"
    ) in lines
    # one seed: 51.0 is 1.0 from 50, within 5 points
    assert "| MR40 (separate_pass) | 50.00 | s0: 50.00 | – | 51.0 | yes (+1.0 from the mean) |" in lines


def test_a_sweep_that_does_not_declare_the_published_protocol_shows_no_published_value(records):
    text = report.render_report(records, "fixture")
    assert "No published value applies" in text and "43.9" not in text and "reproduced?" not in text
    assert "| row | T1 | T2 | T3 | T4 | T5 | seeds |" in text.splitlines()


def test_a_sweep_meant_to_beat_the_paper_says_whether_every_seed_beats_it(records):
    lines = report.render_report(records, "fixture", "beat").splitlines()
    assert "| row | mean ± std | per seed | silent % | published | beats the published value? |" in lines
    # joint 88, 92 against 90.1: the lowest seed is under it
    assert "| joint | 90.00 ± 2.83 | s0: 88.00, s1: 92.00 | – | 90.1 | **no**: -0.1 (lowest seed 88.00) |" in lines
    assert report.beats(43.9, [97.5, 98.0]) == "yes: +53.9 (every seed above)"


def test_the_silent_output_column_averages_each_runs_last_figure(records):
    silent = [dict(r, silent_outputs=[{"silent_share": 50.0}, {"silent_share": v}]) for r, v in zip(records, range(9))]
    naive = [r for r in silent if r["run"] in ("cil_naive_seed0", "cil_naive_seed1")]
    shares = [r["silent_outputs"][-1]["silent_share"] for r in naive]
    lines = report.render_report(silent, "fixture").splitlines()
    mean, std = sum(shares) / 2, abs(shares[0] - shares[1]) / 2**0.5
    assert f"| naive | 22.00 ± 2.83 | s0: 20.00, s1: 24.00 | {mean:.1f} ± {std:.1f} |" in lines


def test_the_published_mode_is_read_from_the_sweep_files_the_sweep_recorded(tmp_path):
    (tmp_path / "sweeps").mkdir()
    assert report.published_mode(tmp_path) is None
    (tmp_path / "sweeps" / "a.yaml").write_text("name: a\npublished: reproduce\n")
    assert report.published_mode(tmp_path) == "reproduce"


def test_report_says_what_a_wrong_path_is(tmp_path):
    with pytest.raises(SpikeReplayError, match="does not exist"):
        report.write_report(tmp_path / "missing")
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{}")
    with pytest.raises(SpikeReplayError, match="is a run directory, not a sweep: use `spikereplay compare"):
        report.write_report(run)
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(f"name: s\noutput_dir: {tmp_path / 'out'}\n")
    with pytest.raises(SpikeReplayError, match=f"is a sweep file: its results are in {tmp_path / 'out'}"):
        report.write_report(sweep_file)


def test_repeated_seeds_are_noted(records):
    again = dict(records[0], run="cil_naive_seed0_other")
    assert "naive has seed(s) [0] more than once" in report.render_report([*records, again])


def test_write_report_files(tmp_path):
    shutil.copy(FIXTURE, tmp_path / "results.jsonl")
    written = report.write_report(tmp_path)
    names = sorted(p.name for p in written)
    assert names == [
        "accuracy_history_class_incremental.png",
        "accuracy_history_task_free.png",
        "final_vs_memory.png",
        "report.md",
        "task_accuracy_class_incremental.png",
        "task_accuracy_task_free.png",
    ]
    for path in written:
        assert path.exists()
        if path.suffix == ".png":
            assert path.read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_confusions_are_summed_over_seeds_and_drawn(records, tmp_path):
    naive = [r for r in records if r["run"] in ("cil_naive_seed0", "cil_naive_seed1")]
    with_confusion = [
        dict(naive[0], confusion={"classes": [1, 0], "matrix": [[3, 1], [0, 4]]}),
        dict(naive[1], confusion=None),  # an older result line: read from its run directory
    ]
    run_dir = tmp_path / "runs" / "cil_naive_seed1"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps({"confusion": {"classes": [1, 0], "matrix": [[2, 2], [1, 3]]}}))
    rows = report.group_rows(with_confusion + [r for r in records if r["run"].startswith("cil_replay_mr10")])
    panels = report.summed_confusions(rows["class_incremental"], tmp_path)
    assert panels == [("naive (2 seeds)", {"classes": [1, 0], "matrix": [[5, 3], [1, 7]]})]  # MR10: none kept
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in with_confusion))
    written = report.write_report(tmp_path)
    assert tmp_path / "confusion_class_incremental.png" in written
    counts = json.loads((tmp_path / "confusion_class_incremental.json").read_text())
    assert counts == {"naive (2 seeds)": {"classes": [1, 0], "matrix": [[5, 3], [1, 7]]}}
    assert (tmp_path / "confusion_class_incremental.png").read_bytes()[:4] == b"\x89PNG"


def test_memory_series_start_at_naive(records):
    series = report_plots.memory_series(report.group_rows(records)["class_incremental"])
    assert [(m, v) for m, v in series["replay"]] == [(0, [20, 24]), (10, [40, 44, 48])]
    assert series["replay (separate_pass)"] == [(0, [20, 24]), (40, [50])]


def test_empty_sweep_dir_is_a_clear_error(tmp_path):
    with pytest.raises(SpikeReplayError, match="no results"):
        report.write_report(tmp_path)


def test_warnings_are_listed_only_when_a_run_has_them(records):
    assert "## Warnings" not in report.render_report(records)
    warned = dict(records[0], warnings=["after task 3: 0.0 % on the classes just trained"])
    lines = report.render_report([warned, *records[1:]]).splitlines()
    assert f"- {warned['run']}: after task 3: 0.0 % on the classes just trained" in lines


def test_zoom_floor_is_a_whole_percent_under_the_lowest_point():
    # MR10 94.27 ± 0.40 -> lowest 93.87; one point of margin -> 92.87 -> 92
    assert report_plots.zoom_floor([93.87, 98.6]) == 92.0
    assert report_plots.zoom_floor([99.5], margin=0.5) == 99.0
    assert report_plots.zoom_floor([]) == 90.0


def test_task_histories_skip_rows_without_history(records, tmp_path):
    rows = report.group_rows(records)["class_incremental"]
    joint_only = {k: runs for k, runs in rows.items() if k.strategy == "joint"}
    assert joint_only and not report_plots.plot_task_histories(joint_only, "class_incremental", tmp_path / "j.png")
    assert not (tmp_path / "j.png").exists()
    assert report_plots.plot_task_histories(rows, "class_incremental", tmp_path / "all.png")
    assert (tmp_path / "all.png").read_bytes()[:4] == b"\x89PNG"


def strategy_record(run, strategy, size, seed, final, task_il, policy="reservoir"):
    return {
        "run": run,
        "point": {"strategy": strategy, "memory.size": size, "seed": seed},
        "scenario": "class_incremental",
        "strategy": strategy,
        "memory_policy": policy if size else None,
        "buffer_size": size,
        "buffer_bytes": size * 800,
        "seed": seed,
        "final_average_accuracy": final,
        "task_incremental_final_average_accuracy": task_il,
        "forgetting": 1.0,
        "backward_transfer": -1.0,
        "accuracy_matrix": [[final]],
        "average_accuracy": [final],
    }


def test_strategies_report_rows_beside_the_ann_numbers(tmp_path):
    import json

    from spikereplay.report.strategies import is_strategies_sweep

    records = [
        strategy_record("er200s0", "er", 200, 0, 90.0, 99.0),
        strategy_record("er200s1", "er", 200, 1, 92.0, 99.5),
        strategy_record("lwf0", "lwf", 0, 0, 20.0, 95.0),
        strategy_record("derpp5120s0", "derpp", 5120, 0, 97.0, 99.8),
    ]
    assert is_strategies_sweep(records) and not is_strategies_sweep(list(read_results(FIXTURE).values()))
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    written = report.write_report(tmp_path)
    text = written[0].read_text()
    # er at 200: mean 91, sample std sqrt(2); the DER paper's ANN ER at 200 is 80.43 / 97.86
    # one-step matrices: learning accuracy = final; forgetting 1.0 everywhere; no joint run: no intransigence
    er_row = "| class_incremental | er | 200 | 91.00 ± 1.41 | 99.25 ± 0.35 | 91.00 ± 1.41 | 1.00 ± 0.00 | – | 2 |"
    assert er_row + " 80.43 | 97.86 |" in text
    assert "| class_incremental | lwf | – | 20.00 | 95.00 | 20.00 | 1.00 | – | 1 | 19.62 | 94.11 |" in text
    assert "| class_incremental | derpp | 5120 | 97.00 | 99.80 | 97.00 | 1.00 | – | 1 | 95.30 | 99.47 |" in text
    lines = text.splitlines()
    assert lines.index(next(line for line in lines if "| lwf |" in line)) < lines.index(
        next(line for line in lines if "| er | 200" in line)
    )  # buffer-free methods first, then by buffer
    assert (tmp_path / "final_vs_buffer.png").read_bytes()[:4] == b"\x89PNG"


def test_the_buffer_plot_draws_every_scenario_not_only_class_incremental():
    from spikereplay.report.strategies import buffer_series

    online = [dict(strategy_record(f"o{s}", "er", 500, s, 94.0 + s, 99.0), stream="online") for s in (0, 1)]
    online.append(dict(strategy_record("j0", "joint", 0, 0, 97.0, 99.5), stream="online"))
    domain = [dict(strategy_record("d0", "derpp", 500, 0, 91.0, 91.0), scenario="domain_incremental")]
    series = buffer_series(online + domain)
    # an online run's scenario column is "online"; before, the plot kept class-incremental runs only
    # and drew an empty figure for these sweeps
    assert sorted(series) == ["domain_incremental", "online"]
    assert series["online"]["er"] == {"points": [(500, 94.5)], "per_task": False, "level": None}
    assert series["online"]["joint"]["level"] == 97.0
    assert series["domain_incremental"]["derpp"]["points"] == [(500, 91.0)]


def test_ablation_table_orders_steps_and_names_the_key_each_adds():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ablation_table", "sweeps/seed-faithful/ablation_table.py")
    ablation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ablation)
    fixed = {"memory.batches_per_task": 40}
    # the last step also runs a faster engine: a speed setting, not a step of its own
    engine = {"model.compile": True, "model.compile_forward": True, "precision": "bf16"}
    steps = [{}, {"quirks.snapshot_every": 0}, {"quirks.snapshot_every": 0, "quirks.drop_last": False, **engine}]
    finals = [(50.0, 54.0), (60.0, 60.0), (70.0, 80.0)]
    # step 1's runs carry accuracy matrices: tasks 2 and 3 right after training score 49.9 and 50.0
    # (seed 123), 10.0 and 95.0 (seed 133), so 2 of the 4 later tasks are under 50 %
    matrices = {123: [[99.0], [1.0, 49.9], [1.0, 2.0, 50.0]], 133: [[99.0], [1.0, 10.0], [1.0, 2.0, 95.0]]}
    records = [
        {
            "run": f"r{i}{seed}",
            "scenario": "class_incremental",
            "seed": seed,
            "final_average_accuracy": value,
            "point": {**fixed, **step, "seed": seed},
            **({"accuracy_matrix": matrices[seed]} if i == 1 else {}),
        }
        for i, (step, values) in reversed(list(enumerate(zip(steps, finals))))  # out of order on purpose
        for seed, value in zip((123, 133), values)
    ]
    lines = ablation.render(records).splitlines()
    assert "| 0 | none (faithful) | 52.00 ± 2.83 | s123: 50.00, s133: 54.00 | – |" in lines
    assert "| 1 | quirks.snapshot_every=0 | 60.00 ± 0.00 | s123: 60.00, s133: 60.00 | 2/4 |" in lines
    assert (
        "| 2 | quirks.drop_last=False (engine: model.compile=True, model.compile_forward=True, precision=bf16) "
        "| 75.00 ± 7.07 | s123: 70.00, s133: 80.00 | – |"
    ) in lines


def test_forward_transfer_column_only_where_runs_measured_it(records):
    assert "forward transfer" not in report.render_report(records)
    measured = [dict(r, forward_transfer=2.0 + r["seed"]) if r["run"].startswith("cil_naive") else r for r in records]
    lines = report.render_report(measured).splitlines()
    header = next(line for line in lines if line.startswith("| row | forgetting"))
    assert header.endswith("| task-incremental final | forward transfer |")
    # naive seeds 0 and 1: 2.0 and 3.0 -> 2.5 ± 0.7; MR10 did not measure it
    assert next(line for line in lines if line.startswith("| naive | 88.0")).endswith("| 2.5 ± 0.7 |")
    assert next(line for line in lines if line.startswith("| MR10 | 24.5")).endswith("| – |")


def test_published_table_reads_the_published_code_json_and_the_same_seed_faithful_run(tmp_path):
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("published_table", "sweeps/seed-faithful/published_table.py")
    published = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(published)
    run_dir = tmp_path / "published-code" / "cil_mr20_run1"  # run 1: seed 133
    run_dir.mkdir(parents=True)
    table = [{"Trained task": i, **{f"Acc task {j}": 0.99 if i == j else 0.25 for j in range(i + 1)}} for i in range(3)]
    (run_dir / "accuracy.json").write_text(json.dumps(table[::-1]))  # entries in any order
    record = {"run": "cil_replay_mr20_seed133", "final_average_accuracy": 51.234}
    (tmp_path / "results.jsonl").write_text(json.dumps(record) + "\n")
    lines = published.render(tmp_path).splitlines()
    # final row after task 3: 25, 25, 99 -> mean 49.67
    assert lines[2] == "| class_incremental MR20 | 133 | 25.00, 25.00, 99.00 | 49.67 | 51.23 | 42.5 |"


def test_the_strategies_report_shows_the_ann_numbers_only_for_split_mnist(tmp_path):
    from spikereplay.report.strategies import render_strategies_report

    record = {
        "run": "cil_er_m500_seed0", "scenario": "class_incremental", "strategy": "er", "memory_policy": "reservoir",
        "point": {"strategy": "er", "memory.size": 500, "seed": 0}, "seed": 0, "final_average_accuracy": 80.0,
        "accuracy_matrix": [[99.0, None], [70.0, 90.0]], "forgetting": 29.0,
    }  # fmt: skip
    from spikereplay.report.strategies import PUBLISHED_ANN

    ann_class_il, ann_task_il = PUBLISHED_ANN[("er", 500)]
    row = next(line for line in render_strategies_report([record], "t").splitlines() if "| er | 500 |" in line)
    assert row.endswith(f"| {ann_class_il:.2f} | {ann_task_il:.2f} |")
    fashion = render_strategies_report([{**record, "dataset": "fashion_mnist"}], "t")
    row = next(line for line in fashion.splitlines() if "| er | 500 |" in line)
    assert row.endswith("| – | – |") and "CLS-ER" not in fashion
    assert (
        "Dataset: fashion_mnist; stream: class_split. The ANN numbers of the table are class-split MNIST's" in fashion
    )


def test_an_online_run_is_its_own_scenario_with_its_stream_average_and_its_anchors(tmp_path):
    from spikereplay.report.strategies import render_strategies_report

    record = {
        "run": "online_er_m500_seed0", "scenario": "task_free", "stream": "online", "strategy": "er",
        "memory_policy": "reservoir", "memory_size": 500, "point": {"strategy": "er", "seed": 0}, "seed": 0,
        "final_average_accuracy": 90.0, "accuracy_matrix": [[99.0, None], [85.0, 95.0]], "forgetting": 14.0,
        "stream_average_accuracy": 93.5,
    }  # fmt: skip
    report = render_strategies_report([record], "t")
    row = next(line for line in report.splitlines() if line.startswith("| online | er | 500 |"))
    assert "| 93.50 | – | – |" in row  # along the stream; no Split-MNIST ANN numbers
    assert "iid-online 96.18" in report and "CLS-ER" not in report
