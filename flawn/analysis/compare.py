"""Deltas of conditions against a baseline, with paired bootstrap intervals and tests.

A comparison covers one evaluation (suite, scoring mode, settings) and one
group of runs that agree on every sweep axis except the condition axis and the
seed. Within it:

* Point estimates are the official task scores, aggregated by the
  benchmark's rule (:mod:`flawn.analysis.rules`); a condition with several
  seeds scores the mean over its seeds.
* Intervals come from a two-level bootstrap: the examples of each task are
  resampled with replacement (within gold classes for balanced accuracy),
  with the same draws for every run, so conditions stay paired on the same
  items; then, where a condition has several seeds, its seeds are resampled
  with replacement. Each resample is aggregated by the rule, and the interval
  of a delta is the percentile interval of its resampled differences. So an
  interval holds both example-level and seed-level uncertainty.
* For metrics that are not a mean over examples (pooled F1, corpus F0.5) the
  resampled statistic is the mean of the per-example values, moved to the
  official score (an approximation, stated in the notes).
* Per task, the paired test is McNemar's exact test on binary items (pooled
  over seed-matched pairs), otherwise Wilcoxon's signed-rank test on the
  per-example differences averaged over matched seeds; p-values are corrected
  across the tasks of a condition by Holm and by Benjamini-Hochberg.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from flawn.analysis import stats
from flawn.analysis.rules import AggregationRule, rule_for_suite

#: Columns naming single runs: a baseline given by one of them is that run alone.
RUN_COLUMNS = ("run_id", "run_name")

#: Metrics whose task score is the mean over gold classes of per-class accuracy.
STRATIFIED_METRICS = frozenset({"balanced_accuracy"})


@dataclasses.dataclass
class Comparison:
    """The conditions of one group of runs against its baseline, on one evaluation.

    Attributes:
        suite: The evaluation's suite.
        mode: Its scoring mode.
        settings: Its settings in words.
        eval_key: Its key (see :func:`flawn.analysis.loading.load_task_scores`).
        group: ``{axis: value}`` shared by the runs compared.
        condition: The condition axis (e.g. ``mixture``).
        baseline: The baseline's value on it.
        rule: The benchmark's aggregation rule.
        scores: One row per condition x (level, name): ``score``, ``lo``, ``hi``
            (the condition's own interval), ``degenerate`` (the interval has
            zero width, see :func:`flawn.analysis.stats.zero_width`),
            ``n_seeds``, ``seed_sd`` (standard deviation of its seeds'
            scores); levels are ``task``, ``group``, ``overall`` and ``view``.
            Scores are on the rule's scale.
        deltas: One row per non-baseline condition x (level, name): ``score``,
            ``baseline_score``, ``delta``, ``lo``, ``hi``, ``degenerate``; for
            tasks also ``test``, ``p_value``, ``p_holm``, ``p_bh``.
        notes: What a reader must know about these numbers.
        level: The intervals' confidence level.
        n_resamples: Bootstrap resamples (0 when there were no per-example rows).
        stratified: The tasks whose examples were resampled within gold
            classes (those scored by balanced accuracy); the others were
            resampled as a whole.
    """

    suite: str
    mode: str
    settings: str
    eval_key: str
    group: dict[str, Any]
    condition: str
    baseline: Any
    rule: AggregationRule
    scores: pd.DataFrame
    deltas: pd.DataFrame
    notes: list[str]
    level: float = 0.95
    n_resamples: int = 0
    stratified: list[str] = dataclasses.field(default_factory=list)

    @property
    def title(self) -> str:
        """Suite, mode and group, for headings."""
        group = ", ".join(f"{k}={v}" for k, v in self.group.items())
        return f"{self.suite} · {self.mode}" + (f" · {group}" if group else "")


def _axis_column(frame: pd.DataFrame, axis: str) -> str:
    column = f"axis.{axis}"
    if column in frame.columns:
        return column
    if axis in frame.columns:
        return axis
    raise KeyError(
        f"no sweep axis {axis!r} in the rows; axes: "
        f"{sorted(c.removeprefix('axis.') for c in frame.columns if c.startswith('axis.'))}"
    )


def _as_text(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        frame[column] = frame[column].astype(str)
    return frame


def _categorical(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes and their labels (as text) of a column."""
    column = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    return column.cat.codes.to_numpy(), column.cat.categories.astype(str)


def _codes(column: pd.Series, wanted: Sequence[str]) -> np.ndarray:
    """Position of each row's value in ``wanted`` (-1 where it is not wanted)."""
    codes, labels = _categorical(column)
    lookup = np.append(pd.Index(wanted).get_indexer(labels), -1)
    return lookup[codes]  # code -1 (missing) maps to the appended -1


