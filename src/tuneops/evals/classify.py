"""Classification reports: accuracy, per-class precision/recall/F1 and a confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuneops.evals.metrics import OTHER_LABEL


def _ratio(num: int, den: int) -> float:
    # An empty denominator scores 0 rather than failing: a class never predicted has no precision.
    return num / den if den else 0.0


def report(references: Sequence[str], predictions: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Per-class precision, recall, F1 and support; the confusion matrix; accuracy and macro F1.

    ``matrix[i][j]`` counts examples whose reference is ``labels[i]`` and prediction ``columns[j]``;
    ``columns`` is the labels plus ``<other>`` when some answer named no known label.
    """
    if len(references) != len(predictions):
        raise ValueError("references and predictions differ in length")
    rows = list(dict.fromkeys([*labels, *references]))
    columns = list(rows)
    if any(p not in rows for p in predictions):
        columns.append(OTHER_LABEL)
    col = {label: j for j, label in enumerate(columns)}
    row = {label: i for i, label in enumerate(rows)}
    matrix = [[0] * len(columns) for _ in rows]
    for ref, pred in zip(references, predictions, strict=True):
        matrix[row[ref]][col.get(pred, col.get(OTHER_LABEL, 0))] += 1
    per_class: dict[str, dict[str, float | int]] = {}
    for label in rows:
        i, j = row[label], col[label]
        tp = matrix[i][j]
        predicted = sum(matrix[r][j] for r in range(len(rows)))
        support = sum(matrix[i])
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    correct = sum(matrix[row[label]][col[label]] for label in rows)
    present = [label for label in rows if per_class[label]["support"]]
    return {
        "labels": rows,
        "columns": columns,
        "matrix": matrix,
        "per_class": per_class,
        "accuracy": _ratio(correct, len(references)),
        "macro_f1": sum(float(per_class[label]["f1"]) for label in present) / len(present) if present else 0.0,
    }
