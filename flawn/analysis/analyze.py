"""``flawn analyze``: from sweeps to the report a paper is written from.

One call loads one or many sweeps (run folders, sweep folders, or W&B exports
of a runs table), compares every condition with the baseline per evaluation
and group of runs (:mod:`flawn.analysis.compare`), and writes into ``out``:

* ``report.md``: per evaluation, the paper table (Markdown) with its rule,
  the per-task table with tests and corrections, and the plots;
* ``tables/<evaluation>.tex`` and ``.md``: the paper tables alone;
* ``plots/``: forest plots, delta against legal share, scaling by size,
  size extrapolation, training curves (PNG and PDF);
* a "Size extrapolation" section, ``tables/extrapolation.md`` and
  ``extrapolation.parquet`` when a condition was run at two sizes or more
  (:mod:`flawn.analysis.extrapolation`);
* ``comparisons.parquet``: every score and delta with its interval and test;
* ``tasks.parquet`` and ``examples.parquet``: the tidy rows analysed;
* ``cards/<run_id>.md``: a run card per run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from flawn.analysis import coverage
from flawn.analysis.compare import Comparison, compare
from flawn.analysis.loading import load_examples, load_task_scores, load_wandb_export, run_folders

#: Plan sources that count as legal data when computing a run's legal share.
LEGAL_SOURCE_PREFIXES = (
    "lawinstruct.",
    "sample_lawinstruct.",
    "multilegalpile",
    "sample_mlp.",
    "lawgpt",
)
_EXPORT_SUFFIXES = (".csv", ".parquet")
#: Sizes in order of parameters, for scaling plots (unknown sizes go last).
SIZE_ORDER = ("tiny", "small", "base", "large", "xl", "xxl")


@dataclasses.dataclass
class Analysis:
    """What :func:`analyze` produced.

    Attributes:
        comparisons: Every comparison, per evaluation and group.
        tasks: The per-task rows analysed.
        examples: The per-example rows (None when only exports were given).
        files: What was written, by kind.
        markdown: The report's tables as Markdown (what the CLI prints).
        missing: Runs left out for want of a current evaluation (only with
            ``allow_missing``; listed in the report and the table notes).
        extrapolation: Size extrapolation per condition and level
            (:func:`flawn.analysis.extrapolation.extrapolate`); empty unless a
            condition was measured at two sizes or more.
    """

    comparisons: list[Comparison]
    tasks: pd.DataFrame
    examples: pd.DataFrame | None
    files: dict[str, list[pathlib.Path]]
    markdown: str
    missing: list[coverage.MissingRun] = dataclasses.field(default_factory=list)
    extrapolation: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)


def split_sources(sources: Sequence[str | os.PathLike]) -> tuple[list[str], list[str], list[str]]:
    """``(folders, exports, ignored)``: exports are .csv/.parquet files; other files are ignored.

    Raises:
        FileNotFoundError: For a path that does not exist.
    """
    folders, exports, ignored = [], [], []
    for source in map(os.fspath, sources):
        path = pathlib.Path(source)
        if not path.exists():
            raise FileNotFoundError(f"{source}: no such run folder, sweep folder or W&B export")
        if path.is_dir():
            folders.append(source)
        elif path.suffix in _EXPORT_SUFFIXES:
            exports.append(source)
        else:
            ignored.append(source)
    return folders, exports, ignored


def declared_baseline(folders: Sequence[str]) -> tuple[str, Any] | None:
    """The baseline ``(axis, value)`` a sweep's manifest declares, if all agree on one."""
    found = set()
    for folder in folders:
        # a sweep folder, or a run folder inside one (e.g. from the glob runs/demo/*)
        for manifest in (
            pathlib.Path(folder) / "manifest.json",
            pathlib.Path(folder).parent / "manifest.json",
        ):
            if not manifest.exists():
                continue
            baseline = json.loads(manifest.read_text(encoding="utf-8")).get("baseline") or {}
            found.update((k, str(v)) for k, v in baseline.items())
            break
    return found.pop() if len(found) == 1 else None