class ExampleValues:
    """One evaluation's per-example values as a (key, run) matrix, sorted by task."""

    def __init__(self, examples: pd.DataFrame, run_ids: Sequence[str]):
        self.run_ids = list(run_ids)
        # Work on categorical codes: a 100-run sweep has ~9M rows, too many to turn into strings.
        runs = _codes(examples["run_id"], self.run_ids)
        rows = runs >= 0
        run_code = runs[rows]
        task_codes, task_names = _categorical(examples["task"])
        example_codes, _ = _categorical(examples["example"])
        gold_codes, _ = _categorical(examples["gold"])
        task_codes, example_codes, gold_codes = (
            task_codes[rows],
            example_codes[rows],
            gold_codes[rows],
        )
        pair = task_codes.astype(np.int64) * (int(example_codes.max(initial=0)) + 1) + example_codes
        unique, keys = np.unique(pair, return_inverse=True)  # sorted: grouped by task
        values = np.full((len(unique), len(self.run_ids)), np.nan)
        values[keys, run_code] = examples["value"].to_numpy(dtype=float)[rows]
        task_of_key = np.empty(len(unique), dtype=np.int64)
        task_of_key[keys] = task_codes
        gold_of_key = np.empty(len(unique), dtype=np.int64)
        gold_of_key[keys] = gold_codes
        complete = ~np.isnan(values).any(axis=1)
        self.dropped = int((~complete).sum())
        self.values = values[complete]
        self._task_names = np.asarray(task_names, dtype=object)
        self.tasks = task_of_key[complete]
        self.gold = gold_of_key[complete]
        self._names = {str(n): i for i, n in enumerate(task_names)}

    def matrix(self, task: str, stratified: bool) -> stats.TaskMatrix | None:
        """The task's examples x runs values (strata = gold classes if ``stratified``)."""
        if task not in self._names:
            return None
        where = self.tasks == self._names[task]
        if not where.any():
            return None
        strata = pd.factorize(self.gold[where])[0] if stratified else None
        return stats.TaskMatrix(task, self.values[where], strata)


def level_weights(rule: AggregationRule, scored: Sequence[str]) -> tuple[list, np.ndarray]:
    """Every reported ``(level, name)`` and the matrix taking task scores to it.

    The first rows are the tasks themselves (``("task", name)``, identity
    weights); then the rule's groups, overall and views.
    """
    weights = rule.weights(scored)
    levels = [("task", t) for t in scored] + list(weights.index)
    return levels, np.vstack([np.eye(len(scored)), weights.to_numpy()])


def task_matrices(
    examples: ExampleValues, tasks: Sequence[str], metric_of: Mapping[str, str]
) -> list[stats.TaskMatrix] | None:
    """Each task's matrix (by gold class where the metric asks); None if a task has no rows."""
    out = []
    for task in tasks:
        found = examples.matrix(task, metric_of[task] in STRATIFIED_METRICS)
        if found is None:
            return None
        out.append(found)
    return out


def bootstrap_official(
    matrices: Sequence[stats.TaskMatrix], official: np.ndarray, n_resamples: int, seed: int
) -> tuple[np.ndarray, list[str]]:
    """Bootstrap task statistics moved to the official scores, and the tasks that needed moving.

    Args:
        matrices: Per-task values, ``n_runs`` columns each.
        official: ``(tasks, runs)`` official scores.
        n_resamples: Resamples.
        seed: Seed.

    Returns:
        ``(resamples, tasks, runs)`` samples and the tasks whose official score is not
        the mean statistic of their examples (pooled F1 and the like).
    """
    boot = stats.bootstrap_task_statistics(matrices, n_resamples, seed)
    shift = official - np.stack([stats.task_statistic(m) for m in matrices])
    moved = [m.task for m, s in zip(matrices, np.abs(shift).max(axis=1), strict=True) if s > 1e-9]
    return boot + shift[None], moved


def _runs_of(group: pd.DataFrame, condition: str, seed: str | None):
    """Run ids per condition (each condition's seeds), in order of first appearance."""
    runs = group[["run_id", condition] + ([seed] if seed else [])].drop_duplicates("run_id")
    out: dict[str, list[tuple[str, str]]] = {}
    for row in runs.itertuples(index=False):
        out.setdefault(row[1], []).append((row[0], row[2] if seed else "0"))
    return out


def _paired_task_test(values: np.ndarray, base: list, cond: list) -> tuple[str, float]:
    """The task's paired test on seed-matched columns of ``values``."""
    base_seeds = dict((s, i) for i, s in base)
    pairs = [(base_seeds[s], i) for i, s in cond if s in base_seeds]
    if not pairs:  # no common seed: pair in order
        pairs = list(zip([i for i, _ in base], [i for i, _ in cond], strict=False))
    b = values[:, [p[0] for p in pairs]]
    c = values[:, [p[1] for p in pairs]]
    if np.isin(values, (0.0, 1.0)).all():
        return "mcnemar_exact", stats.mcnemar_exact(b, c).p_value
    return stats.paired_test(b.mean(axis=1), c.mean(axis=1))


