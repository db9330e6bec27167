import pytest
import torch

from spikereplay.memory import PerTaskBatches, RandomKeys, ReplayBuffer, SampleStore, legacy_state


def batch(task, n=4):
    return torch.full((n, 28, 28), task, dtype=torch.uint8), torch.full((n,), 2 * task, dtype=torch.long)


def per_task(k, p, seed=0):
    return ReplayBuffer(PerTaskBatches(batches_per_task=k, store_prob=p), seed=seed)


def test_per_task_slots_fill_then_stop():
    memory = per_task(3, 1.0)
    stored = [memory.observe(*batch(0), task_id=0) for _ in range(5)]
    assert stored == [4, 4, 4, 0, 0]
    assert memory.observe(*batch(1), task_id=1) == 4
    assert memory.store["task_ids"].tolist() == [0] * 12 + [1] * 4
    assert len(memory) == 16
    # 16 samples: 784 image bytes + 8 each for label, task id and step
    assert memory.nbytes() == 16 * (28 * 28 + 3 * 8)


def test_store_probability_is_respected_and_seeded():
    def fill(seed):
        memory = per_task(1000, 0.33, seed)
        return [memory.observe(*batch(0), task_id=0) > 0 for _ in range(3000)]

    kept = fill(0)
    assert 0.30 < sum(kept) / len(kept) < 0.36
    assert kept == fill(0) and kept != fill(1)


def test_labels_and_task_ids_are_kept_and_only_earlier_tasks_replay():
    memory = per_task(2, 1.0)
    for task in (0, 1, 2):
        memory.observe(*batch(task), task_id=task)
    rows = memory.sample(200, task_id=2)
    assert set(rows["task_ids"].tolist()) == {0, 1}  # the seed's rule: earlier tasks only
    assert torch.equal(rows["labels"], 2 * rows["task_ids"])  # each sample keeps its own true label
    assert torch.equal(rows["images"][:, 0, 0].long(), rows["task_ids"])
    assert memory.sample(5, task_id=0) is None
    batches = list(memory.stored_batches(task_id=2))
    assert [b["task_ids"].tolist() for b in batches] == [[0] * 4, [1] * 4]


def test_stored_batch_is_a_copy():
    memory = per_task(1, 1.0)
    images, labels = batch(0)
    memory.observe(images, labels, task_id=0)
    labels.fill_(7)
    assert memory.store["labels"].tolist() == [0, 0, 0, 0]


def test_state_roundtrip():
    memory = per_task(4, 0.5)
    for step in range(12):
        images = torch.arange(4 * step, 4 * step + 4, dtype=torch.uint8).view(4, 1, 1).expand(4, 28, 28)
        memory.observe(images, torch.arange(4), task_id=0)
    clone = per_task(4, 0.5, seed=99)
    clone.load_state_dict(memory.state_dict())
    # distinct images: equal draws need the same stored samples and the same generator state
    assert torch.equal(clone.sample(16, 1)["images"], memory.sample(16, 1)["images"])
    assert clone.observe(*batch(0), task_id=0) == memory.observe(*batch(0), task_id=0) == 0  # slots full in both


def test_legacy_memory_state_becomes_the_same_samples():
    images = [torch.full((3, 28, 28), i, dtype=torch.uint8) for i in range(3)]
    old = {
        "batches": {
            0: [(images[0], torch.tensor([0, 1, 0])), (images[1], torch.tensor([1, 1, 0]))],
            1: [(images[2], torch.tensor([2, 3, 3]))],
        },
        "generator": torch.Generator().manual_seed(5).get_state(),
    }
    memory = per_task(2, 1.0)
    memory.load_state_dict(old)
    assert memory.store["labels"].tolist() == [0, 1, 0, 1, 1, 0, 2, 3, 3]
    assert [b["images"][0, 0, 0].item() for b in memory.stored_batches(task_id=2)] == [0, 1, 2]
    assert memory.policy.batches_stored == {0: 2, 1: 1}
    assert legacy_state(old)["insertions"] == 3


def test_store_refuses_rows_out_of_sync():
    store = SampleStore()
    store.append({"images": torch.zeros(2, 1, 1), "labels": torch.zeros(2)})
    with pytest.raises(ValueError, match="disagree in length"):
        store.append({"images": torch.zeros(2, 1, 1), "labels": torch.zeros(3)})
    with pytest.raises(ValueError, match="fields"):
        store.append({"images": torch.zeros(1, 1, 1), "labels": torch.zeros(1), "logits": torch.zeros(1, 2)})
    assert len(store) == 2


def stream_through(policy, labels: torch.Tensor, batch_size: int, seed: int, extras=False) -> ReplayBuffer:
    """Offer ``labels`` (the image of sample i holds i) in batches; return the buffer."""
    memory = ReplayBuffer(policy, seed=seed)
    ids = torch.arange(labels.shape[0])
    for start in range(0, labels.shape[0], batch_size):
        chunk = ids[start : start + batch_size]
        images = chunk.view(-1, 1, 1).to(torch.int32)
        extra = {"logits": chunk.view(-1, 1).float()} if extras else None
        memory.observe(images, labels[chunk], task_id=0, extras=extra)
        assert len(memory) <= getattr(policy, "capacity", 10**9)
    return memory


