"""Size extrapolation: a condition's delta against log10(parameters), and the next size's delta.

From runs of the same condition against the same baseline on the same
evaluation at several model sizes (comparisons whose groups differ only in
``size``), each level of the benchmark's rule (overall, each category, each
view) gets a line ``delta = a + b * log10(parameters)`` and a prediction of the
delta at a larger size, with a prediction interval.

The model and why:

* Each measured delta ``y_i`` has a measurement variance ``s_i**2`` read off
  its bootstrap interval, ``s_i = (hi - lo) / (2 z)``; the line is fitted by
  weighted least squares with weights ``1 / s_i**2``.
* Real deltas do not sit on a straight line in log parameters: sizes deviate
  from it (different pretraining, a regime that suits one size). That misfit
  is estimated from the residuals where there is any degree of freedom
  (``k >= 3`` sizes): the dispersion ``phi = max(1, Q / (k - 2))``, with ``Q``
  the weighted residual sum of squares, multiplies every variance (an
  inflated residual scale, i.e. misfit proportional to measurement noise).
  When ``phi > 1`` the interval uses Student's t with ``k - 2`` degrees of
  freedom, because ``phi`` is then an estimate from ``k - 2`` residual
  contrasts; when residuals are no larger than measurement noise, the known
  measurement variance is used with the normal quantile. A
  DerSimonian-Laird between-size variance with a normal quantile was the
  alternative: with the one or two residual degrees of freedom a sweep has,
  its estimate is often zero, and in a simulation of the design of
  :mod:`flawn.analysis.extrapolation_check` (3 or 4 fitted sizes, misfit 2 to
  4 times the measurement noise) it covered 73-85% where the t-scaled
  dispersion covered 87-95%. The price: with 3 fitted sizes, a third of
  the fits have ``phi > 1`` by chance and get t with 1 degree of freedom,
  i.e. very wide intervals (flagged when wider than the score range).
* The interval is for the **measured** delta at the target size, i.e. what
  running that size with the same evaluation would report: it adds the target's
  own measurement variance, taken as the mean of the fitted sizes' ``s_i**2``.
  That is what :mod:`flawn.analysis.extrapolation_check` validates by holding
  out the largest size of simulated sweeps (``bench/extrapolation.py``).
* Exactly two sizes: the line passes through both; nothing checks the misfit,
  so the interval holds measurement noise only and the note says so. Fewer
  than two: no fit.

Caveats: measurements at different sizes are treated as independent (they are
different runs, but scored on the same items); the x axis is parameters. A
sweep that trains every size on the same tokens has training compute
proportional to parameters (about 6ND), so the slope per decade is the same on
a compute axis; a sweep that scales tokens with size would need compute.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from flawn.analysis.compare import Comparison

#: Levels of a rule that are extrapolated (tasks alone are too noisy to be worth a line).
LEVELS = ("overall", "group", "view")

#: Rows of the embedding for sizes sized from the task vocabulary (vocab_size 0) when no run
#: says otherwise: flawn's bundled sample vocabulary (1,152 pieces + 100 extra ids, padded).
SAMPLE_VOCAB_ROWS = 1280

#: Columns of :func:`size_deltas`'s frame: where the deltas come from, then the measurement.
DELTA_COLUMNS = ("eval_key", "suite", "mode", "group", "condition", "level", "name", "size")
DELTA_COLUMNS += ("delta", "lo", "hi", "se", "scale", "ci_level")

#: Columns of :func:`extrapolate`'s frame, in order.
COLUMNS = (
    "eval_key",
    "suite",
    "mode",
    "group",
    "condition",
    "level",
    "name",
    "sizes",
    "n_sizes",
    "slope",
    "slope_lo",
    "slope_hi",
    "intercept",
    "target",
    "target_parameters",
    "predicted",
    "lo",
    "hi",
    "misfit",
    "identifiable",
    "note",
)


def _padded(rows: int) -> int:
    return -(-rows // 128) * 128


def size_parameters(size: str, vocab_rows: int | None = None) -> int:
    """Parameters of a size in flawn's table (what ``flawn model list`` counts).

    Args:
        size: A name in :data:`flawn.models.sizes.SIZES`.
        vocab_rows: Embedding rows for sizes sized from the task vocabulary
            (``vocab_size`` 0, the CPU sizes); default :data:`SAMPLE_VOCAB_ROWS`.
    """
    from flawn.models.flops import count_parameters
    from flawn.models.sizes import get_size

    found = get_size(size)
    return count_parameters(found.shape, found.vocab_size or vocab_rows or SAMPLE_VOCAB_ROWS).total


def run_parameters(spec: Mapping[str, Any]) -> tuple[str, int, int] | None:
    """``(size, parameters, vocabulary rows)`` of a run from its ``spec.json``, if it says.

    The shape and ``vocab_size`` come from the spec's ``model``; a ``vocab_size``
    of 0 means rows from the run's vocabulary (``vocabulary_model``: pieces plus
    extra ids, padded to 128 as the local trainer does), else the sample one.
    """
    from flawn.models.flops import count_parameters
    from flawn.models.sizes import _SHAPE_KEYS

    model = spec.get("model") or {}
    size = model.get("size") or spec.get("size")
    if not size or any(k not in model for k in _SHAPE_KEYS):
        return None
    rows = int(model.get("vocab_size") or 0)
    if not rows:
        vocabulary = spec.get("vocabulary_model") or {}
        pieces = vocabulary.get("pieces")
        rows = (
            _padded(int(pieces) + int(vocabulary.get("extra_ids") or 0))
            if pieces
            else SAMPLE_VOCAB_ROWS
        )
    shape = {k: int(model[k]) for k in _SHAPE_KEYS}
    return str(size), count_parameters(shape, rows).total, rows


def parameters_by_size(folders: Iterable[str | os.PathLike]) -> tuple[dict[str, int], int | None]:
    """Parameters per size read from run folders' ``spec.json``, and their vocabulary rows.

    Returns:
        ``({size: parameters}, rows)`` where ``rows`` are the embedding rows of
        the runs sized from their vocabulary (None when no run was), used to
        count a target size of that kind alike.
    """
    from flawn.analysis.loading import run_folders

    found: dict[str, int] = {}
    rows = None
    for folder in run_folders(list(folders)):
        path = folder / "spec.json"
        if not path.exists():
            continue
        spec = json.loads(path.read_text(encoding="utf-8"))
        got = run_parameters(spec)
        if got is None:
            continue
        size, count, vocab = got
        found.setdefault(size, count)
        if not spec["model"].get("vocab_size"):
            rows = vocab
    return found, rows


def count_sizes(
    parameters: Mapping[str, int] | None = None, vocab_rows: int | None = None
) -> dict[str, int]:
    """Parameters of every size in flawn's table, overridden by those runs recorded.

    Args:
        parameters: ``{size: parameters}`` from runs (:func:`parameters_by_size`).
        vocab_rows: Embedding rows to count sizes sized from their vocabulary.
    """
    from flawn.models.sizes import SIZES

    counted = {name: size_parameters(name, vocab_rows) for name in SIZES}
    counted.update(parameters or {})
    return counted


def next_size(measured: Sequence[str], parameters: Mapping[str, int]) -> str | None:
    """The smallest size in flawn's table with more parameters than every measured size.

    A size of the largest measured size's family is preferred (Flan-T5 base
    after Flan-T5 small); the CPU sizes continue into T5 1.1. ``parameters``
    counts the sizes (measured and not).
    """
    from flawn.models.sizes import SIZES

    top = max(measured, key=lambda s: parameters[s])
    family = SIZES[top].family if top in SIZES else None
    larger = [n for n in SIZES if parameters.get(n, 0) > parameters[top]]
    if not larger:
        return None
    mine = [n for n in larger if SIZES[n].family == family]
    order = list(SIZES)
    return min(mine or larger, key=lambda n: (parameters[n], order.index(n)))


def fit_lines(
    x: np.ndarray,
    y: np.ndarray,
    se: np.ndarray,
    x0: float | np.ndarray,
    se0: float | np.ndarray | None = None,
    level: float = 0.95,
) -> dict[str, np.ndarray]:
    """Weighted lines through many replicates at once, and their prediction at ``x0``.

    Args:
        x: ``(K,)`` or ``(R, K)`` log10(parameters) of the ``K`` sizes.
        y: ``(R, K)`` measured deltas.
        se: ``(R, K)`` their measurement standard errors (positive).
        x0: log10(parameters) of the target, scalar or ``(R,)``.
        se0: The target's measurement standard error; default the root mean
            of the fitted ``se**2``.
        level: Confidence level of the intervals.

    Returns:
        ``(R,)`` arrays: ``slope``, ``slope_lo``, ``slope_hi`` (per decade),
        ``intercept``, ``predicted``, ``lo``, ``hi`` (prediction interval of the
        measured delta at ``x0``), ``phi`` (dispersion, 1 = no misfit beyond
        noise) and ``dof`` (residual degrees of freedom, ``K - 2``).
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    se = np.broadcast_to(np.asarray(se, dtype=float), y.shape)
    x = np.broadcast_to(np.asarray(x, dtype=float), y.shape)
    k = y.shape[1]
    if k < 2:
        raise ValueError(f"a line needs at least 2 sizes, got {k}")
    w = 1.0 / se**2
    sw = w.sum(axis=1)
    xbar = (w * x).sum(axis=1) / sw
    ybar = (w * y).sum(axis=1) / sw
    dx = x - xbar[:, None]
    sxx = (w * dx**2).sum(axis=1)
    slope = (w * dx * (y - ybar[:, None])).sum(axis=1) / sxx
    intercept = ybar - slope * xbar
    dof = k - 2
    if dof > 0:
        residual = y - intercept[:, None] - slope[:, None] * x
        phi = np.maximum(1.0, (w * residual**2).sum(axis=1) / dof)
        quantile = np.where(
            phi > 1.0,
            scipy_stats.t.ppf(0.5 + level / 2, dof),
            scipy_stats.norm.ppf(0.5 + level / 2),
        )
    else:
        phi = np.ones(len(y))
        quantile = np.full(len(y), scipy_stats.norm.ppf(0.5 + level / 2))
    x0 = np.broadcast_to(np.asarray(x0, dtype=float), slope.shape)
    var0 = (
        np.mean(se**2, axis=1)
        if se0 is None
        else np.broadcast_to(np.asarray(se0, dtype=float) ** 2, slope.shape)
    )
    predicted = intercept + slope * x0
    fit_var = 1.0 / sw + (x0 - xbar) ** 2 / sxx
    half = quantile * np.sqrt(phi * (fit_var + var0))
    slope_half = quantile * np.sqrt(phi / sxx)
    return {
        "slope": slope,
        "slope_lo": slope - slope_half,
        "slope_hi": slope + slope_half,
        "intercept": intercept,
        "predicted": predicted,
        "lo": predicted - half,
        "hi": predicted + half,
        "phi": phi,
        "dof": np.full(len(y), dof),
    }


