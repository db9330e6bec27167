import pytest

from spikereplay.bench import REFERENCE, format_table, run_benchmark


def test_benchmark_reports_ratios_against_the_reference():
    rows = run_benchmark(
        [2], num_steps=2, eval_batch=4, rounds=1, seconds=0.0, variants=["fused fp32"], log=lambda *_: None
    )
    by_name = {row["variant"]: row for row in rows}
    assert set(by_name) == {REFERENCE, "fused fp32"}
    assert by_name[REFERENCE]["train_ratio"] == pytest.approx(1.0)
    fused = by_name["fused fp32"]
    assert fused["train"] > 0 and fused["eval_batch"] == 4
    assert fused["train_ratio"] == pytest.approx(fused["train"] / by_name[REFERENCE]["train"])
    assert "| fused fp32 |" in format_table(rows, 2)