def parse_baseline(text: str | None, condition: str | None, folders: Sequence[str]):
    """``(axis, value)`` from ``--baseline [AXIS=]VALUE`` and ``--condition``, or the sweep's."""
    if text and "=" in text:
        axis, value = text.split("=", 1)
        return axis, value
    if text:
        return condition or "mixture", text
    declared = declared_baseline(folders)
    if declared is None:
        raise ValueError(
            "no baseline: pass --baseline VALUE (a value of the condition axis, e.g. "
            "--baseline demo.general_only) or --baseline AXIS=VALUE; sweep folders launched by "
            "flawn record theirs in manifest.json"
        )
    return declared


def legal_shares(run_dirs: Sequence[str]) -> dict[str, float]:
    """Each run's planned share of legal examples in its final stage, by run id."""
    out = {}
    for folder in run_folders(run_dirs):
        spec_path = folder / "spec.json"
        if not spec_path.exists():
            continue
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        stages = spec.get("stages") or []
        if not stages:
            continue
        plan = folder / "stages" / stages[-1]["name"] / "plan.json"
        if plan.exists():
            rows = json.loads(plan.read_text(encoding="utf-8")).get("rows", [])
            out[spec["run_id"]] = sum(
                r.get("share", 0.0) for r in rows if r["source"].startswith(LEGAL_SOURCE_PREFIXES)
            )
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _by_evaluation(comparisons: Sequence[Comparison]) -> dict[str, list[Comparison]]:
    out: dict[str, list[Comparison]] = {}
    for comparison in comparisons:
        out.setdefault(comparison.eval_key, []).append(comparison)
    return out


def comparisons_frame(comparisons: Sequence[Comparison]) -> pd.DataFrame:
    """Every comparison's scores and deltas as one tidy frame (``kind`` = score | delta)."""
    frames = []
    for c in comparisons:
        for kind, frame in (("score", c.scores), ("delta", c.deltas)):
            if frame.empty:
                continue
            frame = frame.assign(
                kind=kind,
                suite=c.suite,
                mode=c.mode,
                eval_key=c.eval_key,
                baseline=c.baseline,
                condition_axis=c.condition,
                **{f"group.{k}": str(v) for k, v in c.group.items()},
            )
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _plots(comparisons, tasks, folders, out: pathlib.Path, label: str) -> list[pathlib.Path]:
    """The plots of one evaluation; each is made only where its axis varies."""
    from flawn.analysis import plots

    written = []
    frame = comparisons_frame(comparisons)
    deltas = frame[frame["kind"] == "delta"]
    if deltas.empty:
        return written
    tasks_level = deltas[deltas["level"] == "task"].copy()
    for key, rows in tasks_level.groupby([c for c in deltas if c.startswith("group.")] or "kind"):
        # p_holm (and the test column) give plot_forest its "significant" and its wording
        name = _slug(
            f"forest-{label}-{'-'.join(map(str, key if isinstance(key, tuple) else (key,)))}"
        )
        written += plots.save_figure(plots.plot_forest(rows), out, name)
    shares = legal_shares(folders)
    if shares:
        column = f"axis.{comparisons[0].condition}"
        by_condition = (
            tasks.assign(legal_share=tasks["run_id"].map(shares))
            .groupby(tasks[column].astype(str))["legal_share"]
            .mean()
        )
        agg = deltas[deltas["level"].isin(["group", "overall"])].copy()
        # the baseline is the point (its share, 0) every line starts from
        base = agg.drop_duplicates(["level", "name"]).assign(
            condition=comparisons[0].baseline, delta=0.0, lo=0.0, hi=0.0
        )
        agg = pd.concat([base, agg], ignore_index=True)
        agg["legal_share"] = agg["condition"].map(by_condition)
        if agg["legal_share"].notna().all() and agg["legal_share"].nunique() > 1:
            written += plots.save_figure(
                plots.plot_delta_vs_share(agg), out, _slug(f"delta-vs-legal-share-{label}")
            )
    scores = frame[(frame["kind"] == "score") & frame["level"].isin(["group", "overall"])]
    if "group.size" in scores and scores["group.size"].nunique() > 1:
        rest = [c for c in scores if c.startswith("group.") and c != "group.size"]
        if not rest or scores[rest].drop_duplicates().shape[0] == 1:
            sizes = sorted(
                scores["group.size"].unique(),
                key=lambda s: SIZE_ORDER.index(s) if s in SIZE_ORDER else len(SIZE_ORDER),
            )
            written += plots.save_figure(
                plots.plot_scaling(scores.rename(columns={"group.size": "size"}), sizes),
                out,
                _slug(f"scaling-{label}"),
            )
    return written


