"""Figures of deltas, scaling and training curves, from tidy frames.

Every function returns a :class:`matplotlib.figure.Figure`; :func:`save_figure`
writes it as PNG and PDF. Figures are made without pyplot, on the Agg canvas,
so nothing here touches matplotlib's global backend or figure registry (safe
in scripts, tests and notebooks alike). This module imports neither TensorFlow
nor JAX.
"""

from __future__ import annotations

import os
import pathlib
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from flawn.analysis import stats
from flawn.analysis.curves import stage_boundaries

#: Resolution of the PNG files written by :func:`save_figure`.
PNG_DPI = 150
#: Label of the row averaging all tasks, in delta and score frames.
OVERALL = "overall"
#: Inches per task row of a forest plot, and the tallest forest plot (160 tasks fit).
_FOREST_ROW_INCHES = 0.17
_FOREST_MAX_INCHES = 30.0
#: Inches added below a forest plot for its legend (which names the test and correction).
_FOREST_LEGEND_INCHES = 0.9


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # Agg explicitly: no pyplot, no global backend state
    return fig


def _require(frame: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}; has {list(frame.columns)}")


def _check_unique(frame: pd.DataFrame, keys: list[str], where: str) -> None:
    # One point per key: averaging seeds (and their intervals) is the caller's decision.
    if frame.duplicated(keys).any():
        raise ValueError(f"{where}: several rows per {keys}; aggregate them (e.g. seeds) first")


def _error(frame: pd.DataFrame, value: str) -> np.ndarray | None:
    """Error bar lengths below and above ``value`` from ``lo``/``hi``, if present."""
    if not {"lo", "hi"} <= set(frame.columns):
        return None
    return np.vstack([frame[value] - frame["lo"], frame["hi"] - frame[value]]).astype(float)


def _baseline(frame: pd.DataFrame) -> str:
    if "baseline" not in frame.columns:
        return "baseline"
    return ", ".join(map(str, dict.fromkeys(frame["baseline"].dropna())))


