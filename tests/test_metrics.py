import pytest

from spikereplay.metrics import average_accuracy, backward_transfer, failed_steps, final_average_accuracy, forgetting

# R[i][j]: accuracy on task j after training task i
R = [
    [90.0, None, None],
    [70.0, 80.0, None],
    [60.0, 85.0, 50.0],
]


def test_average_accuracy_per_step():
    assert average_accuracy(R) == pytest.approx([90.0, 75.0, 65.0])
    assert final_average_accuracy(R) == pytest.approx(65.0)


def test_forgetting_uses_best_earlier_accuracy():
    # task 0: best 90 -> 60 = 30; task 1: best 80 -> 85 = -5; mean 12.5
    assert forgetting(R) == pytest.approx(12.5)


def test_backward_transfer_against_just_learnt():
    # task 0: 60 - 90 = -30; task 1: 85 - 80 = +5; mean -12.5
    assert backward_transfer(R) == pytest.approx(-12.5)


def test_single_step_has_no_forgetting():
    joint = [[95.0, 96.0, 97.0]]
    assert forgetting(joint) is None and backward_transfer(joint) is None
    assert final_average_accuracy(joint) == pytest.approx(96.0)


def test_failed_steps_scores_each_step_on_its_own_tasks():
    matrix = [[99.0, None, None], [0.0, 30.0, None], [0.0, 0.0, 80.0]]
    # old tasks at 0 % are forgetting, not failure: only step 2's own task (30 %) is below 50 %
    assert failed_steps(matrix, [[0], [1], [2]]) == [(2, 30.0)]
    # joint: one step over every task, judged by the mean over all eval tasks: (60 + 40 + 35) / 3 = 45
    assert failed_steps([[60.0, 40.0, 35.0]], [[0, 1, 2]]) == [(1, 45.0)]
    assert failed_steps([[60.0, 40.0, 50.0]], [[0, 1, 2]]) == []


def test_learning_accuracy_is_the_mean_of_each_task_right_after_learning_it():
    from spikereplay.metrics import learning_accuracy, summarize

    matrix = [[98.0, None, None], [90.0, 96.0, None], [80.0, 85.0, 99.0]]
    assert learning_accuracy(matrix) == (98.0 + 96.0 + 99.0) / 3
    # joint: every task first scored at the one step
    assert learning_accuracy([[97.0, 99.0]]) == 98.0
    assert summarize(matrix)["learning_accuracy"] == 293.0 / 3


def test_confusion_matrix_and_per_class_accuracy_on_hand_made_predictions():
    from spikereplay.metrics import confusion_matrix, per_class_accuracy

    labels = [3, 3, 3, 1, 1, 7]
    predicted = [3, 1, 3, 1, 1, 3]
    # classes in order of arrival: 3, 1, 7 (and 5, which has no samples)
    confusion = confusion_matrix(labels, predicted, [3, 1, 7, 5])
    assert confusion == [[2, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    assert per_class_accuracy(confusion) == [200 / 3, 100.0, 0.0, None]


def test_intransigence_against_a_joint_row():
    from spikereplay.metrics import intransigence

    matrix = [[98.0, None, None], [90.0, 96.0, None], [80.0, 85.0, 99.0]]
    # joint reaches 99, 98, 99.5: gaps 1, 2, 0.5
    assert intransigence(matrix, [99.0, 98.0, 99.5]) == (1.0 + 2.0 + 0.5) / 3
    assert intransigence(matrix, [None, None, None]) is None


def test_forward_transfer_hand_values():
    from spikereplay.metrics import forward_transfer

    # untrained network: 10 % on every task; task 2 scores 30 % after task 1, task 3 scores 20 % after task 2
    assert forward_transfer([30.0, 20.0], [10.0, 10.0, 10.0]) == (20.0 + 10.0) / 2
    assert forward_transfer([], [10.0]) is None


def test_a_task_is_seen_when_its_stream_position_is_trained_not_when_its_classes_are():
    import torch

    from spikereplay.datasets import TaskData, merge_tasks
    from spikereplay.metrics import forward_transfer
    from spikereplay.trainer import trained_tasks

    empty = torch.zeros(0)

    def task(task_id):  # a domain-incremental task: the same ten classes every time
        return TaskData(task_id, tuple(range(10)), empty, empty, empty, empty, empty, empty)

    stream = [task(0), task(1), task(2)]
    # every accuracy, trained or not: untrained tasks score well above chance (same classes)
    scores = [[90.0, 60.0, 55.0], [85.0, 92.0, 62.0], [80.0, 88.0, 94.0]]
    matrix = [[v if j in trained_tasks(stream, i) else None for j, v in enumerate(row)] for i, row in enumerate(scores)]
    assert matrix == [[90.0, None, None], [85.0, 92.0, None], [80.0, 88.0, 94.0]]
    # forgetting: task 0 best 90 -> 80 = 10, task 1 92 -> 88 = 4; mean 7. BWT: (80-90 + 88-92)/2 = -7
    assert forgetting(matrix) == pytest.approx(7.0) and backward_transfer(matrix) == pytest.approx(-7.0)
    # forward transfer (GEM): the score on task i after training task i-1, minus the untrained
    # network's (10 % on every task): (60 - 10 + 62 - 10) / 2 = 51
    ahead = [scores[i - 1][i] for i in range(1, 3)]
    assert forward_transfer(ahead, [10.0, 10.0, 10.0]) == pytest.approx(51.0)
    # joint: one merged position trains every task at once
    assert trained_tasks([merge_tasks(stream)], 0) == {0, 1, 2}