def compare(
    tasks: pd.DataFrame,
    examples: pd.DataFrame | None,
    condition: str,
    baseline: Any,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    rules: Mapping[str, AggregationRule] | None = None,
) -> list[Comparison]:
    """Compares every condition with the baseline, per evaluation and group of runs.

    Args:
        tasks: Per-task rows (:func:`flawn.analysis.loading.load_task_scores`).
        examples: Per-example rows (:func:`flawn.analysis.loading.load_examples`),
            or None for point estimates only (e.g. from a W&B export).
        condition: The condition axis (e.g. ``mixture``), or ``run_name`` /
            ``run_id`` to compare every run with one named run.
        baseline: The baseline's value on it (compared as text).
        n_resamples: Bootstrap resamples.
        level: Confidence level of the intervals.
        seed: Seed of the resampling.
        rules: Aggregation rules by suite that replace the declared ones
            (e.g. a view extended by a decontamination report).

    Returns:
        One :class:`Comparison` per evaluation and group that has the baseline.

    Raises:
        KeyError: If no group has the baseline, listing the conditions found.
    """
    column = _axis_column(tasks, condition)
    if column in RUN_COLUMNS:
        # The baseline is one named run: every other run is a condition of its own.
        seed_column, group_columns = None, []
    else:
        seed_column = (
            _axis_column(tasks, "seed") if "axis.seed" in tasks or "seed" in tasks else None
        )
        group_columns = sorted(
            c for c in tasks.columns if c.startswith("axis.") and c not in (column, seed_column)
        )
    tasks = _as_text(tasks, [column, *group_columns] + ([seed_column] if seed_column else []))
    tasks = tasks[tasks["run_id"].notna()]
    baseline = str(baseline)
    out = []
    for key, rows in tasks.groupby("eval_key", sort=False, observed=True):
        evaluation = None
        if examples is not None:
            evaluation = examples[_codes(examples["eval_key"], [str(key)]) == 0]
        grouped = (
            rows.groupby(group_columns, sort=False, dropna=False, observed=True)
            if group_columns
            else [((), rows)]
        )
        for values, group in grouped:
            if baseline not in set(group[column]):
                continue
            values = values if isinstance(values, tuple) else (values,)
            out.append(
                _compare_group(
                    group,
                    evaluation,
                    column,
                    seed_column,
                    baseline,
                    {
                        c.removeprefix("axis."): v
                        for c, v in zip(group_columns, values, strict=True)
                    },
                    n_resamples,
                    level,
                    seed,
                    rules or {},
                )
            )
    if not out:
        found = sorted(set(tasks[column]))
        raise KeyError(f"baseline {baseline!r} not among the {condition} values {found}")
    return out


