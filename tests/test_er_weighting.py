"""ER's two weightings of the current and replayed losses, and the configs that cannot run them."""

import pytest

from spikereplay.errors import ConfigError
from spikereplay.strategies import Batch
from tests.test_strategies import trainer_for


def test_er_weighs_current_and_replay_per_sample_or_by_the_tasks_seen(tiny_config, tmp_path):
    sections = {
        "strategy": "er",
        "memory": {"size": 64},
        "replay": {"batch_size": 16},
        "data": {"class_order": [[0, 1], [2, 3], [4, 5]]},
    }
    per_sample, stream = trainer_for(tiny_config, tmp_path / "a", **sections)
    weighted, _ = trainer_for(tiny_config, tmp_path / "b", **sections, strategy_params={"weighting": "by_tasks_seen"})
    for trainer in (per_sample, weighted):
        for task in stream[:3]:
            trainer.begin_task(task)
        trainer.strategy.observe(Batch(stream[0].train_x[:16], stream[0].train_y[:16], 0))  # fills the buffer
    batch = Batch(stream[2].train_x[:16], stream[2].train_y[:16], 2)  # the third task: t = 3
    terms = per_sample.strategy.observe(batch)  # 16 current, 16 replayed: each half
    assert terms["loss"] == pytest.approx((terms["current"] + terms["replay"]) / 2)
    terms = weighted.strategy.observe(batch)
    assert terms["loss"] == pytest.approx(terms["current"] / 3 + 2 * terms["replay"] / 3)
    assert terms["replay"] != terms["current"]  # so the two weightings are told apart


@pytest.mark.parametrize(
    "sections, message",
    [
        ({"stream": {"kind": "online"}, "scenario": "task_free"}, "it needs the task's position"),
        ({"memory": {"batches_per_task": 2}, "replay": {"schedule": "separate_pass"}}, "it weighs an interleaved step"),
    ],
)
def test_by_tasks_seen_is_refused_where_it_cannot_run(tiny_config, sections, message):
    memory = sections.pop("memory", {"size": 10})
    with pytest.raises(ConfigError, match=f"strategy_params.weighting by_tasks_seen: {message}"):
        tiny_config(strategy="er", memory=memory, strategy_params={"weighting": "by_tasks_seen"}, **sections)
