"""Loading the training curves of many runs into one tidy DataFrame.

Each stage of a run logs ``stages/<stage>/metrics.jsonl``: one JSON object
per logging step with ``step`` (counted from 0 within the stage) and the
metrics at that step. In-training evaluation (:mod:`flawn.train.eval_curve`)
writes its points into the same file, as ``eval/<suite>/<task>`` and
``eval/<suite>/mean``, so they load as metrics like any other.
This module imports neither TensorFlow nor JAX.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterable

import pandas as pd

from flawn.analysis.loading import run_folders

#: Each stage's metrics file, inside ``<run>/stages/<stage>/`` (see flawn.runs.TrainDir).
METRICS_FILE = "metrics.jsonl"
_SPEC = "spec.json"

#: The columns of :func:`load_curves`' frame, before the ``axis.<name>`` columns.
CURVE_COLUMNS = (
    "run_id",
    "run_name",
    "stage",
    "stage_index",
    "step",
    "global_step",
    "metric",
    "value",
)


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The rows of one metrics file, blank lines skipped.

    Raises:
        ValueError: If a line is not a JSON object with an integer ``step``,
            naming the file and the line number.
    """
    rows = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("step"), int):
                raise ValueError(f"{path}:{number}: not a JSON object with an integer 'step'")
            rows.append(row)
    return rows


def _is_number(value) -> bool:
    # bool is an int subclass, but a flag is not a point on a curve.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _run_curves(folder: pathlib.Path, wanted: set[str] | None) -> list[dict]:
    """The tidy curve rows of one run folder (none without spec or metrics files)."""
    spec_path = folder / _SPEC
    if not spec_path.exists():
        return []  # without the spec, the order and lengths of the stages are unknown
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    run = {
        "run_id": spec.get("run_id", folder.name),
        "run_name": spec.get("name", folder.name),
        **{f"axis.{k}": v for k, v in (spec.get("axes") or {}).items()},
    }
    out = []
    offset = 0
    for index, stage in enumerate(spec.get("stages") or []):
        path = folder / "stages" / stage["name"] / METRICS_FILE
        rows = read_metrics(path) if path.exists() else []
        for row in rows:
            where = {
                **run,
                "stage": stage["name"],
                "stage_index": index,
                "step": row["step"],
                "global_step": offset + row["step"],
            }
            for metric, value in row.items():
                if metric == "step" or not _is_number(value):
                    continue
                if wanted is None or metric in wanted:
                    out.append({**where, "metric": metric, "value": float(value)})
        # The planned length places the next stage even if this one stopped early.
        planned = stage.get("steps")
        offset += planned if planned else max((r["step"] for r in rows), default=0)
    return out


def load_curves(
    run_dirs: Iterable[str | os.PathLike],
    metrics: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Concatenates the training curves of the stages of several runs.

    Args:
        run_dirs: Run folders, or sweep folders (all their runs); files are ignored.
        metrics: Only these metric names (e.g. ``loss``, ``eval/sample/mean``);
            default all numeric ones.

    Returns:
        One row per (run, stage, logged step, metric): :data:`CURVE_COLUMNS`
        and one ``axis.<name>`` column per sweep axis. ``step`` counts within
        the stage; ``global_step`` adds the planned steps (the spec's) of the
        earlier stages. Non-numeric values are left out; NaN losses are kept.

    Raises:
        ValueError: If a metrics line is malformed (naming file and line).
        FileNotFoundError: If no run has any metrics, saying what was searched.
    """
    run_dirs = list(run_dirs)
    folders = run_folders(run_dirs)
    wanted = set(metrics) if metrics is not None else None
    rows = [row for folder in folders for row in _run_curves(folder, wanted)]
    if not rows:
        which = f" of metric(s) {sorted(wanted)}" if wanted is not None else ""
        raise FileNotFoundError(
            f"no training curves{which}: no stages/<stage>/{METRICS_FILE} in "
            f"{len(folders)} run folder(s) of {[os.fspath(p) for p in run_dirs]}; "
            "train runs with `flawn train` or launch the sweep (`flawn sweep launch EXPERIMENT`)"
        )
    frame = pd.DataFrame(rows)
    axis_columns = sorted(c for c in frame.columns if c.startswith("axis."))
    return frame[[*CURVE_COLUMNS, *axis_columns]]


def stage_boundaries(curves: pd.DataFrame) -> list[int]:
    """Global steps at which a later stage starts, from a :func:`load_curves` frame.

    The boundary of a stage is its smallest ``global_step - step`` (its offset);
    runs with the same stage plan share boundaries, so they are merged.
    """
    offsets = curves["global_step"] - curves["step"]
    return sorted({int(s) for s in offsets[curves["stage_index"] > 0]})
