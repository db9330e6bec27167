"""Sweep: grid expansion, the results file, resuming after a crash, and the Ray backend."""

import json
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest
import yaml

from spikereplay import cli, sweep
from spikereplay import io as atomic
from spikereplay.errors import ConfigError
from spikereplay.sweep import file as sweep_file
from spikereplay.sweep import results as sweep_results

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "configs" / "seed" / "cil_naive.yaml"
TINY = [
    "data.train_per_class=60",
    "data.test_per_class=30",
    "training.num_steps=4",
    "training.batch_size=32",
    "training.epochs=1",
    "training.val_samples=0",
    "training.log_every=1000",
    "data.class_order=[[0,1],[2,3]]",
]
# the environment is where workers may differ (threads); the numbers must not, in these tiny runs
METRICS = [k for k in sweep_results.METRIC_KEYS if k not in ("train_seconds", "environment")]


def write_sweep(path: Path, **spec) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def expand_file(path: Path, output_dir: Path):
    spec, base = sweep_file.load_sweep(path)
    return sweep_file.expand(spec, base, sweep_file.sweep_dir(spec, str(output_dir)))


def test_grid_expansion_names_and_memory_rule(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "base.yaml").write_text(BASE.read_text())
    path = write_sweep(
        tmp_path / "sweeps" / "s.yaml",
        base="../configs/base.yaml",  # relative to the sweep file
        overrides=["training.epochs=2"],
        grid={
            "scenario": ["class_incremental", "task_free"],
            "memory.batches_per_task": [0, 10, 20],
            "seed": [0, 1, 2],
        },
        points=[{"strategy": "joint"}],
    )
    points = expand_file(path, tmp_path / "out")
    names = [p.name for p in points]
    assert len(points) == 2 * 3 * 3 + 1 and len(set(names)) == len(names)
    assert names == [p.name for p in expand_file(path, tmp_path / "out")]
    assert names[:4] == ["cil_naive_seed0", "cil_naive_seed1", "cil_naive_seed2", "cil_replay_mr10_seed0"]
    assert "tf_replay_mr20_seed2" in names and names[-1] == "cil_joint_seed0"
    by_name = {p.name: p.config for p in points}
    assert by_name["cil_naive_seed1"].strategy == "naive"
    assert by_name["tf_replay_mr20_seed2"].strategy == "replay"
    assert by_name["tf_replay_mr20_seed2"].memory.batches_per_task == 20
    cfg = by_name["cil_replay_mr10_seed0"]
    assert cfg.training.epochs == 2 and cfg.output.progress is False
    assert cfg.run_dir == (tmp_path / "out" / "runs" / "cil_replay_mr10_seed0").resolve()


def test_grids_per_strategy_and_buffer_sizes_in_samples(tmp_path):
    path = write_sweep(
        tmp_path / "s.yaml",
        base=str(BASE),
        grids=[
            {"strategy": ["naive", "lwf", "joint"], "memory.size": [200, 500], "seed": [0]},
            {"strategy": ["der"], "strategy_params.alpha": [0.5], "memory.size": [200, 500], "seed": [0]},
        ],
    )
    points = expand_file(path, tmp_path / "out")
    by_name = {p.name: p.config for p in points}
    # a strategy without a buffer runs once: the memory rule sets its size to 0
    assert [name.rsplit("_", 1)[0] if "der" in name else name for name in by_name] == [
        "cil_naive_seed0",
        "cil_lwf_seed0",
        "cil_joint_seed0",
        "cil_der_m200_seed0",
        "cil_der_m500_seed0",
    ]
    der = next(cfg for name, cfg in by_name.items() if name.startswith("cil_der_m500"))
    assert der.memory.size == 500 and der.strategy_params == {"alpha": 0.5}
    assert by_name["cil_lwf_seed0"].memory.size == 0


def test_memory_zero_turns_replay_base_naive(tmp_path):
    path = write_sweep(
        tmp_path / "s.yaml",
        base=str(REPO / "configs" / "seed" / "tf_replay_mr40_separate.yaml"),
        grid={"memory.batches_per_task": [0, 40]},
    )
    points = expand_file(path, tmp_path / "out")
    assert [(p.name, p.config.strategy) for p in points] == [
        ("tf_naive_seed0", "naive"),
        ("tf_replay_mr40_seed0", "replay"),
    ]


def test_strategy_by_memory_grid_gives_one_joint_run(tmp_path):
    path = write_sweep(
        tmp_path / "s.yaml",
        base=str(BASE),
        grid={"strategy": ["naive", "replay", "joint"], "memory.batches_per_task": [0, 10]},
    )
    points = expand_file(path, tmp_path / "out")
    # (naive, 10) is replay MR10 and (replay, 0) is naive: the memory rule merges them
    assert [(p.name, p.config.strategy, p.config.memory.batches_per_task) for p in points] == [
        ("cil_naive_seed0", "naive", 0),
        ("cil_replay_mr10_seed0", "replay", 10),
        ("cil_joint_seed0", "joint", 0),
    ]


