"""The strategies benchmark's sweep runs each strategy with the parameters its config states."""

from pathlib import Path

from spikereplay.loader import load_config
from spikereplay.strategies import resolve_strategy
from spikereplay.sweep import file as sweep_file

REPO = Path(__file__).resolve().parents[1]


def test_table_sweep_uses_the_parameters_of_configs_strategies(tmp_path):
    spec, base = sweep_file.load_sweep(REPO / "sweeps" / "strategies" / "table.yaml")
    points = sweep_file.expand(spec, base, tmp_path)
    assert len(points) == 3 * (5 * 3 + 5)  # 3 seeds x (5 buffer methods x 3 sizes + 5 others)
    for point in points:
        cfg = point.config
        shipped = load_config(REPO / "configs" / "strategies" / f"{cfg.strategy}.yaml")
        params = resolve_strategy(cfg.strategy).Params
        # the effective values, defaults included
        assert params.model_validate(cfg.strategy_params) == params.model_validate(shipped.strategy_params), point.name
        # the one per-buffer hyperparameter, chosen on the validation split (results/probes/replay-batch)
        per_buffer = cfg.strategy == "er" and cfg.memory.size == 200
        assert cfg.replay.batch_size == (64 if per_buffer else shipped.replay.batch_size), point.name
        ignored = {"name", "seed", "memory", "strategy_params", "output"} | ({"replay"} if per_buffer else set())
        assert cfg.model_dump(exclude=ignored) == shipped.model_dump(exclude=ignored), point.name
        assert cfg.memory.size in (0, 200, 500, 5120)
