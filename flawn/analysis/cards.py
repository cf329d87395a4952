"""Run cards: one Markdown page per run saying what was trained on what, and how it scored.

A card collects what is spread over a run folder: identity and sweep axes,
the regime's stages (mixture, steps, start, schedule), each stage's resolved
mixture and data plan, the examples really drawn per source, bad-record
counts where the readers wrote them, the data fingerprint and config hash,
and the run's scores per evaluation with bootstrap intervals, aggregated by
the benchmark's rule. It is written beside the analysis output and, when the
run has W&B files, logged to W&B as a ``run_card`` artifact of the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from typing import Any

import numpy as np
import pandas as pd

from flawn.analysis import stats
from flawn.analysis.compare import ExampleValues, bootstrap_official, level_weights, task_matrices
from flawn.analysis.rules import rule_for_suite
from flawn.analysis.tables import DAGGER, DEGENERATE_NOTE

#: Per-stage file where the data readers record read / kept / skipped counts per file.
BAD_RECORDS_FILE = "bad_records.json"


def _json(path: pathlib.Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def run_scores(
    tasks: pd.DataFrame, examples: pd.DataFrame | None, n_resamples: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """One run's scores per evaluation and (level, name), with bootstrap intervals.

    Args:
        tasks: The run's per-task rows.
        examples: The run's per-example rows (None: no intervals).
        n_resamples: Bootstrap resamples.
        seed: Seed of the resampling.

    Returns:
        Columns suite, mode, level, name, score, lo, hi (on the rule's scale)
        and degenerate (a zero-width interval, see
        :func:`flawn.analysis.stats.zero_width`).
    """
    out = []
    for (suite, mode), rows in tasks.groupby(["suite", "mode"], sort=False, observed=True):
        rule = rule_for_suite(str(suite))
        official = rows.drop_duplicates("task").set_index("task")
        scored = rule.scored_tasks(official.index)
        levels, mapping = level_weights(rule, scored)
        scores = official.loc[scored, "score"].to_numpy(dtype=float)
        point = mapping @ scores
        lo = hi = np.full(len(levels), np.nan)
        mine = None
        if examples is not None:
            mine = examples[(examples["suite"] == suite) & (examples["mode"] == mode)]
        if mine is not None and len(mine):
            metric_of = {t: str(official.loc[t, "metric"]) for t in scored}
            matrices = task_matrices(
                ExampleValues(mine, [str(rows["run_id"].iloc[0])]), scored, metric_of
            )
            if matrices is not None:
                boot, _ = bootstrap_official(matrices, scores[:, None], n_resamples, seed)
                lo, hi = stats.percentile_interval(boot[:, :, 0] @ mapping.T)
        for i, (level, name) in enumerate(levels):
            out.append(
                {
                    "suite": suite,
                    "mode": mode,
                    "level": level,
                    "name": name,
                    "score": point[i] * rule.scale,
                    "lo": lo[i] * rule.scale,
                    "hi": hi[i] * rule.scale,
                    "degenerate": bool(stats.zero_width(lo[i], hi[i])),
                }
            )
    return pd.DataFrame(out)


def _fmt(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.1f}"


def run_card(
    run_dir: str | os.PathLike,
    tasks: pd.DataFrame | None = None,
    examples: pd.DataFrame | None = None,
    n_resamples: int = 1000,
) -> str:
    """The Markdown card of one run folder.

    Args:
        run_dir: The run folder (with ``spec.json``).
        tasks: Its per-task rows (loaded from the folder when None).
        examples: Its per-example rows (loaded from the folder when None).
        n_resamples: Bootstrap resamples of its intervals.

    Raises:
        FileNotFoundError: If the folder has no ``spec.json``.
    """
    from flawn.analysis.loading import load_examples, load_task_scores

    run_dir = pathlib.Path(run_dir)
    spec = _json(run_dir / "spec.json")
    if spec is None:
        raise FileNotFoundError(f"{run_dir} has no spec.json: not a run folder")
    status = _json(run_dir / "run.json") or {}
    lines = [f"# Run card: `{spec.get('name', run_dir.name)}`", ""]
    lines += [
        "| field | value |",
        "|---|---|",
        f"| run id (hash of the resolved spec) | `{spec.get('run_id')}` |",
        f"| sweep | {spec.get('sweep') or '(none)'} |",
        *(f"| axis `{k}` | {v} |" for k, v in spec.get("axes", {}).items()),
        f"| backend | {spec.get('backend')} |",
        f"| status | {status.get('status', 'unknown')} (attempts: {status.get('attempts', 0)}) |",
        f"| data fingerprint (source files and counts) | `{_digest(spec.get('data'))}` |",
        f"| config hash (every stage's resolved gin) | "
        f"`{_digest([s.get('gin') for s in spec.get('stages', [])])}` |",
        f"| model | {json.dumps(spec.get('model', {}))} |",
        "",
        "## Regime stages",
        "",
        "| stage | mixture | steps | starts from | schedule |",
        "|---|---|---|---|---|",
    ]
    for stage in spec.get("stages", []):
        lines.append(
            f"| {stage.get('name')} | {stage.get('mixture')} | {stage.get('steps')} | "
            f"{stage.get('init', '')} | {stage.get('schedule', '')} |"
        )
    for stage in spec.get("stages", []):
        folder = run_dir / "stages" / stage.get("name", "")
        lines += ["", f"## Stage `{stage.get('name')}`: mixture, plan and realised counts", ""]
        plan = _json(folder / "plan.json") or {}
        counts = (_json(folder / "data_counts.json") or {}).get("sources", {})
        declared = spec.get("data", {}).get(stage.get("mixture"), {}).get("declared", {})
        for name, parts in declared.items():
            described = ", ".join(f"{source} ({rate})" for source, rate in parts)
            lines.append(f"- `{name}` = {described}")
        lines += [
            "",
            "| source | planned share | examples | epochs | drawn | drawn share |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in plan.get("rows", []):
            drawn = counts.get(row["source"], {})
            lines.append(
                f"| {row['source']} | {row.get('share', 0):.4f} | {row.get('num_examples', '')} "
                f"| {row.get('epochs', 0):.2f} | {drawn.get('drawn', 'n/a')} | "
                f"{drawn.get('drawn_share', float('nan')):.4f} |"
            )
        if not plan:
            lines.append("| (no plan.json: the stage has not started) | | | | | |")
        bad = _json(folder / BAD_RECORDS_FILE)
        if bad and "files" in bad:  # {"policy": ..., "files": {...}}
            lines += ["", f"Bad-record policy: `{bad.get('policy')}`."]
            bad = bad["files"]
        lines.append("")
        if bad:
            lines += ["| file | read | kept | skipped (by reason) |", "|---|---:|---:|---|"]
            for file, c in bad.items():
                skipped = ", ".join(f"{r}: {n}" for r, n in c.get("skipped", {}).items()) or "0"
                lines.append(f"| {file} | {c.get('read')} | {c.get('kept')} | {skipped} |")
        else:
            lines.append(f"Bad records: no `{BAD_RECORDS_FILE}` in this stage's folder.")
    lines += ["", "## Scores", ""]
    try:
        tasks = load_task_scores([run_dir]) if tasks is None else tasks
        examples = load_examples([run_dir]) if examples is None else examples
    except FileNotFoundError:
        tasks = None
    if tasks is None or tasks.empty:
        lines.append("No finished evaluation.")
    else:
        table = run_scores(tasks, examples, n_resamples)
        for (suite, mode), rows in table.groupby(["suite", "mode"], sort=False):
            rule = rule_for_suite(str(suite))
            lines += [f"### {suite} · {mode}", "", "| level | name | score | 95% interval |"]
            lines.append("|---|---|---:|---|")
            for r in rows.itertuples(index=False):
                flat = DAGGER if r.degenerate else ""
                lines.append(
                    f"| {r.level} | {r.name} | {_fmt(r.score)} | "
                    f"[{_fmt(r.lo)}, {_fmt(r.hi)}]{flat} |"
                )
            lines += ["", rule.describe()]
            if rows["degenerate"].any():
                lines.append(DEGENERATE_NOTE)
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def log_card_to_wandb(run_dir: str | os.PathLike, card_path: str | os.PathLike) -> str | None:
    """Logs a card to the run's W&B files as a ``run_card`` artifact (offline without an account).

    Returns:
        The W&B folder written to, or None when the run has no W&B files, W&B
        is disabled (``WANDB_MODE=disabled``), or this card was logged before.
    """
    from flawn.train.tracking import RunTracker

    run_dir = pathlib.Path(run_dir)
    spec = _json(run_dir / "spec.json") or {}
    if not (run_dir / "wandb").is_dir() or os.environ.get("WANDB_MODE") == "disabled":
        return None
    # Re-analysing a sweep logs a card again only when it changed (each logging is a W&B run).
    marker = run_dir / "wandb" / f".run-card-{_digest(pathlib.Path(card_path).read_text())}"
    if marker.exists():
        return None
    tracker = RunTracker(
        os.fspath(run_dir),
        f"{spec.get('name', run_dir.name)} card",
        {"run_id": spec.get("run_id"), **{f"axis.{k}": v for k, v in spec.get("axes", {}).items()}},
        group=spec.get("sweep") or None,
        job_type="card",
        run_id=f"{spec.get('run_id', run_dir.name)}-card",
        wandb_dir=os.fspath(run_dir),
        metrics_file=None,
    )
    try:
        logged = tracker.log_file("run_card", "run_card", card_path)
    finally:
        tracker.close()
    marker.touch()
    return logged
