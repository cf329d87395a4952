"""What a finished sweep observed: each mixture as realised shares, and its objective score.

:func:`load_observations` reads a sweep's run folders and returns, per
mixture (pooled over its seeds), the share of examples each source got in the
final stage of its runs (``stages/<stage>/plan.json``, the data plan written
before training) and the score of the objective, ``SUITE.overall`` or
``SUITE.<group>`` (a group or view of the suite's aggregation rule, e.g.
``legalbench.interpretation``), with its standard error from the analysis
package's interval (:func:`flawn.analysis.compare.compare`: bootstrap over
test examples, and over seeds where there are several).

Runs without a current evaluation are handled as ``flawn analyze`` handles
them (:mod:`flawn.analysis.coverage`): an error naming them, unless
``allow_missing`` leaves them out (listed in :attr:`Observations.missing`).

``by="group"`` sums the shares into ``legal`` and ``general`` (sources whose
name starts with one of :data:`flawn.analysis.analyze.LEGAL_SOURCE_PREFIXES`
are legal), and keeps each source's proportion within its group so that a
proposal over groups can be turned back into per-source weights
(:meth:`Observations.source_weights`).

Like the rest of the analysis, this reads files with pandas and numpy only.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from flawn.analysis import coverage
from flawn.analysis.analyze import LEGAL_SOURCE_PREFIXES, declared_baseline, split_sources
from flawn.analysis.loading import load_examples, load_task_scores, run_folders
from flawn.analysis.rules import OVERALL, rule_for_suite
from flawn.errors import ConfigError

#: Ways of describing a mixture.
BY = ("source", "group")
LEGAL, GENERAL = "legal", "general"


@dataclasses.dataclass
class Observations:
    """A sweep's mixtures as shares, with the objective's score for each.

    Attributes:
        sweep: The sweep's name (from its manifest, else its runs).
        sweep_dir: The sweep folder (``None`` when run folders were given).
        experiment: The experiment file the sweep was planned from (its manifest), if known.
        objective: ``SUITE.NAME`` as matched, e.g. ``legalbench.overall``.
        mode: The scoring mode of the evaluation scored.
        by: ``source`` or ``group``.
        components: The columns of :attr:`shares`: sources (seqio tasks), or
            ``legal`` and ``general``.
        mixtures: The rows: one per mixture (the ``mixture`` axis value),
            the baseline first, then by name.
        shares: ``(n, d)``: each mixture's realised share of examples per
            component (rows sum to 1); the mean over its runs.
        scores: ``(n,)``: the objective, on the aggregation rule's scale.
        se: ``(n,)``: its standard error (the interval's half width over the
            normal quantile of :attr:`level`; 0 for a zero-width interval).
        lo: ``(n,)``: the interval's lower end.
        hi: ``(n,)``: its upper end.
        n_seeds: ``(n,)``: seeds pooled into each score.
        baseline: The sweep's baseline mixture.
        within: For ``by="group"``: ``{group: {source: proportion within the
            group}}``, the mean over the runs that drew from the group; empty otherwise.
        run_ids: ``{mixture: [run ids]}`` of the runs observed.
        group: The other axes the runs share (``{"size": "small", ...}``).
        level: Confidence level of ``lo``/``hi``.
        missing: Runs left out for want of a current evaluation (``allow_missing``).
        notes: What a reader of a proposal must know.
    """

    sweep: str
    sweep_dir: pathlib.Path | None
    experiment: str | None
    objective: str
    mode: str
    by: str
    components: list[str]
    mixtures: list[str]
    shares: np.ndarray
    scores: np.ndarray
    se: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    n_seeds: np.ndarray
    baseline: str
    within: dict[str, dict[str, float]]
    run_ids: dict[str, list[str]]
    group: dict[str, Any]
    level: float
    missing: list[coverage.MissingRun] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """One row per mixture: its shares, score, interval and standard error."""
        out = pd.DataFrame(self.shares, columns=self.components, index=self.mixtures)
        out["score"], out["se"], out["lo"], out["hi"] = self.scores, self.se, self.lo, self.hi
        out["n_seeds"] = self.n_seeds
        return out

    def source_weights(self, shares: Sequence[float] | np.ndarray) -> dict[str, float]:
        """Per-source weights of one row of shares over :attr:`components`.

        For ``by="source"`` the row itself (zeros dropped); for ``by="group"``
        each group's share split over its sources by :attr:`within`.

        Raises:
            ValueError: If the row has the wrong length, a negative share, sums
                to 0, or gives a share to a group no observed run drew from.
        """
        row = np.asarray(shares, dtype=float)
        if row.shape != (len(self.components),):
            raise ValueError(
                f"a proposal needs {len(self.components)} shares ({', '.join(self.components)}), "
                f"got shape {row.shape}"
            )
        if (row < 0).any() or not row.sum() > 0:
            raise ValueError(f"shares must be >= 0 with a positive total, got {row.tolist()}")
        row = row / row.sum()
        if self.by == "source":
            return {c: float(s) for c, s in zip(self.components, row, strict=True) if s > 0}
        out: dict[str, float] = {}
        for group, share in zip(self.components, row, strict=True):
            if share <= 0:
                continue
            if not self.within.get(group):
                raise ValueError(
                    f"share {share:.3g} for {group!r}, but no observed run drew from that group, "
                    "so its sources are unknown"
                )
            for source, proportion in self.within[group].items():
                out[source] = out.get(source, 0.0) + float(share * proportion)
        return out


def group_of(source: str) -> str:
    """``legal`` or ``general``, by the source's name (see the module docstring)."""
    return LEGAL if source.startswith(LEGAL_SOURCE_PREFIXES) else GENERAL