def _compare_group(
    group: pd.DataFrame,
    examples: pd.DataFrame | None,
    column: str,
    seed_column: str | None,
    baseline: str,
    shared: dict[str, Any],
    n_resamples: int,
    level: float,
    seed: int,
    rules: Mapping[str, AggregationRule],
) -> Comparison:
    first = group.iloc[0]
    rule = rules.get(str(first["suite"])) or rule_for_suite(str(first["suite"]))
    notes: list[str] = []
    runs = _runs_of(group, column, seed_column)
    conditions = [baseline] + [c for c in runs if c != baseline]
    run_ids = [r for c in conditions for r, _ in runs[c]]
    index = {r: i for i, r in enumerate(run_ids)}
    # Only tasks every run has are compared, so every condition is averaged over the same tasks.
    official = group.pivot_table(index="task", columns="run_id", values="score", aggfunc="first")
    official = official.reindex(columns=run_ids)
    complete = official.dropna()
    if len(complete) < len(official):
        missing = sorted(set(official.index) - set(complete.index))
        notes.append(f"{len(missing)} task(s) missing from some run and left out: {missing[:5]}")
    scored = rule.scored_tasks(complete.index)
    left_out = sorted(set(complete.index) - set(scored))
    if left_out:
        notes.append(f"left out by the rule: {left_out}")
    metrics = group.drop_duplicates("task").set_index("task")["metric"]
    official = complete.loc[scored].to_numpy(dtype=float)  # (T, R)
    seeds_of = [[index[r] for r, _ in runs[c]] for c in conditions]

    boot_tasks = None
    if examples is not None and len(examples):
        matrix = ExampleValues(examples, run_ids)
        if matrix.dropped:
            notes.append(
                f"{matrix.dropped} example(s) not scored in every run left out of the intervals"
            )
        metric_of = {task: str(metrics.get(task)) for task in scored}
        matrices = task_matrices(matrix, scored, metric_of)
        if matrices is not None:
            boot_tasks, approximated = bootstrap_official(matrices, official, n_resamples, seed)
            if approximated:
                notes.append(
                    f"{len(approximated)} task(s) whose official score is not a mean over examples "
                    f"({approximated[:5]}): intervals resample the per-example values around the "
                    "official score (approximate)"
                )
        else:
            notes.append("per-example rows missing for some task: no intervals")
    else:
        notes.append("no per-example rows: point estimates only, no intervals or tests")

    score_rows, delta_rows = [], []
    levels, all_weights = level_weights(rule, scored)  # (T + L, T)
    point_runs = all_weights @ official  # (T + L, R)
    boot_runs = (
        np.einsum("lt,btr->blr", all_weights, boot_tasks, optimize=True)
        if boot_tasks is not None
        else None
    )
    alpha_scale = rule.scale
    for li, (kind, name) in enumerate(levels):
        point_cond = np.array([point_runs[li, s].mean() for s in seeds_of])
        if boot_runs is not None:
            combined = stats.combine_seeds(boot_runs[:, li, :], seeds_of, seed)  # (B, C)
            lo, hi = stats.percentile_interval(combined, level)
            dlo, dhi = stats.percentile_interval(combined[:, 1:] - combined[:, :1], level)
        else:
            lo = hi = np.full(len(conditions), np.nan)
            dlo = dhi = np.full(len(conditions) - 1, np.nan)
        flat, dflat = stats.zero_width(lo, hi), stats.zero_width(dlo, dhi)
        for ci, cond in enumerate(conditions):
            per_seed = point_runs[li, seeds_of[ci]]
            score_rows.append(
                {
                    "condition": cond,
                    "level": kind,
                    "name": name,
                    "score": point_cond[ci] * alpha_scale,
                    "lo": lo[ci] * alpha_scale,
                    "hi": hi[ci] * alpha_scale,
                    "degenerate": bool(flat[ci]),
                    "n_seeds": len(seeds_of[ci]),
                    # the spread of the seeds' own scores (NaN for one seed)
                    "seed_sd": (per_seed.std(ddof=1) if len(per_seed) > 1 else np.nan)
                    * alpha_scale,
                }
            )
            if ci == 0:
                continue
            delta_rows.append(
                {
                    "condition": cond,
                    "level": kind,
                    "name": name,
                    "score": point_cond[ci] * alpha_scale,
                    "baseline_score": point_cond[0] * alpha_scale,
                    "delta": (point_cond[ci] - point_cond[0]) * alpha_scale,
                    "lo": dlo[ci - 1] * alpha_scale,
                    "hi": dhi[ci - 1] * alpha_scale,
                    "degenerate": bool(dflat[ci - 1]),
                }
            )
    deltas = pd.DataFrame(delta_rows)
    if boot_tasks is not None and len(deltas):
        deltas = _add_tests(deltas, matrices, runs, conditions, index)
    seeds = sorted({len(s) for s in seeds_of})
    if seeds != [1]:
        notes.append(
            f"{'/'.join(map(str, seeds))} seed(s) per condition: scores are means over seeds; "
            "intervals resample seeds, then examples"
        )
    return Comparison(
        suite=str(first["suite"]),
        mode=str(first["mode"]),
        settings=str(first.get("eval_settings", "")),
        eval_key=str(first["eval_key"]),
        group=shared,
        condition=column.removeprefix("axis."),
        baseline=baseline,
        rule=rule,
        scores=pd.DataFrame(score_rows),
        deltas=deltas,
        notes=notes,
        level=level,
        n_resamples=n_resamples if boot_tasks is not None else 0,
        stratified=[m.task for m in matrices if m.strata is not None]
        if boot_tasks is not None
        else [],
    )


def _add_tests(deltas, matrices, runs, conditions, index) -> pd.DataFrame:
    """Per-task paired tests and their corrections across the tasks of each condition."""
    deltas = deltas.copy()
    for column in ("test", "p_value", "p_holm", "p_bh"):
        deltas[column] = np.nan if column != "test" else ""
    base = [(index[r], s) for r, s in runs[conditions[0]]]
    for cond in conditions[1:]:
        mine = [(index[r], s) for r, s in runs[cond]]
        tests = [_paired_task_test(m.values, base, mine) for m in matrices]
        where = (deltas["condition"] == cond) & (deltas["level"] == "task")
        order = {m.task: i for i, m in enumerate(matrices)}
        picked = deltas.loc[where, "name"].map(order).to_numpy()
        p = np.array([tests[i][1] for i in picked])
        deltas.loc[where, "test"] = [tests[i][0] for i in picked]
        deltas.loc[where, "p_value"] = p
        deltas.loc[where, "p_holm"] = stats.adjust_p_values(p, "holm")
        deltas.loc[where, "p_bh"] = stats.adjust_p_values(p, "bh")
    return deltas
