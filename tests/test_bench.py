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


def test_dense_bound_column_hand_value():
    from spikereplay.bench import add_dense_bound

    rows = [
        {
            "variant": "fused bf16",
            "batch": 16,
            "train": 500.0,
            "train_ratio": 3.0,
            "eval_batch": 64,
            "eval": 900.0,
            "eval_ratio": 5.0,
        }
    ]
    # 500 samples/s x 200 MFLOP = 100 GFLOP/s, against a 400 GFLOP/s bf16 peak: 25 %
    add_dense_bound(rows, 200e6, {"fp32": 100.0, "bf16": 400.0})
    assert rows[0]["train_bound"] == pytest.approx(25.0)
    assert "| 25 % |" in format_table(rows, 30)