def realised_shares(folder: str | pathlib.Path) -> dict[str, float] | None:
    """A run's share of examples per source in its final stage, or ``None`` without a record.

    The shares drawn while training (``data_counts.json``, written at the end
    of a stage) where the run has them, else the planned ones (``plan.json``):
    what the model saw, which differs from the plan by sampling noise (and
    by more where a source ran out or failed).

    Raises:
        ConfigError: Naming the file, if it is not valid JSON or has no shares.
    """
    folder = pathlib.Path(folder)
    spec = json.loads((folder / "spec.json").read_text(encoding="utf-8"))
    stages = spec.get("stages") or []
    if not stages:
        return None
    stage = folder / "stages" / stages[-1]["name"]
    counts, plan = stage / "data_counts.json", stage / "plan.json"
    if counts.exists():
        path = counts
        try:
            sources = json.loads(counts.read_text(encoding="utf-8"))["sources"]
            shares = {str(k): float(v["drawn_share"]) for k, v in sources.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ConfigError(
                f"{counts}: not a record of drawn examples with sources and drawn_share ({err})"
            ) from err
    elif plan.exists():
        path = plan
        try:
            rows = json.loads(plan.read_text(encoding="utf-8")).get("rows") or []
            shares = {str(r["source"]): float(r["share"]) for r in rows}
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ConfigError(
                f"{plan}: not a data plan with rows of source and share ({err})"
            ) from err
    else:
        return None
    total = sum(shares.values())
    if not total > 0:
        raise ConfigError(f"{path}: the shares sum to {total}, not to 1")
    return {k: v / total for k, v in shares.items() if v > 0}


def available_objectives(suites: Sequence[str]) -> list[str]:
    """``SUITE.overall``, ``SUITE.<group>`` and ``SUITE.<view>`` of each suite's rule."""
    out = []
    for suite in suites:
        rule = rule_for_suite(suite)
        names = [OVERALL, *rule.group_order]
        for view in rule.views:
            names += [view.name] + ([view.complement] if view.complement else [])
        out += [f"{suite}.{n}" for n in dict.fromkeys(names)]
    return out


def _manifest(folders: Sequence[str]) -> tuple[dict, pathlib.Path | None]:
    for folder in folders:
        for path in (pathlib.Path(folder), pathlib.Path(folder).parent):
            if (path / "manifest.json").exists():
                return json.loads((path / "manifest.json").read_text(encoding="utf-8")), path
    return {}, None


def load_observations(
    sources: Sequence[str | pathlib.Path],
    objective: str,
    by: str = "source",
    mode: str | None = None,
    where: Mapping[str, Any] | None = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    allow_missing: bool = False,
) -> Observations:
    """Reads a finished sweep: realised shares and objective score per mixture.

    Args:
        sources: The sweep folder (or run folders of one sweep).
        objective: ``SUITE.overall`` or ``SUITE.<group or view>``, e.g.
            ``legalbench.overall`` or ``sample.overall``.
        by: ``source`` (one component per seqio task) or ``group`` (legal, general).
        mode: The scoring mode, when the suite was scored in several.
        where: Values of the other axes (``{"size": "small"}``), when the
            sweep has several groups of runs (compared apart).
        n_resamples: Bootstrap resamples of the intervals.
        level: Their confidence level.
        seed: Seed of the resampling.
        allow_missing: Leave out runs without a current evaluation instead of refusing.

    Returns:
        The :class:`Observations`.

    Raises:
        ValueError: For an unknown objective (listing the available ones), an
            unknown ``by``, several groups of runs or modes without ``where`` /
            ``mode``, or a run without its data plan.
        coverage.MissingEvaluations: As ``flawn analyze`` raises it.
    """
    from flawn.analysis.compare import compare

    if by not in BY:
        raise ValueError(f"by must be one of {BY}, got {by!r}")
    folders, _, _ = split_sources(sources)
    if not folders:
        raise ValueError(f"no sweep or run folder among {list(map(str, sources))}")
    if not run_folders(folders):
        raise ValueError(
            f"no runs in {', '.join(map(str, folders))}: pass a sweep folder (e.g. runs/demo, "
            "whose run folders hold spec.json) or run folders"
        )
    declared = declared_baseline(folders)
    if declared is None or declared[0] != "mixture":
        raise ValueError(
            f"{folders[0]}: no baseline mixture in the sweep's manifest.json; proposals need a "
            "sweep of mixtures launched by flawn (Sweep.baseline_mixture)"
        )
    baseline = declared[1]
    tasks = load_task_scores(folders, None, mode)
    # The sweep's own evaluations: one run evaluated by hand with other settings (flawn
    # eval run) must not split the sweep into several groups of runs.
    asked = coverage.requested_eval_ids(folders)
    if asked:
        own = [
            run not in asked or evaluation in asked[run]
            for run, evaluation in zip(
                tasks["run_id"].astype(str), tasks["eval_id"].astype(str), strict=True
            )
        ]
        tasks = tasks[own]
    suites = sorted(set(tasks["suite"].astype(str)))
    available = available_objectives(suites)
    if objective not in available:
        raise ValueError(
            f"unknown objective {objective!r}; this sweep's evaluations give: "
            + ", ".join(available)
        )
    suite = max((s for s in suites if objective.startswith(f"{s}.")), key=len)
    name = objective[len(suite) + 1 :]
    tasks = tasks[tasks["suite"].astype(str) == suite]
    missing = coverage.missing_runs(folders, set(tasks["run_id"].astype(str)), suite, mode)
    current = tasks[~tasks["run_id"].astype(str).isin({m.run_id for m in missing})]
    evaluated = (current["axis.mixture"].astype(str) == str(baseline)).any()
    coverage.check_missing(missing, "mixture", baseline, bool(evaluated), allow_missing)
    tasks = current
    examples = load_examples(folders, suite, mode)
    comparisons = compare(tasks, examples, "mixture", baseline, n_resamples, level, seed)
    if where:
        wanted = {k: str(v) for k, v in where.items()}
        comparisons = [
            c for c in comparisons if all(str(c.group.get(k)) == v for k, v in wanted.items())
        ]
    if len(comparisons) != 1:
        found = [f"{c.mode} {c.group} ({c.settings})" for c in comparisons] or ["none"]
        raise ValueError(
            f"{objective}: {len(comparisons)} groups of runs or evaluations match: "
            f"{'; '.join(found)}; pick one with --mode and --where AXIS=VALUE (mode=, where= "
            "from Python)"
        )
    (comparison,) = comparisons
    scores = comparison.scores[
        (comparison.scores["name"] == name) & (comparison.scores["level"] != "task")
    ].set_index("condition")
    runs = tasks[tasks["eval_key"] == comparison.eval_key]
    for axis, value in comparison.group.items():
        runs = runs[runs[f"axis.{axis}"].astype(str) == str(value)]
    run_ids: dict[str, list[str]] = {}
    for mixture, rows in runs.groupby(runs["axis.mixture"].astype(str), sort=False):
        run_ids[mixture] = sorted(set(rows["run_id"].astype(str)))
    by_id = {f.name: f for f in run_folders(folders)}
    per_mixture: dict[str, dict[str, float]] = {}
    within_runs: dict[str, list[dict[str, float]]] = {LEGAL: [], GENERAL: []}
    notes: list[str] = []
    for mixture, ids in run_ids.items():
        realised = []
        for run_id in ids:
            folder = by_id.get(run_id)
            shares = realised_shares(folder) if folder is not None else None
            if shares is None:
                raise ValueError(
                    f"run {run_id} ({mixture}) has no record of its data (stages/<final "
                    "stage>/data_counts.json or plan.json); proposals need the realised "
                    "shares, which runs trained with TrainConfig.report_data = True write"
                )
            realised.append(shares)
            for group in (LEGAL, GENERAL):
                inside = {s: v for s, v in shares.items() if group_of(s) == group}
                if sum(inside.values()) > 0:
                    total = sum(inside.values())
                    within_runs[group].append({s: v / total for s, v in inside.items()})
        sources = sorted({s for r in realised for s in r})
        matrix = np.array([[r.get(s, 0.0) for s in sources] for r in realised])
        if np.ptp(matrix, axis=0).max(initial=0.0) > 1e-6:
            notes.append(f"{mixture}: its runs' shares differ (data changed?); their mean is used")
        per_mixture[mixture] = dict(zip(sources, matrix.mean(axis=0), strict=True))
    mixtures = sorted(run_ids, key=lambda m: (m != str(baseline), m))  # baseline first
    if by == "source":
        components = sorted({s for m in per_mixture.values() for s in m})
        within: dict[str, dict[str, float]] = {}
    else:
        components = [LEGAL, GENERAL]
        within = {g: _mean_proportions(rows) for g, rows in within_runs.items() if rows}
    shares = np.zeros((len(mixtures), len(components)))
    for i, mixture in enumerate(mixtures):
        for source, share in per_mixture[mixture].items():
            column = source if by == "source" else group_of(source)
            shares[i, components.index(column)] += share
    table = scores.reindex(mixtures)
    lo, hi = table["lo"].to_numpy(float), table["hi"].to_numpy(float)
    z = statistics.NormalDist().inv_cdf(0.5 + level / 2)
    manifest, sweep_dir = _manifest(folders)
    return Observations(
        sweep=str(manifest.get("sweep") or tasks["sweep"].astype(str).iloc[0]),
        sweep_dir=sweep_dir,
        experiment=manifest.get("experiment"),
        objective=objective,
        mode=comparison.mode,
        by=by,
        components=components,
        mixtures=mixtures,
        shares=shares,
        scores=table["score"].to_numpy(float),
        se=(hi - lo) / (2 * z),
        lo=lo,
        hi=hi,
        n_seeds=table["n_seeds"].to_numpy(int),
        baseline=str(baseline),
        within=within,
        run_ids=run_ids,
        group=dict(comparison.group),
        level=level,
        missing=list(missing),
        notes=notes + list(comparison.notes),
    )


def _mean_proportions(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    sources = sorted({s for r in rows for s in r})
    mean = {s: float(np.mean([r.get(s, 0.0) for r in rows])) for s in sources}
    total = sum(mean.values())
    return {s: v / total for s, v in mean.items()}
