"""Aggregating evaluation rows into tables, deltas with intervals, plots and run cards.

Everything here is a pure function of the tidy rows in ``flawn.results``;
importing this package does not import TensorFlow or JAX, so notebooks and
table scripts stay light.

The public API, in the order a notebook uses it:

* :func:`load_task_scores`, :func:`load_examples`, :func:`load_wandb_export`,
  :func:`load_curves`: tidy frames from sweeps;
* :func:`rule_for_suite`: a benchmark's aggregation rule (data in
  ``flawn/evals/<benchmark>/aggregation.toml``);
* :func:`compare`: deltas against a baseline with paired bootstrap intervals,
  McNemar / Wilcoxon tests and Holm / BH corrections;
* :func:`markdown_table`, :func:`latex_table`, :func:`task_table`: paper tables;
* :mod:`flawn.analysis.plots`: figures; :func:`run_card`: a run's card;
* :func:`extrapolate`: a condition's delta against log10(parameters) across
  sizes, predicted at the next size (:mod:`flawn.analysis.extrapolation`);
* :func:`analyze`: all of it into a report folder (``flawn analyze``).
"""

from flawn.analysis.analyze import analyze, comparisons_frame, declared_baseline
from flawn.analysis.cards import run_card
from flawn.analysis.compare import Comparison, compare
from flawn.analysis.curves import load_curves
from flawn.analysis.deltas import delta_table, score_table
from flawn.analysis.extrapolation import extrapolate
from flawn.analysis.loading import load_examples, load_task_scores, load_wandb_export
from flawn.analysis.report import format_table, write_report
from flawn.analysis.rules import rule_for_suite
from flawn.analysis.tables import latex_table, markdown_table, task_table

__all__ = [
    "Comparison",
    "analyze",
    "compare",
    "comparisons_frame",
    "declared_baseline",
    "delta_table",
    "extrapolate",
    "format_table",
    "latex_table",
    "load_curves",
    "load_examples",
    "load_task_scores",
    "load_wandb_export",
    "markdown_table",
    "rule_for_suite",
    "run_card",
    "score_table",
    "task_table",
    "write_report",
]
