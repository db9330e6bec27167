"""The strategies benchmark's report: one row per method and buffer, class-IL and task-IL from the
same runs (mean ± sample std over seeds), beside the ANN numbers published for Split-MNIST, and
every run's record."""

from __future__ import annotations

from pathlib import Path

from spikereplay.metrics import intransigence, learning_accuracy
from spikereplay.report.rows import format_mean_std, mean_std

# Buzzega et al., NeurIPS 2020 (DER), Table 2, S-MNIST: a 2x100 MLP, 1 epoch, batch 10.
# (class-IL, task-IL) by method and buffer size; None = no buffer.
PUBLISHED_ANN = {
    ("er", 200): (80.43, 97.86),
    ("er", 500): (86.12, 99.04),
    ("er", 5120): (93.40, 99.33),
    ("agem", 200): (45.72, 98.61),
    ("agem", 500): (46.66, 98.93),
    ("agem", 5120): (54.24, 98.93),
    ("der", 200): (84.55, 98.80),
    ("der", 500): (90.54, 98.84),
    ("der", 5120): (94.90, 99.29),
    ("derpp", 200): (85.61, 98.76),
    ("derpp", 500): (91.00, 98.94),
    ("derpp", 5120): (95.30, 99.47),
    ("joint", None): (95.57, 99.51),
    ("naive", None): (19.60, 94.94),
    ("ewc_on", None): (20.46, 98.39),
    ("si", None): (19.27, 96.00),
    ("lwf", None): (19.62, 94.11),
}
# CLS-ER (Arani et al., ICLR 2022), class-IL on S-MNIST at buffers 200 / 500 / 5120, for reference.
CLS_ER = {200: 89.54, 500: 92.05, 5120: 95.73}
# ANN anchors of the other streams, as issue 22 cites them (final average accuracy, %).
STREAM_ANCHORS = {
    "online": "online Split-MNIST, buffer 500 (ANN): CN-DPM (ICLR 2020) 93.23, reservoir 85.69, iid-online 96.18",
    # the buffer as their code sets it (params/param_values.py: budget 10 per class for permMNIST)
    "domain": "Permuted MNIST, domain-IL (ANN MLP 1000-1000, van de Ven et al. 2022; their ER stores 10 samples "
    "per digit per permutation, 1000 in all): ER 93.8, A-GEM 87.7, LwF 71.2, EWC 63.0, BI-R 97.3, joint 98.6",
}
METHOD_ORDER = ["naive", "lwf", "ewc_on", "si", "er", "er_ace", "agem", "der", "derpp", "joint"]
RECORD_COLUMNS = (
    "strategy",
    "memory_policy",
    "buffer_size",
    "buffer_bytes",
    "scenario",
    "seed",
    "final_average_accuracy",
    "task_incremental_final_average_accuracy",
    "forgetting",
    "backward_transfer",
)


def is_strategies_sweep(records: list[dict]) -> bool:
    """Whether the runs size their buffers in samples (the strategies benchmark's kind of sweep)."""
    return any(r.get("memory_policy") in ("reservoir", "class_balanced") for r in records) or any(
        r["strategy"] in METHOD_ORDER and r["strategy"] not in ("naive", "joint") for r in records
    )


def buffer_of(record: dict) -> int | None:
    # the sweep's value, else the config's (lines written before memory_size: the samples held at the end)
    size = (record.get("point") or {}).get("memory.size") or record.get("memory_size") or record.get("buffer_size")
    return size if record.get("memory_policy") in ("reservoir", "class_balanced") else None


def scenario_of(record: dict) -> str:
    """The table's scenario column: an online stream's runs are labelled so (their head is task-free)."""
    return "online" if record.get("stream") == "online" else record["scenario"]


ROW_KEYS = {"scenario", "strategy", "memory.size", "seed"}


def method_label(record: dict) -> str:
    """The method, with any other setting the sweep varied for it (a search's hyperparameters)."""
    extras = [f"{k}={v}" for k, v in sorted((record.get("point") or {}).items()) if k not in ROW_KEYS]
    return record["strategy"] + (f" ({', '.join(extras)})" if extras else "")


def method_rows(records: list[dict]) -> dict[tuple, list[dict]]:
    """(scenario, method label, buffer) -> its runs, in table order."""
    rows: dict[tuple, list[dict]] = {}
    for record in records:
        rows.setdefault((scenario_of(record), method_label(record), buffer_of(record)), []).append(record)

    def order(key):
        scenario, label, buffer = key
        method = label.split(" ")[0]
        rank = METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)
        return (scenario, buffer is not None, buffer or 0, rank, label)

    return {key: rows[key] for key in sorted(rows, key=order)}