def test_other_varied_keys_get_a_hash_suffix(tmp_path):
    path = write_sweep(
        tmp_path / "s.yaml",
        base=str(BASE),
        grid={"memory.batches_per_task": [10], "replay.schedule": ["interleaved", "separate_pass"]},
        points=[{"strategy": "replay", "memory.batches_per_task": 10, "training.lr": 1.0e-5}],
    )
    points = expand_file(path, tmp_path / "out")
    names = [p.name for p in points]
    assert len(set(names)) == 3 and all(n.startswith("cil_replay_mr10_seed0_") for n in names)
    assert [p.config.replay.schedule for p in points[:2]] == ["interleaved", "separate_pass"]
    assert points[2].config.training.lr == 1.0e-5


@pytest.mark.parametrize("value", [1.0e-5, "true", "a b", [[0, 1], [2, 3]], None, 3, False])
def test_yaml_value_round_trips(value):
    assert yaml.safe_load(sweep_file.yaml_value(value)) == value


def test_unknown_sweep_key_is_named(tmp_path):
    path = write_sweep(tmp_path / "s.yaml", grid={"seed": [0]}, gird={"seed": [1]})
    with pytest.raises(ConfigError, match="unknown key 'gird'"):
        sweep_file.load_sweep(path)


def test_invalid_point_aborts_before_writing(tmp_path, capsys):
    out = tmp_path / "out"
    path = write_sweep(tmp_path / "s.yaml", base=str(BASE), grid={"seed": [0, 1], "training.epochs": [1, 0]})
    assert cli.main(["sweep", str(path), "--output-dir", str(out)]) == 2
    assert "training.epochs" in capsys.readouterr().err
    assert not out.exists()
    unknown = write_sweep(tmp_path / "u.yaml", base=str(BASE), grid={"training.epoks": [1]})
    assert cli.main(["sweep", str(unknown), "--output-dir", str(out)]) == 2
    assert "unknown key 'training.epoks'" in capsys.readouterr().err
    assert not out.exists()


def test_sweep_file_as_positional_or_config_flag(tmp_path, capsys):
    out = tmp_path / "out"
    path = write_sweep(tmp_path / "s.yaml", base=str(BASE), grid={"seed": [0, 1]})
    assert cli.main(["sweep", str(path), "--output-dir", str(out), "--dry-run"]) == 0
    positional = capsys.readouterr().out
    assert cli.main(["sweep", "--config", str(path), "--output-dir", str(out), "--dry-run"]) == 0
    assert capsys.readouterr().out == positional == "cil_naive_seed0\ncil_naive_seed1\n"
    for args in (["sweep"], ["sweep", str(path), "--config", str(path)]):
        assert cli.main([*args, "--output-dir", str(out)]) == 2
        assert "give the sweep file once" in capsys.readouterr().err
    assert not out.exists()


def test_results_file_append_and_read(tmp_path):
    path = tmp_path / "results.jsonl"
    assert sweep_results.append_result(path, {"run": "a", "x": 1})
    assert not sweep_results.append_result(path, {"run": "a", "x": 2})  # already listed
    with path.open("ab") as fh:
        fh.write(b'{"run": "b", "x"')  # a writer killed mid-line
    assert sweep_results.read_results(path) == {"a": {"run": "a", "x": 1}}
    assert sweep_results.append_result(path, {"run": "b", "x": 3})
    with path.open("ab") as fh:
        fh.write(b'{"run": "a", "x": 4}\n')  # a duplicate from elsewhere: the first line wins
    assert sweep_results.read_results(path) == {"a": {"run": "a", "x": 1}, "b": {"run": "b", "x": 3}}


