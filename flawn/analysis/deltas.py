"""Score and delta tables from per-task rows."""

from __future__ import annotations

import pandas as pd

from flawn.results import UNAVERAGED_TASKS

#: Label of the row holding the unweighted mean over tasks.
MEAN_ROW = "mean"


def check_one_evaluation(scores: pd.DataFrame) -> None:
    """Refuses rows of several evaluations (suites, scoring modes or settings) in one table.

    Raises:
        ValueError: Listing the evaluations found and how to pick one.
    """
    columns = [c for c in ("suite", "mode", "eval_key") if c in scores.columns]
    if not columns:
        return
    found = scores[columns].drop_duplicates()
    if len(found) > 1:
        listed = "; ".join(
            ", ".join(f"{c}={v}" for c, v in zip(columns, r, strict=True))
            for r in found.itertuples(index=False)
        )
        raise ValueError(
            f"the rows come from {len(found)} different evaluations ({listed}); a table never "
            "averages across suites, scoring modes or settings: select one (e.g. --suite, --mode)"
        )


def score_table(scores: pd.DataFrame, by: str = "run_name") -> pd.DataFrame:
    """Task-by-condition table of scores.

    Rows of the same condition (e.g. several seeds) are averaged per task.

    Args:
        scores: Per-task rows (see :func:`flawn.analysis.load_task_scores`).
        by: The column naming the conditions, e.g. ``run_name`` or ``mixture``.

    Returns:
        A frame indexed by task (plus a final ``mean`` row, the unweighted mean
        over tasks) with one column per condition, in order of first appearance.
        Rows of :data:`flawn.results.UNAVERAGED_TASKS` are shown but left out
        of the mean.
    """
    if scores.empty:
        raise ValueError("no scores to tabulate")
    check_one_evaluation(scores)
    order = list(dict.fromkeys(scores[by]))
    table = scores.pivot_table(index="task", columns=by, values="score", aggfunc="mean", sort=False)
    table = table[order]
    table.loc[MEAN_ROW] = table.drop(index=list(UNAVERAGED_TASKS), errors="ignore").mean(axis=0)
    table.columns.name = None
    return table


def delta_table(scores: pd.DataFrame, baseline: str, by: str = "run_name") -> pd.DataFrame:
    """Scores of every condition and their difference to a baseline condition.

    Args:
        scores: Per-task rows.
        baseline: The value of ``by`` that identifies the baseline.
        by: The column naming the conditions.

    Returns:
        Indexed by task plus ``mean``: the baseline's score column, then for
        each other condition its score and a ``Δ <condition>`` column
        (condition minus baseline). The mean row averages the tasks every
        condition has, so its Δ is the difference of the means over one task set.

    Raises:
        KeyError: If no rows belong to ``baseline``.
    """
    table = score_table(scores, by)
    if baseline not in table.columns:
        raise KeyError(f"baseline {baseline!r} not among {list(table.columns)}")
    out = pd.DataFrame(index=table.index)
    out[f"{baseline} (baseline)"] = table[baseline]
    for condition in table.columns:
        if condition == baseline:
            continue
        out[condition] = table[condition]
        out[f"Δ {condition}"] = table[condition] - table[baseline]
    return out
