"""Loading result rows of many runs into one DataFrame.

Each evaluation of a run lives in ``<run>/eval/<eval_id>/`` with its
``eval.json`` (settings, step) written last; only finished evaluations are
loaded. Every row keeps its suite, scoring mode and eval settings, so that
tables can be made per evaluation and never average rows scored differently.

Two tidy frames come out: one row per run x task (:func:`load_task_scores`)
and one per run x task x example (:func:`load_examples`). The per-example rows
of each evaluation are cached as ``examples.parquet`` beside its
``examples.jsonl`` the first time they are read, so a 100-run sweep reloads in
seconds; repeated strings (run, task, suite, axes) are categoricals. A W&B
export of the runs table (:func:`load_wandb_export`) gives the per-task frame
without examples. This module imports neither TensorFlow nor JAX.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flawn.results import EXAMPLES_FILE, RUN_FIELDS, TASK_COLUMNS, TASKS_FILE, read_rows

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


def _finished_evaluations(folders: Iterable[pathlib.Path]):
    """``(eval folder, eval key, record)`` of every finished evaluation of ``folders``."""
    for folder in folders:
        eval_root = folder / "eval"
        if not eval_root.is_dir():
            continue
        for record_path in sorted(eval_root.glob(f"*/{_EVAL_RECORD}")):
            try:
                record = json.loads(record_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise ValueError(f"{record_path}: not valid JSON ({err})") from err
            yield record_path.parent, _settings_key(record.get("spec", {})), record


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
    run_dirs = list(run_dirs)
    folders = run_folders(run_dirs)
    rows = []
    for eval_folder, key, record in _finished_evaluations(folders):
        extra = {
            "eval_key": key,
            "eval_settings": record.get("describe", ""),
            "step": record.get("step"),
        }
        for row in read_rows(eval_folder / TASKS_FILE):
            if suite and row.get("suite") != suite:
                continue
            if mode and row.get("mode") != mode:
                continue
            axes = {f"axis.{k}": v for k, v in (row.get("axes") or {}).items()}
            rows.append({**row, **extra, **axes})
    if not rows:
        raise FileNotFoundError(_nothing_found(folders, run_dirs, suite, mode))
    frame = pd.DataFrame(rows)
    axis_columns = sorted(c for c in frame.columns if c.startswith("axis."))
    return frame[[*TASK_COLUMNS, *EVAL_COLUMNS, *axis_columns]]


def _nothing_found(folders, run_dirs, suite, mode) -> str:
    wanted = " ".join(f"{k} {v}" for k, v in (("suite", suite), ("mode", mode)) if v)
    return (
        f"no finished evaluation{' of ' + wanted if wanted else ''} in "
        f"{len(folders)} run folder(s) of {[os.fspath(p) for p in run_dirs]}; evaluate runs "
        "with `flawn eval run --run-dir RUN` or launch the sweep "
        "(`flawn sweep launch EXPERIMENT`)"
    )


#: Per-example columns kept by :func:`load_examples` (prediction texts stay in the run folders).
EXAMPLE_FRAME_COLUMNS = (*RUN_FIELDS[:-1], "suite", "mode", "task", "example", "gold", "value")
_CACHE = "examples.parquet"


def _as_categories(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].astype("category")
    return frame


def _read_examples(eval_folder: pathlib.Path, key: str) -> pa.Table:
    """One evaluation's per-example rows as an Arrow table, from the parquet cache when fresh."""
    source = eval_folder / EXAMPLES_FILE
    cache = eval_folder / _CACHE
    # An evaluation written as parquet only (e.g. by bench/analysis_scale.py) has no JSON Lines.
    if cache.exists() and (not source.exists() or cache.stat().st_mtime >= source.stat().st_mtime):
        table = pq.read_table(cache)
    else:
        rows = read_rows(source)
        frame = pd.DataFrame(
            {c: [r.get(c) for r in rows] for c in (*EXAMPLE_FRAME_COLUMNS, "axes")}
        )
        axes = frame.pop("axes")
        for name in sorted({k for a in axes for k in (a or {})}):
            frame[f"axis.{name}"] = [str((a or {}).get(name)) for a in axes]
        frame["example"] = frame["example"].astype(str)
        frame["gold"] = frame["gold"].astype(str)
        frame["value"] = frame["value"].astype(float)
        table = pa.Table.from_pandas(_as_categories(frame), preserve_index=False)
        try:
            tmp = cache.with_suffix(".parquet.tmp")
            pq.write_table(table, tmp)
            os.replace(tmp, cache)
        except OSError:
            pass  # a read-only run folder: the rows were read, only the speed-up is lost
    # The key is the evaluation's settings, whatever the cached file says.
    table = table.drop_columns([c for c in ("eval_key",) if c in table.column_names])
    keys = pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(table), np.int32)), [key])
    return table.append_column("eval_key", keys)