def strict_json(text: str):
    def refuse(word):
        raise ValueError(f"{word} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_results_and_metrics_with_a_nan_are_written_as_strict_json_with_null_in_its_place(tmp_path):
    record = {"run": "a", "forgetting": float("nan"), "matrix": [[1.5, float("inf")], (float("-inf"),)]}
    sweep_results.append_result(tmp_path / "results.jsonl", record)
    atomic.write_json(tmp_path / "metrics.json", record)
    expected = {"run": "a", "forgetting": None, "matrix": [[1.5, None], [None]]}
    assert strict_json((tmp_path / "results.jsonl").read_text()) == expected
    assert strict_json((tmp_path / "metrics.json").read_text()) == expected


def _append_many(path: str, prefix: str, count: int) -> None:
    for i in range(count):
        sweep_results.append_result(Path(path), {"run": f"{prefix}{i}", "pad": "x" * 5000})


def test_concurrent_appends_stay_whole(tmp_path):
    path = tmp_path / "results.jsonl"
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        list(pool.map(_append_many, [str(path)] * 2, ["a", "b"], [100, 100]))
    lines = path.read_text().splitlines()
    assert len(lines) == 200 and len(sweep_results.read_results(path)) == 200


def run_lines(path: Path) -> list[dict]:
    return [
        json.loads(line) for line in path.read_text().splitlines() if line.startswith('{"run"') and line.endswith("}")
    ]


# Runs the CLI with Replay.observe patched to SIGKILL the process at the 2nd step of task 2
# (task_id 1): a hard kill halfway through a task, with no Python cleanup.
KILL_MID_TASK = """
import os, signal, sys
from spikereplay import cli
from spikereplay.strategies.er import ER

original, steps = ER.observe, []

def observe_then_die(self, batch):
    if batch.task_id == 1:
        steps.append(batch.task_id)
        if len(steps) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    return original(self, batch)

ER.observe = observe_then_die
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_killed_sweep_resumes_each_run_once(tmp_path, capsys):
    spec = dict(
        base=str(BASE), overrides=TINY, grid={"memory.batches_per_task": [0, 2]}, points=[{"strategy": "joint"}]
    )
    path = write_sweep(tmp_path / "s.yaml", **spec)
    crashed, clean = tmp_path / "crashed", tmp_path / "clean"

    killed = subprocess.run(
        [sys.executable, "-c", KILL_MID_TASK, "sweep", str(path), "--output-dir", str(crashed)],
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert "[1/3] cil_naive_seed0: final average accuracy" in killed.stdout
    assert [r["run"] for r in run_lines(crashed / "results.jsonl")] == ["cil_naive_seed0"]
    assert sorted(p.name for p in (crashed / "runs" / "cil_replay_mr2_seed0" / "checkpoints").iterdir()) == [
        "task_1.pt"
    ]
    with (crashed / "results.jsonl").open("ab") as fh:
        fh.write(b'{"run": "cil_replay_mr2_seed0", "poi')  # and a result line cut short

    capsys.readouterr()
    assert cli.main(["sweep", str(path), "--output-dir", str(crashed), "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "1 already done" in out and "resuming" in out and "after task 1/2" in out
    assert cli.main(["sweep", str(path), "--output-dir", str(crashed)]) == 0  # nothing left to do
    assert "3 already done" in capsys.readouterr().out

    assert cli.main(["sweep", str(path), "--output-dir", str(clean)]) == 0
    resumed = sweep_results.read_results(crashed / "results.jsonl")
    reference = sweep_results.read_results(clean / "results.jsonl")
    assert sorted(r["run"] for r in run_lines(crashed / "results.jsonl")) == sorted(reference)
    assert sorted(reference) == ["cil_joint_seed0", "cil_naive_seed0", "cil_replay_mr2_seed0"]
    for name, record in reference.items():
        assert {k: resumed[name][k] for k in METRICS} == {k: record[k] for k in METRICS}, name
    record = crashed / "sweeps" / "s.yaml"
    assert (record.parent / yaml.safe_load(record.read_text())["base"]).resolve() == BASE
    assert [p.name for p in expand_file(record, crashed)] == [p.name for p in expand_file(path, crashed)]

    # a changed override would make the listed results stale: refused, not silently reused
    write_sweep(path, **{**spec, "overrides": [*TINY, "training.lr=0.01"]})
    assert cli.main(["sweep", str(path), "--output-dir", str(crashed)]) == 2
    assert "different config" in capsys.readouterr().err


def spawned_workers(pid: int) -> list[int]:
    """The pool workers among a process's children (Linux /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.slow
def test_a_killed_sweep_ends_its_workers_records_no_failure_and_resumes(tmp_path, capsys):
    path = write_sweep(
        tmp_path / "s.yaml", base=str(BASE), overrides=[*TINY, "training.epochs=60"], grid={"seed": [0, 1]}
    )
    out = tmp_path / "out"
    command = [sys.executable, "-m", "spikereplay.cli", "sweep", str(path), "--output-dir", str(out), "--workers", "2"]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while len(list(out.glob("runs/*/config.yaml"))) < 2:  # both runs in flight
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    workers = spawned_workers(proc.pid)
    assert len(workers) == 2
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err, err
    assert not (out / "failures.jsonl").exists() and not (out / "results.jsonl").exists()
    time.sleep(1.0)
    assert not [pid for pid in workers if running(pid)]  # no run left training on its own

    assert cli.main(["sweep", str(path), "--output-dir", str(out)]) == 0
    assert sorted(r["run"] for r in run_lines(out / "results.jsonl")) == ["cil_naive_seed0", "cil_naive_seed1"]


def test_workers_with_ray_is_a_clear_error(tmp_path, capsys):
    path = write_sweep(tmp_path / "s.yaml", base=str(BASE), grid={"seed": [0]})
    out = tmp_path / "out"
    assert cli.main(["sweep", str(path), "--output-dir", str(out), "--backend", "ray", "--workers", "2"]) == 2
    assert "--workers is for the local backend" in capsys.readouterr().err
    assert not out.exists()


def test_ray_backend_without_ray_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    path = write_sweep(tmp_path / "s.yaml", base=str(BASE), grid={"seed": [0]})
    assert cli.main(["sweep", str(path), "--output-dir", str(tmp_path / "out"), "--backend", "ray"]) == 2
    assert "pip install .[ray]" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_ray_backend_on_a_local_cluster_matches_local(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    # token auth depends on ~/.ray state; the cluster and this client agree to go without it
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray_cli = str(Path(sys.executable).with_name("ray"))
    address = f"127.0.0.1:{free_port()}"
    path = write_sweep(tmp_path / "s.yaml", base=str(BASE), overrides=TINY, grid={"memory.batches_per_task": [0, 2]})
    start = [ray_cli, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={address.split(':')[1]}"]
    started = subprocess.run(
        [*start, "--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats"], capture_output=True, text=True
    )
    assert started.returncode == 0, started.stderr
    try:
        args = ["sweep", str(path), "--output-dir", str(tmp_path / "ray"), "--backend", "ray", "--ray-address", address]
        assert cli.main(args) == 0
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True)
    assert cli.main(["sweep", str(path), "--output-dir", str(tmp_path / "local")]) == 0
    on_ray = sweep_results.read_results(tmp_path / "ray" / "results.jsonl")
    local = sweep_results.read_results(tmp_path / "local" / "results.jsonl")
    assert sorted(on_ray) == sorted(local) == ["cil_naive_seed0", "cil_replay_mr2_seed0"]
    for name in local:
        assert {k: on_ray[name][k] for k in METRICS} == {k: local[name][k] for k in METRICS}


def test_committed_results_match_the_shipped_sweep_files():
    """Every run in a committed results.jsonl is a point of the sweep files that name its directory,
    with the same config digest: editing a shipped config or sweep cannot silently orphan a result."""
    points_by_dir: dict[Path, dict[str, str]] = {}
    for path in sorted((REPO / "sweeps").rglob("*.yaml")):
        spec, base = sweep_file.load_sweep(path)
        directory = REPO / spec.output_dir
        for point in sweep_file.expand(spec, base, directory):
            points_by_dir.setdefault(directory, {})[point.name] = sweep_file.config_digest(point.config)
    checked = 0
    for directory, points in points_by_dir.items():
        for name, record in sweep_results.read_results(directory / sweep_results.RESULTS_FILE).items():
            assert points.get(name) == record["config_digest"], f"{directory.name}/{name}"
            checked += 1
    assert checked >= 30


@pytest.mark.parametrize("native_bf16", [False, True])
def test_sweep_warns_once_where_a_bf16_point_would_be_emulated(tmp_path, monkeypatch, native_bf16):
    monkeypatch.setattr("spikereplay.model.cpu_has_native_bf16", lambda: native_bf16)
    path = write_sweep(tmp_path / "s.yaml", grid={"precision": ["fp32", "bf16"], "seed": [0]})
    points = expand_file(path, tmp_path / "out")
    warning = sweep.slow_precision_warning(points)
    if native_bf16:
        assert warning is None
    else:
        assert "precision bf16" in warning
    assert sweep.slow_precision_warning(points[:1]) is None  # the fp32 point alone


def test_a_diverging_point_is_recorded_as_failed_and_the_sweep_goes_on(tmp_path, monkeypatch, capsys):
    (tmp_path / "diverge.py").write_text(
        "from spikereplay.strategies.naive import Naive\n\n"
        "class Diverge(Naive):\n"
        "    def observe(self, batch):\n"
        "        return {**super().observe(batch), 'loss': float('nan')}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write_sweep(
        tmp_path / "s.yaml", base=str(BASE), overrides=TINY, grid={"strategy": ["diverge:Diverge", "naive"]}
    )
    assert cli.main(["sweep", str(path), "--output-dir", str(tmp_path / "out")]) == 1
    failures = [json.loads(line) for line in (tmp_path / "out" / "failures.jsonl").read_text().splitlines()]
    assert len(failures) == 1 and failures[0]["run"].startswith("cil_diverge-Diverge")
    assert "DivergedError: non-finite loss (nan) at task 1, epoch 1, iteration 1" in failures[0]["error"]
    assert list(sweep_results.read_results(tmp_path / "out" / "results.jsonl")) == [
        "cil_naive_seed0"
    ]  # the other point ran
    assert "FAILED" in capsys.readouterr().out
