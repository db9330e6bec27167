import pytest
import torch

from spikereplay.config import ModelConfig
from spikereplay.encoding import encode
from spikereplay.model import SpikingConvNet, precision_warning, predict


def make_model(engine="fused", heads=(2, 2)):
    torch.manual_seed(0)
    model = SpikingConvNet(ModelConfig(engine=engine), (1, 28, 28))
    for n in heads:
        model.add_head(n)
    return model


def test_heads_concatenate_in_order_added():
    model = make_model(heads=(2, 3))
    weight, bias = model.heads.weights()
    assert weight.shape == (5, 1024)
    assert torch.equal(weight[2:], model.heads[1].weight) and torch.equal(bias[:2], model.heads[0].bias)
    x = torch.rand(3, 1, 28, 28)
    spikes, mem = model(x, True, 5)
    assert spikes.shape == mem.shape == (5, 3, 5)


def test_new_head_leaves_old_outputs_unchanged():
    model = make_model(heads=(2,))
    x = torch.rand(4, 1, 28, 28)
    before, _ = model(x, True, 6)
    model.add_head(2)
    after, _ = model(x, True, 6)
    assert torch.equal(after[..., :2], before)


def test_zero_head_init_joins_silent_but_learns_and_keeps_the_rng_stream():
    torch.manual_seed(0)
    model = SpikingConvNet(ModelConfig(head_init="zero"), (1, 28, 28))
    model.add_head(2)
    rng_after_zero = torch.rand(1)
    torch.manual_seed(0)
    SpikingConvNet(ModelConfig(), (1, 28, 28)).add_head(2)
    assert torch.equal(torch.rand(1), rng_after_zero)

    with torch.no_grad():  # the first head must fire, so its outputs can be compared
        model.heads[0].weight.normal_(0, 1)
    x = torch.rand(4, 1, 28, 28)
    before, _ = model(x, True, 6)
    model.add_head(2)
    spikes, mem = model(x, True, 6)
    assert before.sum() > 0 and torch.equal(spikes[..., :2], before)
    assert torch.equal(spikes[..., 2:], torch.zeros_like(spikes[..., 2:]))
    assert torch.equal(mem[..., 2:], torch.zeros_like(mem[..., 2:]))
    spikes[..., 2:].sum().backward()  # the surrogate passes a gradient at a zero membrane
    assert model.heads[1].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", ["rate_conv", "rate", "direct"])
def test_fused_engine_matches_textbook(kind):
    fused, book = make_model("fused"), make_model("textbook")
    with torch.no_grad():  # a random init barely fires at the output; scale it so spikes are compared
        for head in fused.heads:
            head.weight.mul_(20)
    book.load_state_dict(fused.state_dict())
    torch.manual_seed(1)
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    inputs, static = encode(kind, images, 8, 1.0)
    spk_f, mem_f = fused(inputs * 3, static, 8)
    spk_b, mem_b = book(inputs * 3, static, 8)
    assert spk_f.sum() > 0
    assert torch.equal(spk_f, spk_b)
    torch.testing.assert_close(mem_f, mem_b, rtol=1e-5, atol=1e-5)  # batched convs sum in another order
    spk_f.sum().backward()
    spk_b.sum().backward()
    torch.testing.assert_close(fused.backbone.conv1.weight.grad, book.backbone.conv1.weight.grad, rtol=1e-4, atol=1e-4)


def test_compiled_forward_matches_eager_and_a_new_head_recompiles_at_most_once():
    from torch._dynamo.utils import counters

    eager = make_model(heads=(2,))
    compiled = SpikingConvNet(ModelConfig(compile_forward=True), (1, 28, 28))
    compiled.add_head(2)
    compiled.load_state_dict(eager.state_dict())
    with torch.no_grad():
        for model in (eager, compiled):
            model.heads[0].weight.mul_(20)
    images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    inputs, static = encode("direct", images, 6, 1.0)
    torch._dynamo.reset()
    counters.clear()
    for _ in range(3):  # heads of 2, 4, 6 outputs
        outputs = [model(inputs * 3, static, 6) for model in (eager, compiled)]
        (spk_e, mem_e), (spk_c, mem_c) = outputs
        assert spk_e.sum() > 0
        assert torch.equal(spk_c, spk_e) and torch.equal(mem_c, mem_e)
        spk_e.sum().backward()
        spk_c.sum().backward()
        # inductor sums the conv gradients in its own order: close, not bit-identical
        torch.testing.assert_close(
            compiled.backbone.conv1.weight.grad, eager.backbone.conv1.weight.grad, rtol=1e-4, atol=1e-4
        )
        torch.testing.assert_close(
            compiled.backbone.conv2.weight.grad, eager.backbone.conv2.weight.grad, rtol=1e-4, atol=1e-4
        )
        for model in (eager, compiled):
            model.add_head(2)
            model.heads[-1].load_state_dict(eager.heads[-1].state_dict())
    training_graphs = counters["stats"]["unique_graphs"]
    assert 1 <= training_graphs <= 2  # not one graph per head count
    with torch.inference_mode():  # evaluation: one more graph, same outputs
        assert torch.equal(compiled(inputs * 3, static, 6)[0], eager(inputs * 3, static, 6)[0])
    assert counters["stats"]["unique_graphs"] == training_graphs + 1


def test_predict_breaks_ties_by_membrane():
    spikes = torch.zeros(3, 2, 3)
    spikes[:, 0, 1] = 1  # sample 0: class 1 has most spikes
    spikes[0, 1, 0] = spikes[0, 1, 2] = 1  # sample 1: classes 0 and 2 tie on one spike
    mems = torch.zeros(3, 2, 3)
    mems[:, 1, 2] = 0.5  # ...and class 2 holds more membrane
    mems[:, 1, 1] = 9.0  # class 1 has the largest membrane but fewer spikes: not chosen
    assert predict(spikes, mems).tolist() == [1, 2]


def test_precision_warning_only_for_emulated_bf16_on_cpu():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    warning = precision_warning("bf16", cpu, native_bf16=False)
    assert warning is not None and "bf16" in warning and "precision=fp32" in warning
    assert precision_warning("bf16", cpu, native_bf16=True) is None
    assert precision_warning("fp32", cpu, native_bf16=False) is None
    assert precision_warning("bf16", cuda, native_bf16=False) is None
