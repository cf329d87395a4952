"""Loading result rows of many runs into one DataFrame.

Each evaluation of a run lives in ``<run>/eval/<eval_id>/`` with its
``eval.json`` (settings, step) written last; only finished evaluations are
loaded. Every row keeps its suite, scoring mode and eval settings, so that
tables can be made per evaluation and never average rows scored differently.
This module imports neither TensorFlow nor JAX.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from collections.abc import Iterable

import pandas as pd

from flawn.results import TASK_COLUMNS, TASKS_FILE, read_rows

#: Written last into each evaluation folder (see flawn.runs.RunDir).
_EVAL_RECORD = "eval.json"
_SPEC = "spec.json"

#: Columns added to the task rows: the evaluation's settings, as a key and in words.
EVAL_COLUMNS = ("eval_key", "eval_settings", "step")


def _settings_key(settings: dict) -> str:
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def run_folders(paths: Iterable[str | os.PathLike]) -> list[pathlib.Path]:
    """Run folders among ``paths``; a sweep folder stands for all the runs in it.

    Files (e.g. a sweep's ``report.md`` caught by a shell glob) and folders
    that hold no run are skipped.
    """
    out = []
    for path in map(pathlib.Path, paths):
        if not path.is_dir():
            continue
        if (path / _SPEC).exists() or (path / "eval").is_dir():
            out.append(path)
        else:
            out.extend(sorted(p for p in path.iterdir() if (p / _SPEC).exists()))
    return out


def load_task_scores(
    run_dirs: Iterable[str | os.PathLike],
    suite: str | None = None,
    mode: str | None = None,
) -> pd.DataFrame:
    """Concatenates the per-task rows of the finished evaluations of several runs.

    Args:
        run_dirs: Run folders, or sweep folders (all their runs); files are ignored.
        suite: Only this suite (e.g. ``sample``, ``lawbench.zero_shot``).
        mode: Only this scoring mode (``generation`` or ``rank_classification``).

    Returns:
        One row per (run, evaluation, task): the :data:`flawn.results.TASK_COLUMNS`
        plus :data:`EVAL_COLUMNS` and one ``axis.<name>`` column per sweep axis.

    Raises:
        FileNotFoundError: If no run folder holds a finished evaluation that
            matches, saying how to evaluate one.
    """
    folders = run_folders(run_dirs)
    rows = []
    for folder in folders:
        eval_root = folder / "eval"
        if not eval_root.is_dir():
            continue
        for record_path in sorted(eval_root.glob(f"*/{_EVAL_RECORD}")):
            record = json.loads(record_path.read_text(encoding="utf-8"))
            settings = record.get("spec", {})
            extra = {
                "eval_key": _settings_key(settings),
                "eval_settings": record.get("describe", ""),
                "step": record.get("step"),
            }
            for row in read_rows(record_path.parent / TASKS_FILE):
                if suite and row.get("suite") != suite:
                    continue
                if mode and row.get("mode") != mode:
                    continue
                axes = {f"axis.{k}": v for k, v in (row.get("axes") or {}).items()}
                rows.append({**row, **extra, **axes})
    if not rows:
        wanted = " ".join(f"{k} {v}" for k, v in (("suite", suite), ("mode", mode)) if v)
        raise FileNotFoundError(
            f"no finished evaluation{' of ' + wanted if wanted else ''} in "
            f"{len(folders)} run folder(s) of {[os.fspath(p) for p in run_dirs]}; evaluate runs "
            "with `flawn eval run --run-dir RUN` or launch the sweep "
            "(`flawn sweep launch EXPERIMENT`)"
        )
    frame = pd.DataFrame(rows)
    axis_columns = sorted(c for c in frame.columns if c.startswith("axis."))
    return frame[[*TASK_COLUMNS, *EVAL_COLUMNS, *axis_columns]]


def evaluations(scores: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    """The distinct evaluations in loaded rows: ``(eval_key, suite, mode, settings)``."""
    keys = scores[["eval_key", "suite", "mode", "eval_settings"]].drop_duplicates()
    return [tuple(r) for r in keys.itertuples(index=False)]
