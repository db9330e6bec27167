"""Continual-learning figures from the accuracy matrix.

R[i][j] is the accuracy on task j after training step i; entries of tasks not
yet seen are None. All functions are pure and take R as a list of lists.
"""

from __future__ import annotations

from statistics import mean

import torch


def seen(row: list) -> list[float]:
    return [v for v in row if v is not None]


def average_accuracy(matrix: list[list]) -> list[float]:
    """Mean accuracy over the tasks seen, after each step (the seed's columns T1..T5)."""
    return [mean(seen(row)) for row in matrix]


def final_average_accuracy(matrix: list[list]) -> float:
    return average_accuracy(matrix)[-1]


def _diagonal_pairs(matrix):
    """(task, step at which it was learnt) for every task but the last learnt one."""
    first_seen = {}
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value is not None and j not in first_seen:
                first_seen[j] = i
    last = len(matrix) - 1
    return [(j, i) for j, i in first_seen.items() if i < last]


def forgetting(matrix: list[list]) -> float | None:
    """Mean over old tasks of (best earlier accuracy - final accuracy) (Chaudhry et al. 2018).

    None when there is only one training step (nothing can be forgotten).
    """
    pairs = _diagonal_pairs(matrix)
    if not pairs:
        return None
    final = matrix[-1]
    drops = [max(matrix[i][j] for i in range(learnt, len(matrix) - 1)) - final[j] for j, learnt in pairs]
    return mean(drops)


def backward_transfer(matrix: list[list]) -> float | None:
    """Mean over old tasks of (final accuracy - accuracy right after learning it) (Lopez-Paz & Ranzato 2017)."""
    pairs = _diagonal_pairs(matrix)
    if not pairs:
        return None
    final = matrix[-1]
    return mean(final[j] - matrix[learnt][j] for j, learnt in pairs)


def first_scores(matrix: list[list]) -> dict[int, float]:
    """Task -> its accuracy at the first step that scored it (right after it was learnt)."""
    first: dict[int, float] = {}
    for row in matrix:
        for j, value in enumerate(row):
            if value is not None and j not in first:
                first[j] = value
    return first


def learning_accuracy(matrix: list[list]) -> float:
    """Mean over tasks of the accuracy right after learning each, R[j][j] for the step that first
    scored task j (Riemer et al. 2019, "Learning to Learn without Forgetting..."): how well new
    tasks are learnt, apart from how they are kept."""
    return mean(first_scores(matrix).values())


def failed_steps(matrix: list[list], step_tasks: list[list[int]], floor: float = 50.0):
    """(step, accuracy) for each step whose own tasks score below ``floor`` % right after it.

    ``step_tasks[i]``: the columns (eval tasks) step i trains; the accuracy is their mean. A step
    that ends below it did not take: typically the network has fallen silent (loss at ln(#outputs)).
    """
    failed = []
    for i, row in enumerate(matrix):
        scores = [row[j] for j in step_tasks[i] if j < len(row) and row[j] is not None]
        if scores and mean(scores) < floor:
            failed.append((i + 1, mean(scores)))
    return failed


def intransigence(matrix: list[list], reference_row: list) -> float | None:
    """Mean over tasks of (reference accuracy on the task - its accuracy right after learning it),
    the inability to learn new tasks (Chaudhry et al., ECCV 2018, "Riemannian Walk"). The reference is
    the final row of a joint run on the same tasks (the paper trains one per task prefix; the final joint
    model is the common stand-in). None when no task has a reference value."""
    gaps = [
        reference_row[j] - value
        for j, value in first_scores(matrix).items()
        if j < len(reference_row) and reference_row[j] is not None
    ]
    return mean(gaps) if gaps else None


def forward_transfer(ahead: list[float], initial_row: list[float]) -> float | None:
    """Mean over tasks i >= 1 of (accuracy on task i after training task i-1) - (accuracy of the
    untrained network on task i) (Lopez-Paz & Ranzato, NeurIPS 2017, GEM). ``ahead[i-1]`` is the
    first, ``initial_row[i]`` the second. None without such scores."""
    gaps = [after - initial_row[i + 1] for i, after in enumerate(ahead) if i + 1 < len(initial_row)]
    return mean(gaps) if gaps else None


def confusion_matrix(labels: list[int], predicted: list[int], classes: list[int]) -> list[list[int]]:
    """counts[i][k]: samples of class ``classes[i]`` predicted as ``classes[k]`` (rows: truth, in
    the order given, e.g. of arrival). Predictions outside ``classes`` are not counted."""
    position = {cls: i for i, cls in enumerate(classes)}
    counts = [[0] * len(classes) for _ in classes]
    for truth, guess in zip(labels, predicted):
        if truth in position and guess in position:
            counts[position[truth]][position[guess]] += 1
    return counts


def per_class_accuracy(confusion: list[list[int]]) -> list[float | None]:
    """Accuracy (%) of each row class of a confusion matrix; None for a class with no samples."""
    return [100.0 * row[i] / sum(row) if sum(row) else None for i, row in enumerate(confusion)]


def silent_outputs(scored: list[tuple]) -> dict:
    """The silent-output figure of one evaluation: ``scored`` holds, per task, its labels and whether
    each sample's true-class output fired no spike. Returns the share of samples (%) with a silent
    true output, and the classes whose output was silent on every one of their samples."""
    if not scored:
        return {"silent_share": None, "silent_classes": []}
    labels = torch.cat([truth for truth, _ in scored])
    silent = torch.cat([flags for _, flags in scored]).to(torch.bool)
    classes = sorted(set(labels.tolist()))
    dead = [c for c in classes if bool(silent[labels == c].all())]
    return {"silent_share": 100.0 * float(silent.float().mean()), "silent_classes": dead}


def summarize(matrix: list[list], task_incremental_matrix: list[list] | None = None) -> dict:
    """All derived figures of one run."""
    summary = {
        "accuracy_matrix": matrix,
        "average_accuracy": average_accuracy(matrix),
        "final_average_accuracy": final_average_accuracy(matrix),
        "learning_accuracy": learning_accuracy(matrix),
        "forgetting": forgetting(matrix),
        "backward_transfer": backward_transfer(matrix),
    }
    if task_incremental_matrix is not None:
        summary["task_incremental_matrix"] = task_incremental_matrix
        summary["task_incremental_final_average_accuracy"] = final_average_accuracy(task_incremental_matrix)
    return summary