def _contamination_rules(task_rows: pd.DataFrame, reports: Sequence) -> dict:
    """Each suite's rule with the reports' overlapping tasks moved out of its held-out view."""
    if not reports:
        return {}
    from flawn.analysis.rules import rule_for_suite, with_extended_views
    from flawn.quality.report import contaminated_tasks

    tasks = sorted({t for report in reports for t in contaminated_tasks(report)})
    out = {}
    for suite in task_rows["suite"].astype(str).unique():
        rule = rule_for_suite(suite)
        if any(v.complement for v in rule.views):
            out[suite] = with_extended_views(rule, tasks)
    return out


def analyze(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    baseline: str | None = None,
    condition: str | None = None,
    suite: str | None = None,
    mode: str | None = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    plots: bool = True,
    cards: bool = True,
    contamination: Sequence[str | os.PathLike] = (),
    allow_missing: bool = False,
    predict_size: str | None = None,
) -> Analysis:
    """Loads sweeps, compares conditions with the baseline, and writes the report.

    Args:
        sources: Run folders, sweep folders or W&B exports (.csv/.parquet);
            other files (e.g. a sweep's report.md caught by a glob) are ignored.
        out: The output folder.
        baseline: ``VALUE`` of the condition axis or ``AXIS=VALUE``; default:
            the baseline the sweep's manifest declares.
        condition: The condition axis (default: the baseline's axis, or ``mixture``).
        suite: Only this suite.
        mode: Only this scoring mode.
        n_resamples: Bootstrap resamples.
        level: Confidence level.
        seed: Resampling seed.
        plots: Whether to draw the plots.
        cards: Whether to write run cards.
        contamination: Decontamination reports of ``flawn data clean``: the
            benchmark tasks they found overlapping join the LegalBench view of
            tasks the training data has seen, leaving the held-out view.
        allow_missing: Analyse without the runs that lack a current
            evaluation (as ``flawn sweep status`` decides it) and list them in
            the report and the table notes, instead of refusing.
        predict_size: The size whose delta the size extrapolation predicts
            (default: the next size up in flawn's size table); used when a
            condition was measured at two sizes or more.

    Returns:
        The :class:`Analysis`.

    Raises:
        coverage.MissingEvaluations: If a run lacks a current evaluation
            (unless ``allow_missing``) or the baseline has none at all.
    """
    from flawn.analysis import tables
    from flawn.analysis.cards import log_card_to_wandb, run_card

    folders, exports, ignored = split_sources(sources)
    axis, value = parse_baseline(baseline, condition, folders)
    frames = [load_wandb_export(e) for e in exports]
    examples = None
    missing: list[coverage.MissingRun] = []
    if folders:
        try:
            frames.append(load_task_scores(folders, suite, mode))
        except FileNotFoundError as nothing:
            # every run lacks one: say which, and the baseline's first
            missing = coverage.missing_runs(folders, set(), suite, mode)
            coverage.check_missing(missing, axis, value, False, allow_missing)
            raise nothing
        examples = load_examples(folders, suite, mode)
    task_rows = pd.concat(frames, ignore_index=True)
    if suite:
        task_rows = task_rows[task_rows["suite"] == suite]
    if mode:
        task_rows = task_rows[task_rows["mode"] == mode]
    if folders:
        missing = coverage.missing_runs(folders, set(task_rows["run_id"].astype(str)), suite, mode)
        current = task_rows[~task_rows["run_id"].astype(str).isin({m.run_id for m in missing})]
        coverage.check_missing(
            missing, axis, value, _has_value(current, axis, value), allow_missing
        )
    rules = _contamination_rules(task_rows, contamination)
    comparisons = compare(task_rows, examples, axis, value, n_resamples, level, seed, rules)
    for comparison in comparisons:
        present = set(task_rows.loc[task_rows["eval_key"] == comparison.eval_key, "run_id"])
        mine = [m for m in missing if m.concerns(comparison.suite) and m.run_id not in present]
        if mine:
            comparison.notes.append(
                f"left out for want of a current evaluation: {len(mine)} run(s) "
                f"({coverage.named(mine)}; see the report)"
            )
    out = pathlib.Path(out)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    files: dict[str, list[pathlib.Path]] = {"tables": [], "plots": [], "cards": [], "data": []}
    sections, printed = [], []
    for key, group in _by_evaluation(comparisons).items():
        label = _slug(f"{group[0].suite}.{group[0].mode}.{key}")
        markdown = tables.markdown_table(group)
        printed.append(f"{group[0].suite} · {group[0].mode}\n\n{markdown}")
        (out / "tables" / f"{label}.md").write_text(markdown + "\n", encoding="utf-8")
        (out / "tables" / f"{label}.tex").write_text(
            tables.latex_table(group, label=f"tab:{label}"), encoding="utf-8"
        )
        files["tables"] += [out / "tables" / f"{label}.md", out / "tables" / f"{label}.tex"]
        body = [markdown]
        for comparison in group:
            body += [f"Per task, {comparison.title}:", "", tables.task_table(comparison)]
        if plots and folders:
            written = _plots(
                group, task_rows[task_rows["eval_key"] == key], folders, out / "plots", label
            )
            files["plots"] += written
            body += [f"![{p.stem}](plots/{p.name})" for p in written if p.suffix == ".png"]
        sections.append((f"{group[0].suite} · {group[0].mode}", "\n\n".join(body)))
    from flawn.analysis.extrapolation import extrapolate

    counted = _size_parameters(folders)
    extrapolation = extrapolate(comparisons, predict_size, counted)
    if len(extrapolation):
        body, written = _extrapolation_section(
            comparisons, extrapolation, out, counted, plots, printed
        )
        files["plots"] += written
        files["tables"].append(out / "tables" / "extrapolation.md")
        sections.append(("Size extrapolation", body))
    if plots and folders:
        from flawn.analysis import curves
        from flawn.analysis import plots as plotting

        try:
            loss = curves.load_curves(folders, metrics=["loss"])
        except FileNotFoundError:
            loss = None
        if loss is not None and len(loss):
            written = plotting.save_figure(
                plotting.plot_training_curves(loss), out / "plots", "training-loss"
            )
            files["plots"] += written
            sections.append(("Training curves", "![training loss](plots/training-loss.png)"))
    if missing:
        sections.append(("Runs without a current evaluation", _missing_table(missing)))
    if ignored:
        sections.append(("Ignored inputs", "Not run folders or W&B exports: " + ", ".join(ignored)))
    comparisons_frame(comparisons).to_parquet(out / "comparisons.parquet", index=False)
    task_rows.drop(columns=["axes"], errors="ignore").astype({"eval_settings": str}).to_parquet(
        out / "tasks.parquet", index=False
    )
    files["data"] += [out / "comparisons.parquet", out / "tasks.parquet"]
    if len(extrapolation):
        extrapolation.to_parquet(out / "extrapolation.parquet", index=False)
        files["data"].append(out / "extrapolation.parquet")
    if examples is not None:
        examples.to_parquet(out / "examples.parquet", index=False)
        files["data"].append(out / "examples.parquet")
    if cards and folders:
        (out / "cards").mkdir(exist_ok=True)
        for folder in run_folders(folders):
            if not (folder / "spec.json").exists():
                continue
            run_id = json.loads((folder / "spec.json").read_text(encoding="utf-8"))["run_id"]
            mine_tasks = task_rows[task_rows["run_id"] == run_id]
            mine_examples = examples[examples["run_id"] == run_id] if examples is not None else None
            path = out / "cards" / f"{run_id}.md"
            path.write_text(
                run_card(folder, mine_tasks, mine_examples, n_resamples), encoding="utf-8"
            )
            log_card_to_wandb(folder, path)
            files["cards"].append(path)
    from flawn.analysis.report import write_report

    report = write_report(out / "report.md", "Analysis", sections)
    files["report"] = [report]
    return Analysis(
        comparisons, task_rows, examples, files, "\n\n".join(printed), missing, extrapolation
    )


