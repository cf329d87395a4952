"""Aggregation rules as data: how a benchmark turns task scores into group and overall scores.

Each benchmark folder (``flawn/evals/<benchmark>/aggregation.toml``) declares
its rule: which result suites it covers, the table mapping each task to its
group (LegalBench's reasoning categories, LawBench's cognitive levels), how
groups and the overall score are averaged, which tasks are never averaged and
why, and named views (e.g. the tasks built from sources LawInstruct trains on,
and the held-out rest). This module reads those files with the standard
library and pandas only: no TensorFlow, no JAX.

A suite with no declared rule (an evaluation folder of the user's) gets the
plain rule: the unweighted mean over its tasks, said so in every table.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import pathlib
import tomllib
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

#: Where the benchmark folders live.
EVALS_DIR = pathlib.Path(__file__).resolve().parent.parent / "evals"
RULE_FILE = "aggregation.toml"
OVERALL = "overall"
_OVERALL_MODES = ("groups", "tasks")


@dataclasses.dataclass(frozen=True)
class View:
    """A named subset of a benchmark's tasks, reported beside the all-task view.

    Attributes:
        name: Short name used in tables (``in_lawinstruct``).
        description: What the subset is, in words.
        patterns: Shell-style task patterns (``maud_*``) or task names.
        complement: Name of the view of every other task, if reported (``held_out``).
        complement_description: What the complement is, in words.
    """

    name: str
    description: str
    patterns: tuple[str, ...]
    complement: str = ""
    complement_description: str = ""

    def matches(self, task: str) -> bool:
        """Whether ``task`` belongs to the view."""
        return any(fnmatch.fnmatchcase(task, p) for p in self.patterns)

    def extended(self, tasks: Iterable[str]) -> View:
        """The view with more tasks, e.g. those a decontamination report found overlapping."""
        extra = tuple(t for t in tasks if not self.matches(t))
        return dataclasses.replace(self, patterns=self.patterns + extra)


@dataclasses.dataclass(frozen=True)
class AggregationRule:
    """How one benchmark aggregates task scores.

    Attributes:
        benchmark: The benchmark's name.
        suites: Result-row suites the rule applies to.
        group_name: What a group is called (``category``, ``level``); empty for no groups.
        groups: Group of each task.
        group_order: Groups in table order.
        overall: ``groups`` (unweighted mean of the group means) or ``tasks``
            (unweighted mean of all task scores).
        scale: Factor printing scores the way the benchmark publishes them (100 for points).
        excluded: Tasks never averaged, with the reason.
        views: Named task subsets reported beside the all-task view.
        note: What a reader of every table of this benchmark must know.
        source: The file the rule was read from.
    """

    benchmark: str
    suites: tuple[str, ...]
    group_name: str = ""
    groups: Mapping[str, str] = dataclasses.field(default_factory=dict)
    group_order: tuple[str, ...] = ()
    overall: str = "tasks"
    scale: float = 1.0
    excluded: Mapping[str, str] = dataclasses.field(default_factory=dict)
    views: tuple[View, ...] = ()
    note: str = ""
    source: str = ""

    def __post_init__(self):
        if self.overall not in _OVERALL_MODES:
            raise ValueError(
                f"{self.source or self.benchmark}: overall = {self.overall!r}; "
                f"expected one of {_OVERALL_MODES}"
            )
        if self.overall == "groups" and not self.group_order:
            raise ValueError(f"{self.source or self.benchmark}: overall = 'groups' needs groups")
        unknown = sorted(set(self.groups.values()) - set(self.group_order))
        if unknown:
            raise ValueError(
                f"{self.source or self.benchmark}: tasks are mapped to groups {unknown} that are "
                f"not in groups = {list(self.group_order)}"
            )
        if self.scale <= 0:
            raise ValueError(f"{self.source or self.benchmark}: scale must be positive")

    def scored_tasks(self, tasks: Iterable[str]) -> list[str]:
        """``tasks`` without the excluded ones, in the given order.

        Raises:
            ValueError: If the rule has groups and a task belongs to none,
                naming the task and the rule's file.
        """
        kept = [t for t in dict.fromkeys(tasks) if t not in self.excluded]
        if self.group_order:
            stray = [t for t in kept if t not in self.groups]
            if stray:
                raise ValueError(
                    f"task(s) {stray[:5]} of suite(s) {list(self.suites)} have no "
                    f"{self.group_name} in {self.source}; add them to its task table or to "
                    "[exclude]"
                )
        return kept

    def weights(self, tasks: Sequence[str]) -> pd.DataFrame:
        """The linear map from task scores to group and overall scores.

        Every score of a rule is a weighted mean of task scores, so one matrix
        aggregates point estimates and bootstrap resamples alike.

        Args:
            tasks: The scored tasks present (see :meth:`scored_tasks`).

        Returns:
            A frame indexed by ``(level, name)`` (levels ``group``, ``overall``
            and ``view``) with one column per task; rows sum to 1. Groups with
            no task present are left out.
        """
        tasks = list(tasks)
        rows, index = [], []
        group_rows = {}
        for group in self.group_order:
            members = np.array([self.groups.get(t) == group for t in tasks], dtype=float)
            if members.sum():
                group_rows[group] = members / members.sum()
                rows.append(group_rows[group])
                index.append(("group", group))
        if self.overall == "groups":
            overall = np.mean(list(group_rows.values()), axis=0)
        else:
            overall = np.full(len(tasks), 1.0 / len(tasks))
        rows.append(overall)
        index.append(("overall", OVERALL))
        for view in self.views:
            inside = [view.matches(t) for t in tasks]
            for name, members in (
                (view.name, inside),
                (view.complement, [not m for m in inside]),
            ):
                if not name or not any(members):
                    continue
                rows.append(self._view_weights(tasks, np.array(members)))
                index.append(("view", name))
        return pd.DataFrame(
            rows,
            index=pd.MultiIndex.from_tuples(index, names=["level", "name"]),
            columns=tasks,
        )

    def _view_weights(self, tasks: Sequence[str], members: np.ndarray) -> np.ndarray:
        """The overall rule applied to a subset of the tasks."""
        sub = [t for t, m in zip(tasks, members, strict=True) if m]
        inner = dataclasses.replace(self, views=()).weights(sub).loc[("overall", OVERALL)]
        out = np.zeros(len(tasks))
        out[members] = inner.to_numpy()
        return out

    def aggregate(self, task_scores: pd.Series) -> pd.Series:
        """Group, overall and view scores from task scores (indexed by task).

        Excluded tasks are dropped first; NaN scores are not allowed.
        """
        tasks = self.scored_tasks(task_scores.index)
        scores = task_scores.loc[tasks].astype(float)
        if scores.isna().any():
            raise ValueError(f"missing scores for {list(scores[scores.isna()].index)[:5]}")
        weights = self.weights(tasks)
        return pd.Series(weights.to_numpy() @ scores.to_numpy(), index=weights.index)

    def describe(self, tasks: Sequence[str] | None = None) -> str:
        """The rule in one paragraph, for the note under every table."""
        parts = [f"{self.benchmark}: each task's official metric"]
        if self.scale != 1:
            parts[0] += f" (x{self.scale:g})"
        if self.group_order:
            parts.append(f"{self.group_name} = unweighted mean of its tasks")
        if self.overall == "groups":
            parts.append(
                f"overall = unweighted mean of the {len(self.group_order)} {self.group_name} means"
            )
        else:
            parts.append("overall = unweighted mean over the tasks")
        text = "; ".join(parts) + "."
        if tasks is not None:
            scored = self.scored_tasks(tasks)
            text += f" {len(scored)} task(s) scored."
        for task, reason in self.excluded.items():
            text += f" {task} is left out: {reason}."
        for view in self.views:
            text += f" View {view.name}: {view.description}"
            if view.complement:
                text += f"; {view.complement}: {view.complement_description}"
            text += " (same rule within each view)."
        text += " Scores of different suites or scoring modes are never averaged together."
        if self.note:
            text += f" {self.note}"
        return text


def _read_task_table(path: pathlib.Path, task_column: str, group_column: str) -> dict[str, str]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        for column in (task_column, group_column):
            if column not in (reader.fieldnames or []):
                raise ValueError(f"{path}: no column {column!r} (columns: {reader.fieldnames})")
        return {row[task_column]: row[group_column] for row in reader if row[task_column]}


def _rule_from_table(table: Mapping, folder: pathlib.Path, source: str) -> AggregationRule:
    known = {
        "benchmark", "suites", "group_name", "task_table", "task_column", "group_column",
        "groups", "overall", "scale", "exclude", "views", "note",
    }  # fmt: skip
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {unknown}; known: {sorted(known)}")
    for key in ("benchmark", "suites"):
        if key not in table:
            raise ValueError(f"{source}: missing key {key!r}")
    groups = {}
    if "task_table" in table:
        groups = _read_task_table(
            folder / table["task_table"],
            table.get("task_column", "task"),
            table.get("group_column", "category"),
        )
    excluded = dict(table.get("exclude", {}))
    groups = {t: g for t, g in groups.items() if t not in excluded}
    views = tuple(
        View(
            name,
            view.get("description", ""),
            tuple(view.get("tasks", ())),
            view.get("complement", ""),
            view.get("complement_description", ""),
        )
        for name, view in table.get("views", {}).items()
    )
    return AggregationRule(
        benchmark=table["benchmark"],
        suites=tuple(table["suites"]),
        group_name=table.get("group_name", ""),
        groups=groups,
        group_order=tuple(table.get("groups", ())),
        overall=table.get("overall", "tasks"),
        scale=float(table.get("scale", 1.0)),
        excluded=excluded,
        views=views,
        note=" ".join(table.get("note", "").split()),
        source=source,
    )


def read_rules(path: str | pathlib.Path) -> list[AggregationRule]:
    """The rules in one ``aggregation.toml`` (one rule, or a ``[[rules]]`` list).

    Raises:
        ValueError: For TOML errors or a malformed rule, naming the file.
    """
    path = pathlib.Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: {err}") from err
    tables = data.get("rules", [data])
    return [_rule_from_table(t, path.parent, str(path)) for t in tables]


def all_rules(evals_dir: str | pathlib.Path = EVALS_DIR) -> list[AggregationRule]:
    """Every rule declared under the benchmark folders.

    Raises:
        ValueError: If two rules claim the same suite.
    """
    rules = []
    for path in sorted(pathlib.Path(evals_dir).glob(f"*/{RULE_FILE}")):
        rules.extend(read_rules(path))
    claimed: dict[str, str] = {}
    for rule in rules:
        for suite in rule.suites:
            if suite in claimed:
                raise ValueError(
                    f"suite {suite!r} has two aggregation rules: {claimed[suite]} and {rule.source}"
                )
            claimed[suite] = rule.source
    return rules


def with_extended_views(rule: AggregationRule, tasks: Iterable[str]) -> AggregationRule:
    """The rule with ``tasks`` added to every view that has a complement (the held-out split).

    A decontamination report's overlapping tasks (``flawn data clean``) move
    from the held-out view to the view of tasks the training data has seen.
    """
    tasks = list(tasks)
    views = tuple(v.extended(tasks) if v.complement else v for v in rule.views)
    return dataclasses.replace(rule, views=views)


def plain_rule(suite: str) -> AggregationRule:
    """The rule of a suite no benchmark declares: the unweighted mean over its tasks."""
    return AggregationRule(benchmark=suite, suites=(suite,), source="(no aggregation.toml)")


def rule_for_suite(suite: str, evals_dir: str | pathlib.Path = EVALS_DIR) -> AggregationRule:
    """The rule that aggregates a suite's rows (the plain mean when none is declared)."""
    for rule in all_rules(evals_dir):
        if suite in rule.suites:
            return rule
    return plain_rule(suite)
