"""The sweep report: one delta table per evaluation and per group of runs, each labelled.

A table holds one evaluation (one suite, one scoring mode, one set of
settings) and one group of runs that agree on every axis but the condition
axis and the seed; seeds are averaged per task. Its heading names the suite,
the mode and the group, and its note states the averaging rule.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from flawn.analysis.deltas import delta_table
from flawn.analysis.loading import evaluations, load_task_scores
from flawn.analysis.report import format_table, write_report
from flawn.runs.manifest import Manifest


@dataclasses.dataclass
class SweepTable:
    """One table of the report.

    Attributes:
        suite: The evaluation's suite.
        mode: Its scoring mode.
        settings: Its settings in words.
        group: ``{axis: value}`` shared by the table's runs.
        table: Scores per task and condition, deltas against the baseline, mean last.
        rule: How the mean row is computed.
    """

    suite: str
    mode: str
    settings: str
    group: dict[str, Any]
    table: pd.DataFrame
    rule: str

    @property
    def title(self) -> str:
        """Suite, mode and group, for headings."""
        group = ", ".join(f"{k}={v}" for k, v in self.group.items())
        return f"{self.suite} · {self.mode} · {group}" if group else f"{self.suite} · {self.mode}"


def sweep_tables(
    run_dirs: Sequence[os.PathLike], condition: str, baseline: Any
) -> list[SweepTable]:
    """The report's tables from the finished evaluations of ``run_dirs``.

    Args:
        run_dirs: The sweep's run folders (unfinished ones are skipped).
        condition: The condition axis (e.g. ``mixture``).
        baseline: The baseline's value on it.
    """
    try:
        scores = load_task_scores(run_dirs)
    except FileNotFoundError:
        return []
    column = f"axis.{condition}"
    group_columns = [
        c for c in scores.columns if c.startswith("axis.") and c not in (column, "axis.seed")
    ]
    tables = []
    for key, suite, mode, settings in evaluations(scores):
        rows = scores[scores["eval_key"] == key]
        grouped = (
            rows.groupby(group_columns, sort=False, dropna=False) if group_columns else [((), rows)]
        )
        for values, group in grouped:
            values = values if isinstance(values, tuple) else (values,)
            if baseline not in set(group[column]):
                continue
            tasks_per_condition = group.groupby(column)["task"].nunique()
            n_tasks = group["task"].nunique()
            rule = (
                f"Scores are each task's official metric (mean over seeds); `mean` is the "
                f"unweighted mean over the {n_tasks} task(s)."
            )
            if (tasks_per_condition != n_tasks).any():
                rule += " Not every condition has every task: compare means with care."
            tables.append(
                SweepTable(
                    suite,
                    mode,
                    settings,
                    {
                        c.removeprefix("axis."): v
                        for c, v in zip(group_columns, values, strict=True)
                    },
                    delta_table(group, baseline=baseline, by=column),
                    rule,
                )
            )
    return tables


def write_sweep_report(
    sweep_dir: os.PathLike,
    sweep_name: str,
    tables: Sequence[SweepTable],
    condition: str,
    baseline: Any,
    manifest: Manifest,
) -> os.PathLike:
    """Writes ``<sweep>/report.md``: the tables, the evaluation protocol, and every run's status."""
    from flawn.evals.legalbench.prompts import truncation_policy
    from flawn.evals.legalbench.table import MANUAL_NOTE

    sections = []
    for table in tables:
        sections.append(
            (
                f"{table.title}: Δ = condition − {condition}={baseline}",
                f"{table.settings}\n\n{format_table(table.table)}\n\n{table.rule}",
            )
        )
    if not tables:
        sections.append(("Results", "No run has finished an evaluation yet."))
    sections.append(("Evaluation protocol", f"{truncation_policy()} {MANUAL_NOTE}"))
    lines = ["| run id | run | status | attempts | error |", "|---|---|---|---|---|"]
    for run_id, entry in manifest.runs().items():
        if not entry.get("in_plan", True):
            continue
        lines.append(
            f"| `{run_id}` | {entry.get('name', '')} | {entry.get('status', '')} | "
            f"{entry.get('attempts', 0)} | {entry.get('error') or ''} |"
        )
    sections.append(("Runs", "\n".join(lines)))
    return write_report(
        os.path.join(os.fspath(sweep_dir), "report.md"), f"Sweep `{sweep_name}`", sections
    )