def _levels_and_colors(frame: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """Panel names (overall first, then as given) and one colour per condition."""
    names = list(dict.fromkeys(frame["name"]))
    names.sort(key=lambda n: n != OVERALL)  # stable
    colors = {c: f"C{i}" for i, c in enumerate(dict.fromkeys(frame["condition"]))}
    return names, colors


def _panel_grid(
    n: int, max_cols: int, panel: tuple[float, float], margin: tuple[float, float]
) -> tuple[Figure, np.ndarray, int]:
    """A figure of ``n`` panels sharing y, at most ``max_cols`` a row; unused cells removed.

    Returns:
        The figure, its axes (row by row) and the number of columns.
    """
    cols = min(n, max_cols)
    rows = -(-n // cols)
    fig = _figure(panel[0] * cols + margin[0], panel[1] * rows + margin[1])
    axes = fig.subplots(rows, cols, sharey=True, squeeze=False).ravel()
    for ax in axes[n:]:
        fig.delaxes(ax)
    return fig, axes, cols


def save_figure(fig: Figure, out_dir: str | os.PathLike, name: str) -> list[pathlib.Path]:
    """Writes ``<name>.png`` (150 dpi) and ``<name>.pdf`` into ``out_dir`` (made if needed).

    Returns:
        The two paths, PNG first.
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png, pdf = out / f"{name}.png", out / f"{name}.pdf"
    fig.savefig(png, dpi=PNG_DPI)
    # No creation date: the same figure gives the same PDF bytes.
    fig.savefig(pdf, metadata={"CreationDate": None})
    return [png, pdf]


def plot_delta_vs_share(deltas: pd.DataFrame, share_column: str = "legal_share") -> Figure:
    """Δ vs baseline against the legal share of the mixture, per category and overall.

    Args:
        deltas: Columns ``level`` (``group`` or ``overall``), ``name``
            (category, or ``overall``), ``condition``, ``delta``, ``lo``, ``hi``
            and ``share_column`` (0-1 per condition); optional ``baseline``.
        share_column: The column holding each condition's legal share.

    Returns:
        One line with error bars per category, and a thicker one overall.
    """
    _require(deltas, ["level", "name", "condition", "delta", "lo", "hi", share_column], "deltas")
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    ax.axhline(0, color="grey", linewidth=0.8)
    groups = deltas[deltas["level"] == "group"]
    for i, (name, rows) in enumerate(groups.groupby("name", sort=False)):
        _share_line(ax, rows, share_column, label=str(name), color=f"C{i}", linewidth=1.2)
    overall = deltas[deltas["level"] == "overall"]
    if not overall.empty:
        _share_line(ax, overall, share_column, label=OVERALL, color="black", linewidth=2.8)
    baseline = _baseline(deltas)
    ax.set_xlabel("legal share of the mixture (%)")
    ax.set_ylabel(f"Δ score vs {baseline}")
    ax.set_title(f"Score difference to {baseline} by legal share")
    ax.legend(fontsize="small")
    return fig


def _share_line(ax, rows: pd.DataFrame, share_column: str, **style) -> None:
    rows = rows.sort_values(share_column)
    ax.errorbar(
        rows[share_column] * 100,
        rows["delta"],
        yerr=_error(rows, "delta"),
        marker="o",
        markersize=4,
        capsize=3,
        **style,
    )


def plot_scaling(scores: pd.DataFrame, size_order: Sequence[str]) -> Figure:
    """Score against model size, one line per condition, one panel per category.

    Args:
        scores: Columns ``size``, ``condition``, ``name`` (category, or
            ``overall``) and ``score``; optional ``lo`` and ``hi``. One row
            per (name, condition, size).
        size_order: The sizes, smallest first; the x axis, evenly spaced.

    Returns:
        Small multiples sharing the y axis, ``overall`` first.

    Raises:
        ValueError: If a size is not in ``size_order`` or a point has several rows.
    """
    _require(scores, ["size", "condition", "name", "score"], "scores")
    _check_unique(scores, ["name", "condition", "size"], "scores")
    position = {size: i for i, size in enumerate(size_order)}
    unknown = sorted(set(scores["size"]) - set(position), key=str)
    if unknown:
        raise ValueError(f"scores: size(s) {unknown} not in size_order {list(size_order)}")
    names, colors = _levels_and_colors(scores)
    fig, axes, cols = _panel_grid(len(names), max_cols=4, panel=(3.2, 2.8), margin=(0.8, 0.6))
    for ax, name in zip(axes, names, strict=False):
        panel = scores[scores["name"] == name]
        for condition, points in panel.groupby("condition", sort=False):
            points = points.assign(x=points["size"].map(position)).sort_values("x")
            ax.errorbar(
                points["x"],
                points["score"],
                yerr=_error(points, "score"),
                marker="o",
                markersize=4,
                capsize=3,
                color=colors[condition],
                label=str(condition),
            )
        ax.set_xticks(range(len(size_order)), [str(s) for s in size_order])
        ax.set_title(str(name))
        ax.set_xlabel("model size")
    for ax in axes[: len(names) : cols]:
        ax.set_ylabel("score")
    axes[0].legend(fontsize="small")
    fig.suptitle("Score by model size")
    return fig


def plot_forest(
    deltas: pd.DataFrame,
    significance: str | None = None,
    method: str = "holm",
    alpha: float = stats.SIGNIFICANCE_LEVEL,
) -> Figure:
    """Per-task Δ with intervals, tasks as rows sorted by Δ, one panel per condition.

    Args:
        deltas: Columns ``name`` (task), ``delta``, ``lo``, ``hi``; optional
            ``condition`` and ``baseline``; for significance either
            ``p_<method>`` (adjusted p-values, e.g. ``p_holm`` of
            :func:`flawn.analysis.compare.compare`) with optional ``test``, or
            a boolean ``significant`` column with ``significance`` saying what
            it means. One row per (condition, task).
        significance: What ``significant`` means (test and correction); with
            ``p_<method>`` it is :func:`flawn.analysis.stats.significance_rule`
            of the ``test`` column.
        method: The correction whose adjusted p-values decide significance.
        alpha: The significance level.

    Returns:
        Rows ordered by the mean Δ over conditions (largest on top), the same
        in every panel, and a shared x axis, so panels compare; significant
        tasks in red, the others hollow grey. The legend, titled with the test
        and correction, sits below the panels, clear of every row.

    Raises:
        ValueError: On a ``significant`` column without ``significance``.
    """
    _require(deltas, ["name", "delta", "lo", "hi"], "deltas")
    if "condition" not in deltas.columns:
        deltas = deltas.assign(condition="Δ per task")
    _check_unique(deltas, ["condition", "name"], "deltas")
    adjusted = f"p_{method}"
    if "significant" in deltas.columns:
        if not significance:
            raise ValueError(
                "deltas: a 'significant' column needs significance='...' naming the test and "
                "the correction (flawn.analysis.stats.significance_rule), or give the adjusted "
                f"p-values ({adjusted!r}) and leave 'significant' out"
            )
    elif adjusted in deltas.columns:
        deltas = deltas.assign(significant=deltas[adjusted] < alpha)
        tests = deltas["test"] if "test" in deltas.columns else ()
        significance = significance or stats.significance_rule(tests, method, alpha)
    order = deltas.groupby("name", sort=False)["delta"].mean().sort_values(kind="stable")
    row = {name: i for i, name in enumerate(order.index)}
    conditions = list(dict.fromkeys(deltas["condition"]))
    height = min(_FOREST_MAX_INCHES, max(2.5, 1.2 + _FOREST_ROW_INCHES * len(row)))
    width = 1.5 + 3.5 * len(conditions)
    legend = "significant" in deltas.columns
    fig = _figure(width, height + (_FOREST_LEGEND_INCHES if legend else 0.0))
    axes = fig.subplots(1, len(conditions), sharex=True, sharey=True, squeeze=False).ravel()
    for ax, condition in zip(axes, conditions, strict=True):
        panel = deltas[deltas["condition"] == condition]
        if not legend:
            _forest_points(ax, panel, row, color="C0", label=None)
        else:
            significant = panel["significant"].eq(True)
            _forest_points(ax, panel[significant], row, color="C3", label="significant")
            _forest_points(ax, panel[~significant], row, color="grey", label="not significant")
        ax.axvline(0, color="black", linestyle="--", linewidth=0.8)
        ax.set_title(str(condition))
        ax.set_xlabel(f"Δ vs {_baseline(deltas)}")
    axes[0].set_yticks(range(len(row)), [str(n) for n in row])
    axes[0].tick_params(axis="y", labelsize=8 if len(row) <= 60 else 6)
    axes[0].set_ylim(-0.7, len(row) - 0.3)
    if legend:
        # One legend for all panels, outside them (constrained layout keeps room for it),
        # so it never covers a row; its title says what "significant" means.
        entries = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                entries.setdefault(label, handle)
        fig.legend(
            entries.values(),
            entries.keys(),
            loc="outside lower center",
            ncols=2,
            fontsize="small",
            title=textwrap.fill(significance, max(40, int(width * 12))),
            title_fontsize="small",
        )
    fig.suptitle(f"Per-task Δ vs {_baseline(deltas)} ({len(row)} tasks)")
    return fig


def _forest_points(ax, rows: pd.DataFrame, row: dict, color: str, label: str | None) -> None:
    if rows.empty:
        return
    ax.errorbar(
        rows["delta"],
        rows["name"].map(row),
        xerr=_error(rows, "delta"),
        fmt="o",
        markersize=3.5,
        color=color,
        # Hollow markers for the tasks whose difference is not significant.
        markerfacecolor="white" if label == "not significant" else color,
        elinewidth=1,
        label=label,
    )


def plot_training_curves(
    curves: pd.DataFrame, metric: str = "loss", by: str = "run_name"
) -> Figure:
    """One metric against the global step, one line per run.

    Args:
        curves: A :func:`flawn.analysis.curves.load_curves` frame.
        metric: The metric to plot, e.g. ``loss`` or ``eval/sample/mean``.
        by: The column naming and coloring the lines; runs that share a
            value (e.g. seeds, with ``by="axis.mixture"``) share a color and
            a legend entry.

    Returns:
        The curves, with dashed vertical lines where later stages start.

    Raises:
        ValueError: If no row has ``metric``, listing the metrics there are.
    """
    needed = ["run_id", "global_step", "step", "stage_index", "metric", "value", by]
    _require(curves, needed, "curves")
    rows = curves[curves["metric"] == metric]
    if rows.empty:
        found = sorted(set(curves["metric"]))
        raise ValueError(f"curves: no metric {metric!r}; found {found}")
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    for i, (key, group) in enumerate(rows.groupby(by, sort=False)):
        for j, (_, run) in enumerate(group.groupby("run_id", sort=False)):
            run = run.sort_values("global_step")
            label = str(key) if j == 0 else f"_{key}"  # one legend entry per value of `by`
            ax.plot(run["global_step"], run["value"], color=f"C{i}", linewidth=1.2, label=label)
    for boundary in stage_boundaries(rows):
        ax.axvline(boundary, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("step (all stages)")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} during training")
    ax.legend(fontsize="small", title=by)
    return fig


def plot_extrapolation(points: pd.DataFrame, fits: pd.DataFrame, level: float = 0.95) -> Figure:
    """Δ against parameters (log axis) per category, the fitted line and the predicted size.

    Args:
        points: Measured deltas: ``condition``, ``name``, ``parameters``,
            ``delta``, ``lo``, ``hi``; optional ``size`` (labels the points).
        fits: Rows of :func:`flawn.analysis.extrapolation.extrapolate` for the
            same conditions and names: ``slope``, ``intercept``, ``target``,
            ``target_parameters``, ``predicted``, ``lo``, ``hi``, ``identifiable``.
        level: The prediction intervals' level (for the title).

    Returns:
        One panel per name (``overall`` first), one color per condition:
        measured deltas with their intervals, the weighted line in
        log10(parameters) and the predicted delta at the target as an open
        diamond with its prediction interval (dashed when not identifiable).
    """
    _require(points, ["condition", "name", "parameters", "delta", "lo", "hi"], "points")
    _require(fits, ["condition", "name", "slope", "intercept", "target_parameters"], "fits")
    names, colors = _levels_and_colors(points)
    fig, axes, cols = _panel_grid(len(names), max_cols=3, panel=(3.6, 3.0), margin=(0.6, 0.8))
    for ax, name in zip(axes, names, strict=False):
        ax.axhline(0, color="grey", linewidth=0.8)
        for condition, measured in points[points["name"] == name].groupby("condition", sort=False):
            color = colors[condition]
            measured = measured.sort_values("parameters")
            ax.errorbar(
                measured["parameters"],
                measured["delta"],
                yerr=_error(measured, "delta"),
                fmt="o",
                markersize=4,
                capsize=3,
                color=color,
                label=str(condition),
            )
            fit = fits[(fits["condition"] == condition) & (fits["name"] == name)]
            if fit.empty or not np.isfinite(fit["slope"].iloc[0]):
                continue
            fit = fit.iloc[0]
            right = fit["target_parameters"] if np.isfinite(fit["target_parameters"]) else None
            span = np.log10([measured["parameters"].min(), right or measured["parameters"].max()])
            grid = np.logspace(span[0], span[1], 50)
            ax.plot(
                grid,
                fit["intercept"] + fit["slope"] * np.log10(grid),
                color=color,
                linewidth=1.2,
                linestyle="-" if fit.get("identifiable", True) else ":",
            )
            if right is not None and np.isfinite(fit.get("predicted", np.nan)):
                ax.errorbar(
                    [right],
                    [fit["predicted"]],
                    yerr=_error(fit.to_frame().T, "predicted"),
                    fmt="D",
                    markersize=7,
                    markerfacecolor="white",
                    capsize=4,
                    color=color,
                    linestyle="none",
                )
                ax.annotate(
                    f"{fit['target']} (predicted)",
                    (right, fit["predicted"]),
                    textcoords="offset points",
                    xytext=(-8, 8),
                    fontsize="x-small",
                    ha="right",
                    color=color,
                )
        ax.set_xscale("log")
        ax.set_title(str(name))
        ax.set_xlabel("parameters")
    for ax in axes[: len(names) : cols]:
        ax.set_ylabel("Δ score vs baseline")
    axes[0].legend(fontsize="small")
    fig.suptitle(
        "Δ by model size: weighted line in log parameters; "
        f"◇ = predicted, with its {level:.0%} prediction interval"
    )
    return fig
