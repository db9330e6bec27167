"""The silent-output floor (issue 23): a loss term that reaches an output the count loss cannot."""

import pytest
import snntorch as snn
import torch
from snntorch import surrogate

from spikereplay.experiment import build_tasks, build_trainer
from spikereplay.losses import count_loss, silent_floor
from spikereplay.strategies import Batch, Strategy

IDENTITY = torch.arange(2)  # class c is column c


def test_the_floor_is_the_true_class_shortfall_below_threshold_and_zero_once_it_fires():
    # mems [T=3, B=2, C=2]; sample 0 is class 1, whose membrane peaks at 0.4; sample 1 is class 0,
    # whose membrane reaches 1.3 (it fired); the other columns do not count
    mems = torch.tensor(
        [
            [[5.0, 0.1], [0.2, -3.0]],
            [[5.0, 0.4], [1.3, -3.0]],
            [[5.0, -0.2], [0.5, -3.0]],
        ]
    )
    floor = silent_floor(mems, torch.tensor([1, 0]), IDENTITY, threshold=1.0)
    assert floor.tolist() == pytest.approx([0.6, 0.0])


def silent_output_gradients():
    """The input current's gradient at a true-class output held far below threshold (at most -2),
    under the count loss and under the floor; the other output fires at every step."""
    torch.manual_seed(0)
    current = torch.tensor([[[2.0, -2.0]]]).repeat(10, 1, 1).requires_grad_(True)  # [T=10, B=1, C=2]
    lif = snn.Leaky(beta=0.9, spike_grad=surrogate.fast_sigmoid(slope=25))  # the default model's output neuron
    mem, spikes, mems = lif.init_leaky(), [], []
    for step in current:
        spike, mem = lif(step, mem)
        spikes.append(spike)
        mems.append(mem)
    spikes, mems, label = torch.stack(spikes), torch.stack(mems), torch.tensor([1])
    assert spikes[..., 1].sum() == 0 and mems[..., 1].max() < -1.0  # the true class is silent
    count = count_loss(spikes, label, [0, 1], IDENTITY).sum()
    (count_grad,) = torch.autograd.grad(count, current, retain_graph=True)
    (floor_grad,) = torch.autograd.grad(silent_floor(mems, label, IDENTITY, 1.0).sum(), current)
    return count_grad[..., 1].abs().sum().item(), floor_grad[..., 1].abs().sum().item()


def test_a_silent_output_gets_a_real_gradient_from_the_floor_and_almost_none_from_the_count_loss():
    count_grad, floor_grad = silent_output_gradients()
    assert count_grad < 0.01  # the surrogate's slope 1 / (1 + 25 |U - 1|)^2 with U < -1
    # the peak is the first step's U = I_0 = -2, so d relu(1 - max U) / dI is -1 there and 0 elsewhere
    assert floor_grad == pytest.approx(1.0)
    assert floor_grad > 100 * count_grad


STRATEGIES = {
    "naive": {},
    "er": {"memory": {"size": 40}},
    "er_ace": {"memory": {"size": 40}},
    "der": {"memory": {"size": 40}},
    "derpp": {"memory": {"size": 40}},
    "agem": {"memory": {"size": 40}},
    "lwf": {},
    "ewc_on": {"strategy_params": {"fisher_samples": 4}},
    "si": {},
}


def two_tasks_of_steps(tiny_config, tmp_path, strategy, floor, extra):
    """Two training steps on each of two tasks; the loss terms of the last step."""
    cfg = tiny_config(strategy=strategy, training={"silent_floor": floor}, **extra)
    stream, eval_tasks = build_tasks(cfg)
    trainer = build_trainer(cfg, stream, eval_tasks, tmp_path / f"{strategy}-{floor}")
    for task in stream:
        trainer.begin_task(task)
        for start in (0, 16):
            terms = trainer.strategy.observe(
                Batch(task.train_x[start : start + 16], task.train_y[start : start + 16], task.task_id)
            )
        trainer.strategy.end_task(task)
    return terms


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_every_strategy_adds_the_floor_to_its_loss_when_asked(tiny_config, tmp_path, strategy):
    off = two_tasks_of_steps(tiny_config, tmp_path, strategy, 0.0, STRATEGIES[strategy])
    on = two_tasks_of_steps(tiny_config, tmp_path, strategy, 1e3, STRATEGIES[strategy])
    # the same seed and batches: the first step is identical, so the floor alone separates them
    # (at weight 1e3 any output below threshold shows in the loss)
    assert on["loss"] != off["loss"]


class CountsOnly(Strategy):
    """A user's strategy written before the floor existed: it scores spikes alone."""

    def observe(self, batch: Batch) -> dict[str, float]:
        spikes, _ = self.outputs(batch.images)
        loss = self.current_losses(spikes, batch.labels, batch.task_id).mean()
        return {"loss": self.optim.minimize(loss, self.current_columns(batch.task_id))}


def test_a_user_strategy_that_does_not_pass_its_membranes_is_told_how(tiny_config, tmp_path):
    with pytest.raises(RuntimeError, match="training.silent_floor is set but CountsOnly did not pass the output"):
        two_tasks_of_steps(tiny_config, tmp_path, "tests.test_silent_floor:CountsOnly", 1.0, {})
    # the example in the README passes them
    assert (
        two_tasks_of_steps(
            tiny_config, tmp_path, "examples.custom_strategy:WeightedReplay", 1.0, {"memory": {"size": 40}}
        )["loss"]
        > 0
    )