def size_deltas(comparisons: Sequence[Comparison], levels: Sequence[str] = LEVELS) -> pd.DataFrame:
    """Each condition's deltas per size, for the comparisons that have a ``size`` in their group.

    Returns:
        One row per evaluation x other group axes x condition x (level, name)
        x size: ``eval_key``, ``suite``, ``mode``, ``group`` (the other axes in
        words), ``condition``, ``level``, ``name``, ``size``, ``delta``,
        ``lo``, ``hi``, ``se`` (from the interval), ``scale`` (the rule's) and
        ``ci_level``.
    """
    frames = []
    for c in comparisons:
        if "size" not in c.group or c.deltas.empty:
            continue
        rows = c.deltas[c.deltas["level"].isin(levels)]
        z = scipy_stats.norm.ppf(0.5 + c.level / 2)
        frames.append(
            rows[["condition", "level", "name", "delta", "lo", "hi"]].assign(
                eval_key=c.eval_key,
                suite=c.suite,
                mode=c.mode,
                group=", ".join(f"{k}={v}" for k, v in c.group.items() if k != "size"),
                size=str(c.group["size"]),
                se=(rows["hi"] - rows["lo"]) / (2 * z),
                scale=c.rule.scale,
                ci_level=c.level,
            )
        )
    if not frames:
        return pd.DataFrame(columns=list(DELTA_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def extrapolate(
    comparisons: Sequence[Comparison],
    predict_size: str | None = None,
    parameters: Mapping[str, int] | None = None,
    vocab_rows: int | None = None,
    levels: Sequence[str] = LEVELS,
) -> pd.DataFrame:
    """Fits delta against log10(parameters) per condition and level, and predicts a size.

    Args:
        comparisons: Comparisons from :func:`flawn.analysis.compare.compare`;
            those of one evaluation whose groups differ only in ``size`` are
            fitted together.
        predict_size: The size to predict (a name in flawn's size table);
            default the next size up (:func:`next_size`).
        parameters: Parameters of sizes as the runs record them
            (:func:`parameters_by_size`, or all of :func:`count_sizes`); other
            sizes are counted from the table.
        vocab_rows: Embedding rows to count sizes sized from their vocabulary.
        levels: Levels of the rule to fit.

    Returns:
        One row per evaluation x other group axes x condition x (level, name)
        measured at two sizes or more, columns :data:`COLUMNS`: the slope per
        decade of parameters with its interval, the predicted delta at
        ``target`` with the prediction interval of the delta measured there
        (``lo``, ``hi``), ``misfit`` (the residual scale relative to
        measurement noise, 1 = none beyond it), ``identifiable`` and a
        ``note`` saying why a row is weak. Empty when no condition is measured
        at two sizes.

    Raises:
        ValueError: If a size is not in flawn's table and has no recorded
            parameters, or ``predict_size`` is unknown.
    """
    from flawn.models.sizes import get_size

    if predict_size is not None:
        get_size(predict_size)  # a clear error for an unknown name, sizes or not
    points = size_deltas(comparisons, levels)
    if points.empty or points["size"].nunique() < 2:
        return pd.DataFrame(columns=list(COLUMNS))
    counted = count_sizes(parameters, vocab_rows)
    unknown = sorted(set(points["size"]) - set(counted))
    if unknown:
        raise ValueError(
            f"size(s) {unknown} are neither in flawn's size table nor recorded in a run's "
            "spec.json: cannot count their parameters"
        )
    rows = []
    keys = ["eval_key", "suite", "mode", "group", "condition", "level", "name"]
    for key, found in points.groupby(keys, sort=False):
        found = found.assign(parameters=found["size"].map(counted)).sort_values("parameters")
        measured = list(found["size"])
        target = predict_size or next_size(measured, counted)
        rows.append(_fit_row(dict(zip(keys, key, strict=True)), found, target, counted))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _fit_row(key: dict, found: pd.DataFrame, target: str | None, counted) -> dict:
    """One (condition, level, name)'s line and prediction, with its notes."""
    row = {**key, "sizes": ", ".join(found["size"]), "n_sizes": len(found), "target": target}
    row["target_parameters"] = counted[target] if target else np.nan
    scale = float(found["scale"].iloc[0])
    notes = []
    if len(found) < 2:
        return {**row, "identifiable": False, "note": "fewer than 2 sizes: no trend"}
    se = found["se"].to_numpy(dtype=float)
    if not np.all(np.isfinite(se) & (se > 0)):
        return {
            **row,
            "identifiable": False,
            "note": "no (or zero-width) interval at some size: cannot weigh the sizes",
        }
    fit = fit_lines(
        np.log10(found["parameters"].to_numpy(dtype=float)),
        found["delta"].to_numpy(dtype=float)[None],
        se[None],
        math.log10(counted[target]) if target else np.nan,
        level=float(found["ci_level"].iloc[0]),
    )
    values = {name: float(v[0]) for name, v in fit.items()}
    identifiable = True
    if len(found) == 2:
        notes.append("2 sizes: the line passes through both; no misfit check, noise-only interval")
    elif values["phi"] > 1:
        notes.append(
            f"sizes scatter {math.sqrt(values['phi']):.2f}x their noise around the line: "
            f"interval widened (t, {len(found) - 2} dof)"
        )
    if values["slope_lo"] <= 0 <= values["slope_hi"]:
        notes.append("slope sign undetermined")
    if target is None:
        notes.append("no larger size in flawn's table: pass --predict-size")
        identifiable = False
    elif values["hi"] - values["lo"] > scale:
        notes.append("interval wider than the score range: not identifiable")
        identifiable = False
    return {
        **row,
        **{k: values[k] for k in ("slope", "slope_lo", "slope_hi", "intercept")},
        **({k: values[k] for k in ("predicted", "lo", "hi")} if target else {}),
        "misfit": math.sqrt(values["phi"]),
        "identifiable": identifiable,
        "note": "; ".join(notes),
    }


def _fmt(value: Any, sign: bool = True, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def markdown_table(frame: pd.DataFrame, digits: int = 1) -> str:
    """Rows of the extrapolation frame as a Markdown table (title them by evaluation and group)."""
    lines = [
        "| condition | level | name | sizes | Δ per 10x parameters [interval] | target "
        "| predicted Δ [prediction interval] | misfit | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in frame.itertuples(index=False):
        slope = (
            f"{_fmt(r.slope, True, digits)} "
            f"[{_fmt(r.slope_lo, True, digits)}, {_fmt(r.slope_hi, True, digits)}]"
        )
        target = (
            f"{r.target} ({r.target_parameters / 1e6:,.0f}M)"
            if isinstance(r.target, str)
            else "n/a"
        )
        predicted = (
            f"{_fmt(r.predicted, True, digits)} "
            f"[{_fmt(r.lo, True, digits)}, {_fmt(r.hi, True, digits)}]"
        )
        lines.append(
            f"| {r.condition} | {r.level} | {r.name} | {r.sizes} | {slope} | {target} "
            f"| {predicted} | {_fmt(r.misfit, False, 2)} | {r.note or ''} |"
        )
    return "\n".join(lines)