def _size_parameters(folders: Sequence[str]) -> dict[str, int]:
    """Parameters per size: as the runs' spec.json record them, else from the size table."""
    from flawn.analysis.extrapolation import count_sizes, parameters_by_size

    parameters, rows = parameters_by_size(folders) if folders else ({}, None)
    return count_sizes(parameters, rows)


def _extrapolation_section(comparisons, frame, out, counted, plots, printed):
    """The report's "Size extrapolation" section: per evaluation a table and a plot."""
    from flawn.analysis import extrapolation
    from flawn.analysis import plots as plotting

    parts = [
        "Per condition and level, a line Δ = a + b·log10(parameters) weighted by each size's "
        "measurement noise (from its bootstrap interval), widened when the sizes scatter around "
        "it more than noise explains (misfit > 1: the ratio); the interval is a prediction "
        "interval for the Δ that running the target size would measure. Notes say when the "
        "trend is not identifiable. Method and its simulated coverage: "
        "docs/size_extrapolation.md."
    ]
    written = []
    tables = []
    by_key = {c.eval_key: c for c in comparisons}
    for (key, group), rows in frame.groupby(["eval_key", "group"], sort=False):
        first = by_key[key]
        label = _slug(f"{first.suite}.{first.mode}.{key}")
        table = extrapolation.markdown_table(rows)
        title = f"{first.suite} · {first.mode}" + (f" · {group}" if group else "")
        tables.append(f"{title}\n\n{table}")
        parts += [f"**{title}**", table]
        if plots:
            points = extrapolation.size_deltas(
                [c for c in comparisons if c.eval_key == key], extrapolation.LEVELS
            )
            points = points[points["group"] == group]
            points = points.assign(parameters=points["size"].map(counted))
            name = _slug(f"extrapolation-{label}-{group}")
            png = plotting.save_figure(
                plotting.plot_extrapolation(points, rows, first.level), out / "plots", name
            )
            written += png
            parts.append(f"![{name}](plots/{png[0].name})")
    (out / "tables" / "extrapolation.md").write_text("\n\n".join(tables) + "\n", encoding="utf-8")
    printed.append("Size extrapolation\n\n" + "\n\n".join(tables))
    return "\n\n".join(parts), written


def _has_value(rows: pd.DataFrame, axis: str, value: Any) -> bool:
    """Whether some row has ``value`` on the condition axis."""
    for column in (f"axis.{axis}", axis):
        if column in rows.columns:
            return bool((rows[column].astype(str) == str(value)).any())
    return False


def _missing_table(missing: Sequence[coverage.MissingRun]) -> str:
    """The runs left out, as Markdown (``--allow-missing``)."""
    lines = [
        "Analysed without these runs (`--allow-missing`): the evaluations their sweep asks "
        "for are not in the tables above (an older evaluation, made with other settings, "
        "appears only in the table of those settings). `flawn sweep status` shows the same.",
        "",
        "| run id | run | status | requested evaluations finished | folder |",
        "|---|---|---|---|---|",
    ]
    for m in missing:
        done = "none found" if m.requested is None else f"{m.done}/{m.requested}"
        lines.append(f"| `{m.run_id}` | {m.name} | {m.status} | {done} | `{m.folder}` |")
    return "\n".join(lines)