def _fmt(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def joint_reference(records: list[dict]) -> dict[str, list[float]]:
    """Per scenario, the mean final row of the sweep's joint runs (the intransigence reference)."""
    rows: dict[str, list[list[float]]] = {}
    for record in records:
        if record["strategy"] == "joint":
            rows.setdefault(scenario_of(record), []).append(record["accuracy_matrix"][-1])
    return {scenario: [sum(col) / len(col) for col in zip(*finals)] for scenario, finals in rows.items()}


def on_split_mnist(records: list[dict]) -> bool:
    """Whether every run is on MNIST (lines without a dataset predate other datasets): the ANN
    numbers beside the rows are Split-MNIST's (class-split tasks, known boundaries) and apply nowhere else."""
    return all(
        r.get("dataset", "mnist") == "mnist" and r.get("stream", "class_split") == "class_split" for r in records
    )


def render_strategies_report(records: list[dict], title: str) -> str:
    published = on_split_mnist(records)
    lines = [
        f"# {title}",
        "",
        "Final average accuracy, %, mean ± sample std over seeds (n). class-IL: prediction over every "
        "output; task-IL: prediction restricted to the task's own classes, from the same runs. "
        "ANN: Buzzega et al. 2020 (DER), 2x100 MLP, 1 epoch, batch 10. Learning accuracy: mean of each "
        "task's accuracy right after it was learnt (Riemer et al. 2019). Forgetting: mean drop from each "
        "task's best accuracy (Chaudhry et al. 2018); intransigence: mean of the joint runs' final accuracy "
        "on each task minus its accuracy right after it was learnt (Chaudhry et al. 2018), when the sweep "
        "has joint runs.",
        "",
    ]
    along = any(r.get("stream_average_accuracy") is not None for r in records)
    if along:
        lines[-2] += (
            " Along the stream: the mean, over the evaluation points of an online run, of its accuracy on the "
            "tasks seen so far (the anytime accuracy of Caccia et al. 2022)."
        )
    lines += [
        "| scenario | method | buffer | class-IL | task-IL | learning acc. | forgetting | intransigence | n "
        + ("| along the stream " if along else "")
        + "| ANN class-IL | ANN task-IL |",
        "|---" * (12 if along else 11) + "|",
    ]
    joint_rows = joint_reference(records)
    for (scenario, method, buffer), runs in method_rows(records).items():
        ann = PUBLISHED_ANN.get((method.split(" ")[0], buffer), (None, None)) if published else (None, None)
        reference = joint_rows.get(scenario)
        intrans = [intransigence(r["accuracy_matrix"], reference) for r in runs] if reference else []
        lines.append(
            f"| {scenario} | {method} | {buffer if buffer is not None else '–'} | "
            f"{format_mean_std([r['final_average_accuracy'] for r in runs], 2)} | "
            f"{format_mean_std([r.get('task_incremental_final_average_accuracy') for r in runs], 2)} | "
            f"{format_mean_std([learning_accuracy(r['accuracy_matrix']) for r in runs], 2)} | "
            f"{format_mean_std([r.get('forgetting') for r in runs], 2)} | {format_mean_std(intrans, 2)} | {len(runs)} | "
            + (f"{format_mean_std([r.get('stream_average_accuracy') for r in runs], 2)} | " if along else "")
            + f"{_fmt(ann[0])} | {_fmt(ann[1])} |"
        )
    if published:
        lines += ["", f"CLS-ER (class-IL, ICLR 2022): {', '.join(f'{k}: {v}' for k, v in CLS_ER.items())}.", ""]
    else:
        datasets = sorted({r.get("dataset", "mnist") for r in records})
        streams = sorted({r.get("stream", "class_split") for r in records})
        anchors = [STREAM_ANCHORS[k] for k in streams if k in STREAM_ANCHORS]
        lines += [
            "",
            f"Dataset: {', '.join(datasets)}; stream: {', '.join(streams)}. The ANN numbers of the table are "
            "class-split MNIST's, so none is shown." + (f" Anchors: {'; '.join(anchors)}." if anchors else ""),
            "",
        ]
    lines += ["## Runs", "", "| run | " + " | ".join(RECORD_COLUMNS) + " |", "|---" * (len(RECORD_COLUMNS) + 1) + "|"]
    for record in sorted(records, key=lambda r: r["run"]):
        cells = [record["run"]] + [
            _fmt(record.get(c)) if isinstance(record.get(c), float) else str(record.get(c, "–")) for c in RECORD_COLUMNS
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


SCENARIO_ACCURACY = {
    "class_incremental": "class-IL",
    "online": "class-IL, online stream",
    "task_free": "one head, task-free",
    "domain_incremental": "domain-IL",
}


def buffer_series(records: list[dict]) -> dict[str, dict[str, dict]]:
    """What ``plot_final_vs_buffer`` draws, per scenario (the table's scenario column) and method:
    ``points``, the (buffer, mean final accuracy) of its rows with a buffer, or ``level``, the mean
    of a method without one, with ``per_task`` when it stores k batches per task instead."""
    series: dict[str, dict[str, dict]] = {}
    for (scenario, method, buffer), runs in method_rows(records).items():
        entry = series.setdefault(scenario, {}).setdefault(method, {"points": [], "finals": [], "per_task": False})
        finals = [r["final_average_accuracy"] for r in runs]
        if buffer is not None:
            entry["points"].append((buffer, mean_std(finals)[0]))
        else:
            entry["finals"] += finals
            entry["per_task"] |= any(r.get("memory_policy") == "per_task_batches" for r in runs)
    for methods in series.values():
        for entry in methods.values():
            entry["points"].sort()
            finals = entry.pop("finals")
            entry["level"] = None if entry["points"] else mean_std(finals)[0]
    return series


def _buffer_panel(ax, scenario: str, methods: dict, ann_applies: bool) -> None:
    for index, (method, entry) in enumerate(methods.items()):
        color = f"C{index % 10}"
        if entry["points"]:
            ax.plot(*zip(*entry["points"]), marker="o", color=color, label=method)
            base = method.split(" ")[0]
            ann = [(b, PUBLISHED_ANN[(base, b)][0]) for b, _ in entry["points"] if (base, b) in PUBLISHED_ANN]
            if ann and ann_applies and scenario == "class_incremental":
                ax.plot(*zip(*ann), "--", marker="x", color=color, alpha=0.6, label=f"{method} (ANN)")
        else:
            what = "k batches per task, not a buffer in samples" if entry["per_task"] else "no buffer"
            ax.axhline(entry["level"], color=color, linestyle=":", label=f"{method} ({what})")
    accuracy = SCENARIO_ACCURACY.get(scenario, scenario)
    ax.set(xscale="log", xlabel="buffer (samples)", ylabel=f"{accuracy} final accuracy (%)", ylim=(0, 101))
    sizes = sorted({buffer for entry in methods.values() for buffer, _ in entry["points"]})
    ax.set_xticks(sizes, [str(size) for size in sizes], minor=False)
    ax.set_xticks([], minor=True)  # the log axis's minor labels (3x10^2, ...) crowd the buffer sizes
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2)


def _bar_panel(ax, scenario: str, rows: dict) -> None:
    """One buffer size (or none) in the scenario: a line per method would be a single point, so
    each row is a bar, mean ± sample std over its seeds, with its value written beside it."""
    labels, means, stds = [], [], []
    for (_, method, buffer), runs in rows.items():
        mean, std = mean_std([r["final_average_accuracy"] for r in runs])
        labels.append(method + (f" [{buffer}]" if buffer is not None else ""))
        means.append(mean)
        stds.append(std or 0.0)
    positions = list(range(len(labels)))[::-1]  # the table's order, top to bottom
    ax.barh(positions, means, xerr=stds, color=[f"C{i % 10}" for i in range(len(labels))], alpha=0.8)
    for y, mean in zip(positions, means):
        ax.text(min(mean + 1, 80), y, f"{mean:.2f}", va="center", fontsize=7)
    ax.set_yticks(positions, labels, fontsize=6)
    accuracy = SCENARIO_ACCURACY.get(scenario, scenario)
    ax.set(xlim=(0, 101), xlabel=f"{accuracy} final accuracy (%), [buffer in samples]")
    ax.grid(alpha=0.3, axis="x")


def plot_final_vs_buffer(records: list[dict], path: Path) -> None:
    """Per scenario of the sweep, one panel: final accuracy vs buffer size per method (solid), the
    ANN numbers (dashed, x) on Split-MNIST and the buffer-free methods as horizontal lines; or, when
    the sweep has one buffer size, a bar per row."""
    import matplotlib.pyplot as plt

    from spikereplay.plots import save_figure

    series = buffer_series(records)
    rows = method_rows(records)
    panels = max(len(series), 1)
    height = max(4.5, 0.3 * max((len([k for k in rows if k[0] == sc]) for sc in series), default=0))
    fig, axes = plt.subplots(1, panels, figsize=(8 * panels, height), squeeze=False)
    for ax, (scenario, methods) in zip(axes[0], series.items()):
        sizes = {buffer for entry in methods.values() for buffer, _ in entry["points"]}
        if len(sizes) > 1:
            _buffer_panel(ax, scenario, methods, on_split_mnist(records))
        else:
            _bar_panel(ax, scenario, {key: runs for key, runs in rows.items() if key[0] == scenario})
        ax.set_title(scenario, fontsize=9)
    save_figure(fig, path)
