"""The sweep report: the analysis tables of a sweep, its evaluation protocol and every run's status.

`flawn sweep launch` (and `flawn demo`) end by analysing the sweep's finished
evaluations (:func:`flawn.analysis.analyze.analyze`, output in
``<sweep>/analysis/``), printing the tables with their intervals, and writing
``<sweep>/report.md``, which adds the protocol and the run table.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from typing import Any

from flawn.analysis.analyze import Analysis, analyze
from flawn.analysis.coverage import MissingEvaluations
from flawn.analysis.report import write_report
from flawn.runs.manifest import Manifest


def analyze_sweep(
    run_dirs: Sequence[os.PathLike], condition: str, baseline: Any, out: os.PathLike
) -> Analysis | None:
    """Analyses a sweep's finished evaluations; None while the baseline has none.

    Runs without a current evaluation (failed ones, say) are left out and
    listed in the analysis; the sweep report's run table says why.
    """
    try:
        return analyze(list(run_dirs), out, baseline=f"{condition}={baseline}", allow_missing=True)
    except (FileNotFoundError, KeyError, MissingEvaluations):
        return None


def write_sweep_report(
    sweep_dir: os.PathLike,
    sweep_name: str,
    analysis: Analysis | None,
    manifest: Manifest,
) -> os.PathLike:
    """Writes ``<sweep>/report.md``: the tables, the evaluation protocol, and every run's status."""
    from flawn.evals.legalbench.prompts import truncation_policy
    from flawn.evals.legalbench.table import MANUAL_NOTE

    sweep_dir = pathlib.Path(sweep_dir)
    sections = []
    if analysis is None:
        sections.append(("Results", "No run of the baseline has finished an evaluation yet."))
    else:
        sections.append(("Results", analysis.markdown))
        report = analysis.files["report"][0]
        sections.append(
            (
                "Analysis",
                f"Per-task deltas with tests, plots and run cards: "
                f"[{os.path.relpath(report, sweep_dir)}]({os.path.relpath(report, sweep_dir)})",
            )
        )
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
    return write_report(sweep_dir / "report.md", f"Sweep `{sweep_name}`", sections)