def load_examples(
    run_dirs: Iterable[str | os.PathLike],
    suite: str | None = None,
    mode: str | None = None,
) -> pd.DataFrame:
    """The per-example rows of the finished evaluations of several runs.

    Args:
        run_dirs: Run folders, or sweep folders (all their runs); files are ignored.
        suite: Only this suite.
        mode: Only this scoring mode.

    Returns:
        One row per (run, evaluation, task, example): the run's identity
        (:data:`flawn.results.RUN_FIELDS` but ``axes``), suite, mode, task,
        example, gold, value, ``eval_key``, and one ``axis.<name>`` column per
        sweep axis (as text). Repeated strings are categoricals.

    Raises:
        FileNotFoundError: If nothing matches, saying how to evaluate runs.
    """
    run_dirs = list(run_dirs)
    folders = run_folders(run_dirs)
    tables = []
    for eval_folder, key, _ in _finished_evaluations(folders):
        table = _read_examples(eval_folder, key)
        for column, wanted in (("suite", suite), ("mode", mode)):
            if wanted:
                table = table.filter(pc.equal(table[column].cast(pa.string()), wanted))
        if len(table):
            tables.append(table)
    if not tables:
        raise FileNotFoundError(_nothing_found(folders, run_dirs, suite, mode))
    # One Arrow concatenation with unified dictionaries: categoricals all the way, no
    # per-row Python objects (9M rows load in seconds and a few hundred MB).
    table = pa.concat_tables(tables, promote_options="permissive").unify_dictionaries()
    return _as_categories(table.combine_chunks().to_pandas())


def load_wandb_export(path: str | os.PathLike) -> pd.DataFrame:
    """Per-task rows from a W&B export of a sweep's runs table (CSV or parquet).

    flawn logs each evaluation as a W&B run whose config holds ``run_id``,
    ``eval_id`` and ``axis.<name>``, and whose summary holds
    ``eval/<suite>.<mode>/<task>`` scores; the runs table exported from the
    W&B UI (or ``wandb.Api().runs(...)`` turned into a frame) has one column per
    key. Without per-example rows, tables from it carry no intervals.

    Returns:
        The frame of :func:`load_task_scores` (columns it cannot know are empty).

    Raises:
        ValueError: If the file has no ``eval/...`` score column, naming the file.
    """
    path = pathlib.Path(path)
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    score_columns = [c for c in table.columns if str(c).startswith("eval/")]
    if not score_columns:
        raise ValueError(
            f"{path}: no eval/<suite>.<mode>/<task> column; export the runs table of the "
            "sweep's W&B project with the summary metrics included"
        )
    axis_columns = [c for c in table.columns if str(c).startswith("axis.")]
    rows = []
    for line, record in enumerate(table.to_dict("records"), start=2):
        for column in score_columns:
            value = record[column]
            if pd.isna(value):
                continue
            try:
                _, label, task = column.split("/", 2)
                suite_name, mode = label.rsplit(".", 1)
            except ValueError:
                raise ValueError(
                    f"{path}: column {column!r} is not eval/<suite>.<mode>/<task>"
                ) from None
            axes = {c.removeprefix("axis."): record[c] for c in axis_columns}
            rows.append(
                {
                    "run_id": str(record.get("run_id", record.get("Name", f"row{line}"))),
                    "run_name": str(record.get("Name", record.get("run_id", f"row{line}"))),
                    "sweep": str(record.get("Group", "")),
                    "mixture": axes.get("mixture", ""),
                    "size": axes.get("size", ""),
                    "regime": axes.get("regime", ""),
                    "seed": axes.get("seed", 0),
                    "backend": "",
                    "axes": axes,
                    "eval_id": str(record.get("eval_id", label)),
                    "suite": suite_name,
                    "mode": mode,
                    "task": task,
                    "category": None,
                    "metric": None,
                    "score": float(value),
                    "n": None,
                    "n_truncated": None,
                    "abstention_rate": None,
                    "eval_key": label,
                    "eval_settings": f"W&B export {path.name}",
                    "step": None,
                    **{c: record[c] for c in axis_columns},
                }
            )
    frame = pd.DataFrame(rows)
    return frame[[*TASK_COLUMNS, *EVAL_COLUMNS, *sorted(axis_columns)]]


def evaluations(scores: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    """The distinct evaluations in loaded rows: ``(eval_key, suite, mode, settings)``."""
    keys = scores[["eval_key", "suite", "mode", "eval_settings"]].drop_duplicates()
    return [tuple(r) for r in keys.itertuples(index=False)]
