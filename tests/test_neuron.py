import pytest
import snntorch as snn
import torch

from spikereplay.neuron import leaky_sequence, make_surrogate


def test_constant_subthreshold_current_fires_only_after_integrating():
    # beta 0.9, threshold 1, input 0.4: m = 0.4, 0.76, 1.084 -> first spike at step 3.
    # A neuron reset every step (the seed's bug) would sit at 0.4 and never fire.
    currents = torch.full((6, 1), 0.4)
    spikes, mem = leaky_sequence(currents, 0.9, 1.0, make_surrogate("fast_sigmoid", 25))
    assert mem[:3, 0].tolist() == pytest.approx([0.4, 0.76, 1.084])
    assert spikes[:, 0].tolist()[:3] == [0.0, 0.0, 1.0]
    # reset by subtraction on the step after the spike: 0.9*1.084 + 0.4 - 1
    assert mem[3, 0].item() == pytest.approx(0.9 * 1.084 + 0.4 - 1.0)


def test_zero_reset_restarts_from_zero():
    currents = torch.full((5, 1), 0.6)
    _, mem = leaky_sequence(currents, 1.0, 1.0, make_surrogate("fast_sigmoid", 25), "zero")
    # 0.6, 1.2 (spike), then reset to 0 before integrating: 0.6, 1.2, 0.6
    assert mem[:, 0].tolist() == pytest.approx([0.6, 1.2, 0.6, 1.2, 0.6])


def textbook(currents, lif):
    mem = torch.zeros_like(currents[0])
    spikes, mems = [], []
    for t in range(currents.shape[0]):
        spk, mem = lif(currents[t], mem)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


@pytest.mark.parametrize("surrogate_name,slope", [("fast_sigmoid", 25.0), ("atan", 2.0), ("sigmoid", 5.0)])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("reset_delay", [True, False])
def test_sequence_matches_snn_leaky(surrogate_name, slope, reset, reset_delay):
    torch.manual_seed(0)
    spike_fn = make_surrogate(surrogate_name, slope)
    lif = snn.Leaky(beta=0.9, threshold=0.7, spike_grad=spike_fn, reset_mechanism=reset, reset_delay=reset_delay)
    currents = (torch.randn(25, 6, 40) * 0.6 + 0.2).requires_grad_()
    weight_spk, weight_mem = torch.randn(25, 6, 40), torch.randn(25, 6, 40)

    ref_spk, ref_mem = textbook(currents, lif)
    (ref_grad,) = torch.autograd.grad((ref_spk * weight_spk).sum() + (ref_mem * weight_mem).sum(), currents)
    spk, mem = leaky_sequence(currents, 0.9, 0.7, spike_fn, reset, reset_delay)
    (grad,) = torch.autograd.grad((spk * weight_spk).sum() + (mem * weight_mem).sum(), currents)

    assert spk.sum() > 0 and torch.equal(spk, ref_spk)
    assert torch.equal(mem, ref_mem)
    torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-5)


def test_constant_input_view_gets_summed_gradient():
    base = torch.full((3,), 0.3, requires_grad=True)
    spk, mem = leaky_sequence(base.expand(4, 3), 0.5, 1.0, make_surrogate("fast_sigmoid", 25))
    mem[-1].sum().backward()
    # m[3] = x(1 + b + b^2 + b^3) with no spikes: d m[3] / d x = 1.875
    assert base.grad.tolist() == pytest.approx([1.875] * 3)


def test_compiled_scan_is_bit_identical_to_eager():
    torch.manual_seed(0)
    spike_fn = make_surrogate("fast_sigmoid", 25)
    currents = (torch.randn(12, 3, 50) * 0.6 + 0.3).requires_grad_()
    weight = torch.randn(12, 3, 50)
    eager_spk, eager_mem = leaky_sequence(currents, 0.95, 1.0, spike_fn, "subtract")
    (eager_grad,) = torch.autograd.grad((eager_spk * weight).sum() + eager_mem.sum(), currents)
    spk, mem = leaky_sequence(currents, 0.95, 1.0, spike_fn, "subtract", compiled=True)
    (grad,) = torch.autograd.grad((spk * weight).sum() + mem.sum(), currents)
    assert torch.equal(spk, eager_spk) and torch.equal(mem, eager_mem)
    torch.testing.assert_close(grad, eager_grad, rtol=0, atol=1e-5)
