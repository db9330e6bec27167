import json
import os

import torch

from spikereplay import cli
from spikereplay.compare import config_differences, entries, render
from spikereplay.experiment import run_experiment


def test_config_differences_names_only_the_keys_that_differ():
    a = {"name": "a", "seed": 0, "training": {"lr": 0.001, "epochs": 1}, "output": {"run_name": "a"}}
    b = {"name": "b", "seed": 0, "training": {"lr": 0.01, "epochs": 1}, "output": {"run_name": "b"}}
    assert config_differences([a, b]) == {"training.lr": [0.001, 0.01]}


def test_compare_prints_runs_side_by_side_with_their_differences(tiny_config, tmp_path, capsys):
    quiet = lambda *_: None  # noqa: E731
    first = tiny_config(strategy="naive", output={"run_name": "naive"})
    second = tiny_config(strategy="er", memory={"size": 40}, output={"run_name": "er"})
    m1, m2 = run_experiment(first, log=quiet), run_experiment(second, log=quiet)
    plot = tmp_path / "h.png"
    assert cli.main(["compare", str(first.run_dir), str(second.run_dir), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert (
        f"| naive | {m1['final_average_accuracy']:.2f} |" in out
        and f"| er | {m2['final_average_accuracy']:.2f} |" in out
    )
    assert '- strategy: naive="naive", er="er"' in out and "- memory.size: naive=0, er=40" in out
    assert plot.read_bytes()[:4] == b"\x89PNG"
    # a sweep-like directory stands for the runs under it
    assert cli.main(["compare", str(first.run_dir.parent.parent)]) == 0
    assert cli.main(["compare", str(tmp_path / "nothing")]) == 2


def test_compare_refuses_a_missing_path_and_a_directory_without_runs_each_in_its_own_words(tmp_path, capsys):
    assert cli.main(["compare", str(tmp_path / "nope")]) == 2
    assert f"{tmp_path / 'nope'} does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli.main(["compare", str(tmp_path / "empty")]) == 2
    assert "neither a run directory" in capsys.readouterr().err


def test_a_committed_sweep_without_its_runs_is_compared_from_its_results_lines(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    lines = [
        {
            "run": "er_s0",
            "point": {"strategy": "er", "memory.size": 200, "seed": 0},
            "strategy": "er",
            "seed": 0,
            "scenario": "class_incremental",
            "final_average_accuracy": 91.5,
            "average_accuracy": [99.0, 91.5],
        },
        {
            "run": "er_s1",
            "point": {"strategy": "er", "memory.size": 500, "seed": 1},
            "strategy": "er",
            "seed": 1,
            "scenario": "class_incremental",
            "final_average_accuracy": 93.25,
            "average_accuracy": [99.0, 93.25],
        },
    ]
    (sweep / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    plot = tmp_path / "h.png"
    assert cli.main(["compare", str(sweep), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "| er_s0 | 91.50 |" in out and "| er_s1 | 93.25 |" in out
    assert "- memory.size: er_s0=200, er_s1=500" in out and "- seed: er_s0=0, er_s1=1" in out
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_the_committed_strategies_table_compares_on_a_fresh_clone(capsys):
    assert cli.main(["compare", "results/strategies/table"]) == 0
    out = capsys.readouterr().out
    assert "| cil_er_m500_seed0 |" in out and "| cil_er_m200_seed0_d76533 |" in out


def write_run(path, threads: int, cpu: str):
    path.mkdir(parents=True)
    (path / "config.yaml").write_text("seed: 0\n")
    environment = {"cpu": cpu, "threads": threads, "torch": "2.13.0+cpu"}
    (path / "metrics.json").write_text(json.dumps({"complete": True, "environment": environment}))
    return path


def test_compare_names_the_thread_count_and_cpu_where_two_runs_of_one_config_differ(tmp_path):
    one = write_run(tmp_path / "one", threads=1, cpu="AMD EPYC")
    two = write_run(tmp_path / "two", threads=2, cpu="Intel Xeon")
    text = render(entries([str(one), str(two)]))
    assert "Config differences: none" in text
    assert "- threads: one=1, two=2" in text and '- cpu: one="AMD EPYC", two="Intel Xeon"' in text
    assert "torch" not in text.split("Environment differences")[1]
    assert "Environment differences: none" in render(
        entries([str(one), str(write_run(tmp_path / "same", 1, "AMD EPYC"))])
    )


def test_a_run_records_its_threads_cpu_and_versions(tiny_config):
    metrics = run_experiment(tiny_config(), log=lambda *_: None)
    environment = metrics["environment"]
    assert environment["threads"] == torch.get_num_threads() and environment["precision"] == "fp32"
    assert environment["torch"] == torch.__version__ and environment["cpu"]
    assert isinstance(environment["deterministic_kernels"], bool)
    if environment["device"].startswith("cuda"):
        assert environment["deterministic_kernels"]


def test_a_cuda_run_switches_to_deterministic_kernels_and_keeps_a_cublas_setting_the_user_gave(monkeypatch):
    from spikereplay.environment import make_cuda_deterministic

    cudnn = torch.backends.cudnn
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    saved_cudnn = (cudnn.deterministic, cudnn.benchmark)
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    torch.use_deterministic_algorithms(False)
    cudnn.deterministic, cudnn.benchmark = False, True
    try:
        make_cuda_deterministic()
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert cudnn.deterministic and not cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
        make_cuda_deterministic()
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        cudnn.deterministic, cudnn.benchmark = saved_cudnn
