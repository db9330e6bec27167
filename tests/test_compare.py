from spikereplay import cli
from spikereplay.compare import config_differences
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


def test_compare_refuses_a_directory_without_runs(tmp_path, capsys):
    assert cli.main(["compare", str(tmp_path / "nope")]) == 2
    assert "neither a run directory" in capsys.readouterr().err