def test_reservoir_keeps_a_uniform_sample_of_the_stream():
    # 200 stream positions, capacity 20: each position is kept with probability 0.1
    n, capacity, trials = 200, 20, 400
    counts = torch.zeros(n)
    for seed in range(trials):
        memory = stream_through(RandomKeys(capacity), torch.zeros(n, dtype=torch.long), 7, seed)
        assert len(memory) == capacity
        counts[memory.store["images"].flatten().long()] += 1
    expected = trials * capacity / n  # 40 per position
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    # 199 degrees of freedom: the 99.9 % quantile is about 268; early and late positions alike
    assert chi2 < 268
    assert abs(counts[:100].sum() - counts[100:].sum()) < 0.1 * counts.sum()


def test_reservoir_extras_stay_with_their_samples_and_the_fast_path_keeps_all():
    memory = stream_through(RandomKeys(50), torch.zeros(120, dtype=torch.long), 16, seed=1, extras=True)
    assert torch.equal(memory.store["images"].flatten().float(), memory.store["logits"].flatten())
    small = stream_through(RandomKeys(50), torch.zeros(30, dtype=torch.long), 16, seed=1)
    assert sorted(small.store["images"].flatten().tolist()) == list(range(30))
    assert small.sample(8, task_id=0)["images"].shape[0] == 8  # the whole buffer replays: no task boundary needed


def test_class_balanced_holds_equal_shares_after_each_new_class():
    capacity = 30
    policy = RandomKeys(capacity, group_by="labels")
    memory = ReplayBuffer(policy, seed=0)
    for cls in range(4):
        for _ in range(5):  # 5 batches of 16 samples of class ``cls``
            memory.observe(torch.zeros(16, 1, 1, dtype=torch.uint8), torch.full((16,), cls), task_id=cls)
        counts = torch.bincount(memory.store["labels"], minlength=cls + 1).tolist()
        assert len(memory) == capacity
        share = capacity // (cls + 1)
        # equal shares; the remainder goes to the classes that came first
        assert counts == [share + (c < capacity % (cls + 1)) for c in range(cls + 1)]


def test_class_balanced_keeps_the_highest_keys_of_each_class():
    # a shrinking quota keeps the class's largest keys: a subset of what it held, still a uniform draw
    memory = ReplayBuffer(RandomKeys(12, group_by="labels"), seed=3)
    memory.observe(torch.arange(40).view(-1, 1, 1), torch.zeros(40, dtype=torch.long), task_id=0)
    keys = torch.rand(40, generator=torch.Generator().manual_seed(3))  # the buffer's first draw
    assert set(memory.store["images"].flatten().tolist()) == set(keys.topk(12).indices.tolist())
    memory.observe(torch.arange(100, 140).view(-1, 1, 1), torch.ones(40, dtype=torch.long), task_id=1)
    kept_zero = set(memory.store["images"][memory.store["labels"] == 0].flatten().tolist())
    assert kept_zero == set(keys.topk(6).indices.tolist())


def test_random_keys_state_roundtrip_continues_identically():
    labels = torch.arange(60) % 3
    first = stream_through(RandomKeys(9, group_by="labels"), labels[:30], 8, seed=2)
    clone = ReplayBuffer(RandomKeys(9, group_by="labels"), seed=7)
    clone.load_state_dict(first.state_dict())
    for memory in (first, clone):
        memory.observe(torch.arange(30, 60).view(-1, 1, 1).to(torch.int32), labels[30:], task_id=0)
    assert torch.equal(first.store["images"], clone.store["images"])


def test_shift_images_hand_values():
    from spikereplay.memory import shift_images

    image = (torch.arange(9, dtype=torch.uint8) + 1).reshape(1, 3, 3)  # 1 2 3 / 4 5 6 / 7 8 9
    assert shift_images(image, torch.tensor([[1, 0]]), 1).tolist() == [[[0, 0, 0], [1, 2, 3], [4, 5, 6]]]
    assert shift_images(image, torch.tensor([[0, -1]]), 1).tolist() == [[[2, 3, 0], [5, 6, 0], [8, 9, 0]]]
    two = torch.arange(18).reshape(2, 1, 3, 3)  # each image its own offset; a channel axis is kept
    assert shift_images(two, torch.tensor([[1, 1], [0, 0]]), 2).tolist() == [
        [[[0, 0, 0], [0, 0, 1], [0, 3, 4]]],
        [[[9, 10, 11], [12, 13, 14], [15, 16, 17]]],
    ]


def test_random_shift_moves_each_pixel_at_most_max_shift_and_is_seeded():
    from spikereplay.memory import random_shift

    images = torch.zeros(200, 28, 28, dtype=torch.uint8)
    images[:, 14, 14] = 255
    shifted = random_shift(images, 2, torch.Generator().manual_seed(0))
    positions = (shifted == 255).nonzero()[:, 1:] - 14  # one lit pixel per image, as (dy, dx)
    assert positions.shape == (200, 2) and positions.abs().max() == 2
    assert len({tuple(p) for p in positions.tolist()}) == 25  # all 5 x 5 offsets occur
    again = random_shift(images, 2, torch.Generator().manual_seed(0))
    assert torch.equal(shifted, again)
    assert torch.equal(random_shift(images, 0, torch.Generator().manual_seed(0)), images)
