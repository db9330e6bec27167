import torch

from spikereplay.memory import PerTaskBatches, ReplayMemory


def batch(task, n=4):
    return torch.full((n, 28, 28), task, dtype=torch.uint8), torch.full((n,), 2 * task, dtype=torch.long)


def test_per_task_slots_fill_then_stop():
    memory = ReplayMemory(PerTaskBatches(batches_per_task=3, store_prob=1.0), seed=0)
    stored = [memory.observe_batch(*batch(0), task_id=0) for _ in range(5)]
    assert stored == [True, True, True, False, False]
    assert memory.observe_batch(*batch(1), task_id=1)
    assert len(memory.batches[0]) == 3 and len(memory.batches[1]) == 1
    assert memory.num_samples() == 16


def test_store_probability_is_respected_and_seeded():
    def fill(seed):
        memory = ReplayMemory(PerTaskBatches(1000, 0.33), seed=seed)
        return [memory.observe_batch(*batch(0), task_id=0) for _ in range(3000)]

    kept = fill(0)
    assert 0.30 < sum(kept) / len(kept) < 0.36
    assert kept == fill(0) and kept != fill(1)


def test_labels_and_task_ids_are_kept():
    memory = ReplayMemory(PerTaskBatches(2, 1.0), seed=0)
    for task in (0, 1, 2):
        memory.observe_batch(*batch(task), task_id=task)
    images, labels, task_ids = memory.sample(200, task_ids=[0, 2])
    assert set(task_ids.tolist()) == {0, 2}
    assert torch.equal(labels, 2 * task_ids)  # each sample keeps its own true label
    assert torch.equal(images[:, 0, 0].long(), task_ids)
    batches = list(memory.stored_batches([1]))
    assert len(batches) == 1 and batches[0][2].tolist() == [1, 1, 1, 1]


def test_stored_batch_is_a_copy():
    memory = ReplayMemory(PerTaskBatches(1, 1.0), seed=0)
    images, labels = batch(0)
    memory.observe_batch(images, labels, task_id=0)
    labels.fill_(7)
    assert memory.batches[0][0][1].tolist() == [0, 0, 0, 0]


def test_state_roundtrip():
    memory = ReplayMemory(PerTaskBatches(4, 0.5), seed=0)
    for step in range(12):
        images = torch.arange(4 * step, 4 * step + 4, dtype=torch.uint8).view(4, 1, 1).expand(4, 28, 28)
        memory.observe_batch(images, torch.arange(4), task_id=0)
    clone = ReplayMemory(PerTaskBatches(4, 0.5), seed=99)
    clone.load_state_dict(memory.state_dict())
    # distinct images: equal draws need the same stored batches and the same generator state
    assert torch.equal(clone.sample(16, [0])[0], memory.sample(16, [0])[0])
    assert not torch.equal(
        ReplayMemory(PerTaskBatches(4, 0.5), seed=99).generator.get_state(), memory.generator.get_state()
    )


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
