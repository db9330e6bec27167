"""The markdown of a sweep report: final accuracy per row (each seed, silent outputs, and the
published value where the sweep declares the published protocol), the history table, forgetting
and the other figures, and the mean accuracy matrices."""

from __future__ import annotations

from statistics import mean

from spikereplay.metrics import intransigence, learning_accuracy
from spikereplay.report.rows import (
    RowKey,
    final_silent_shares,
    format_mean_std,
    group_rows,
    history_columns,
    joint_reference,
    mean_matrix,
    num_tasks,
    published,
    repeated_seeds,
    row_label,
    seed_finals,
    task_labels,
)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def beats(paper: float | None, finals: list[float]) -> str:
    """Whether every seed beats the published value, and the mean's margin."""
    if paper is None or not finals:
        return "–"
    centre = mean(finals)
    if min(finals) > paper:
        return f"yes: {centre - paper:+.1f} (every seed above)"
    return f"**no**: {centre - paper:+.1f} (lowest seed {min(finals):.2f})"


def reproduces(paper: float | None, finals: list[float], margin: float = 5.0) -> str:
    """Whether a published value is reproduced by our seeds: inside their range, or within
    ``margin`` points of their mean; else how far it lies from the range and the mean."""
    if paper is None or not finals:
        return "–"
    low, high, centre = min(finals), max(finals), mean(finals)
    if low <= paper <= high:
        return "yes (in the seeds' range)"
    if abs(paper - centre) <= margin:
        return f"yes ({paper - centre:+.1f} from the mean)"
    outside = paper - (high if paper > high else low)
    return f"**no**: {outside:+.2f} beyond the seeds' range, {paper - centre:+.1f} from the mean"


# the report's verdict column per published mode (sweep file key ``published``)
VERDICTS = {"reproduce": ("published value reproduced?", reproduces), "beat": ("beats the published value?", beats)}


def final_row(key: RowKey, runs: list[dict], mode: str | None = None) -> list[str]:
    """Label, final average accuracy as mean ± std (2 decimals), each seed's value, silent outputs,
    and where the sweep declares a published ``mode``: the published value and the verdict."""
    finals, per_seed = seed_finals(runs)
    row = [row_label(key), format_mean_std(finals, digits=2), per_seed, format_mean_std(final_silent_shares(runs))]
    if mode is None:
        return row
    paper = published(key)
    return row + [_fmt(paper), VERDICTS[mode][1](paper, finals)]


def render_report(records: list[dict], title: str = "sweep", mode: str | None = None) -> str:
    """The markdown report of a list of result records (pure: no files); ``mode`` (``reproduce`` or
    ``beat``) adds the published values of Proietti et al. where the sweep ran their protocol."""
    lines = [
        f"# Sweep report: {title}",
        "",
        f"{len(records)} runs. Accuracy in %, mean ± sample std over seeds (just the mean for one seed). "
        "T<i>: average accuracy over the tasks seen after training task i (joint trains once: T-last). "
        "Silent: % of test samples whose true class's output fired no spike after the last task "
        "(– for runs older than the figure). "
        + (
            "Published: final average accuracy of Proietti et al., MLSP 2023, under the protocol this sweep runs."
            if mode
            else "No published value applies: this sweep does not declare the published protocol."
        ),
    ]
    for scenario, rows in group_rows(records).items():
        tasks = num_tasks([r for runs in rows.values() for r in runs])
        lines += ["", f"## {scenario}", "", "### Final average accuracy", ""]
        header = ["row", "mean ± std", "per seed", "silent %"]
        lines += _table(
            header + (["published", VERDICTS[mode][0]] if mode else []),
            [final_row(k, runs, mode) for k, runs in rows.items()],
        )
        lines += ["", "### Average accuracy after each task", ""]
        header = ["row", *(f"T{i + 1}" for i in range(tasks)), *(["published"] if mode else []), "seeds"]
        body = [
            [
                row_label(k),
                *map(format_mean_std, history_columns(runs, tasks)),
                *([_fmt(published(k))] if mode else []),
                str(len(runs)),
            ]
            for k, runs in rows.items()
        ]
        lines += _table(header, body)
        lines += ["", "### Forgetting, backward transfer, learning accuracy, intransigence", ""]
        reference = joint_reference(rows)
        body = [
            [
                row_label(k),
                format_mean_std([r["forgetting"] for r in runs]),
                format_mean_std([r["backward_transfer"] for r in runs]),
                format_mean_std([learning_accuracy(r["accuracy_matrix"]) for r in runs]),
                "–"
                if k.strategy == "joint" or reference is None
                else format_mean_std([intransigence(r["accuracy_matrix"], reference) for r in runs]),
                format_mean_std([r.get("task_incremental_final_average_accuracy") for r in runs]),
            ]
            for k, runs in rows.items()
        ]
        header = ["row", "forgetting", "BWT", "learning accuracy", "intransigence", "task-incremental final"]
        transfer = {k: [r.get("forward_transfer") for r in runs] for k, runs in rows.items()}
        if any(v is not None for values in transfer.values() for v in values):  # runs with training.forward_transfer
            header.append("forward transfer")
            body = [line + [format_mean_std(transfer[k])] for line, k in zip(body, rows)]
        lines += _table(header, body)
        lines += [
            "",
            "Learning accuracy: mean of each task's accuracy right after training it (Riemer et al. 2019). "
            "Forward transfer (where runs measured it): accuracy on a task before training it, minus the "
            "untrained network's (GEM, Lopez-Paz & Ranzato 2017). Intransigence (Chaudhry et al. 2018): the "
            "mean over tasks of (joint accuracy on the task - its accuracy right after training it), the joint "
            "reference being "
            + (
                "this sweep's joint row (mean final row over its seeds)."
                if reference
                else "absent: no joint row here (–)."
            ),
        ]
        lines += ["", "### Accuracy matrices (mean over seeds; row: after task i, column: task j)"]
        for k, runs in rows.items():
            matrix = mean_matrix([r["accuracy_matrix"] for r in runs])
            header = [row_label(k), *task_labels(runs, len(matrix[0]))]
            lines += ["", *_table(header, [[f"after {i + 1}", *map(_fmt, row)] for i, row in enumerate(matrix)])]
        # e.g. naive runs that differ only in replay settings, which naive ignores
        notes = [
            f"{row_label(k)} has seed(s) {repeated_seeds(r)} more than once"
            for k, r in rows.items()
            if repeated_seeds(r)
        ]
        if notes:
            lines += ["", "Note: " + "; ".join(notes) + " (all such runs are averaged)."]
    warned = [(r["run"], w) for r in records for w in r.get("warnings") or []]
    if warned:
        lines += [
            "",
            "## Warnings",
            "",
            "Runs in which a task did not take (their numbers are in the tables above):",
            "",
        ]
        lines += [f"- {run}: {warning}" for run, warning in warned]
    return "\n".join(lines) + "\n"
