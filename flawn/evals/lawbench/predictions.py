"""Scoring folders of predictions in LawBench's own format, and reporting the scores.

LawBench (and OpenCompass) write one ``<task_id>.json`` per task, a JSON
object ``{"0": {"origin_prompt", "prediction", "refr"}, "1": ...}`` with ids
``0 .. N-1``. :func:`score_directory` scores every such file in a folder with
the official scorers, :func:`format_scores` prints the result as a table and
:func:`write_scores_json` saves it. This module imports neither TensorFlow nor
JAX.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from flawn.errors import FlawnError, RecordError
from flawn.evals.lawbench import scorers, tasks

logger = logging.getLogger(__name__)

#: Fields of one prediction record.
RECORD_FIELDS = ("origin_prompt", "prediction", "refr")


@dataclasses.dataclass(frozen=True)
class PredictionRecord:
    """One scored item of a LawBench prediction file.

    Attributes:
        index: The item's id (its position in the task file).
        origin_prompt: The prompt the model saw (a string, or OpenCompass's
            list of ``{"prompt": ...}`` turns).
        prediction: The model output.
        refr: The gold answer.
    """

    index: int
    origin_prompt: Any
    prediction: str
    refr: str


def read_prediction_file(
    path: str | os.PathLike, task_id: str | None = None
) -> list[PredictionRecord]:
    """Reads one LawBench prediction file.

    Args:
        path: ``<task_id>.json`` holding ``{"0": {...}, "1": {...}, ...}``.
        task_id: The task, for messages; by default the file's stem.

    Returns:
        The records in id order.

    Raises:
        FlawnError: Naming the task and file, if the file is missing or not
            valid JSON (a :class:`RecordError` with the line), is not an
            object, its ids are not exactly ``0 .. N-1`` (the message lists the
            missing and unexpected ids), or a record lacks a field or has a
            prediction or gold that is not a string.
    """
    path = pathlib.Path(path)
    task_id = task_id or path.stem
    where = f"task {task_id}: {path}"
    if not path.is_file():
        raise FlawnError(f"{where} is missing")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise RecordError(path, err.lineno, "bad_json", f"task {task_id}: {err.msg}") from err
    except UnicodeDecodeError as err:
        raise RecordError(path, 0, "bad_encoding", f"task {task_id}: {err}") from err
    if not isinstance(data, dict):
        raise FlawnError(
            f"{where}: holds a JSON {type(data).__name__}, not an object of "
            '{"0": {"origin_prompt", "prediction", "refr"}, ...}'
        )
    if not data:
        raise FlawnError(f"{where}: holds no predictions")
    expected = {str(i) for i in range(len(data))}
    missing = sorted(expected - data.keys(), key=int)
    unexpected = sorted(data.keys() - expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing ids {_abbreviate(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_abbreviate(unexpected)}")
        raise FlawnError(
            f"{where}: ids must be 0..{len(data) - 1} for {len(data)} entries; " + "; ".join(parts)
        )
    records = []
    for i in range(len(data)):
        item = data[str(i)]
        if not isinstance(item, dict):
            raise FlawnError(f"{where}: id {i} is a {type(item).__name__}, not an object")
        lacking = [field for field in RECORD_FIELDS if field not in item]
        if lacking:
            raise FlawnError(f"{where}: id {i} lacks {', '.join(lacking)}")
        for field in ("prediction", "refr"):
            if not isinstance(item[field], str):
                raise FlawnError(
                    f"{where}: id {i}: {field} is a {type(item[field]).__name__}, not a string"
                )
        records.append(PredictionRecord(i, item["origin_prompt"], item["prediction"], item["refr"]))
    return records


def _abbreviate(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def score_prediction_file(
    path: str | os.PathLike, task_id: str | None = None, corrected: bool = False
) -> scorers.Scores:
    """Scores one prediction file with its task's official scorer.

    Args:
        path: The ``<task_id>.json`` file.
        task_id: The task; by default the file's stem.
        corrected: Use :data:`~flawn.evals.lawbench.scorers.CORRECTED_SCORERS`.

    Returns:
        ``{"score": float, "abstention_rate": float}``.

    Raises:
        FlawnError: Naming the file, if it is malformed or a gold answer
            breaks its task's format.
    """
    path = pathlib.Path(path)
    task_id = task_id or path.stem
    tasks.get_task(task_id)
    records = read_prediction_file(path, task_id)
    try:
        return scorers.score_task(
            task_id,
            [r.prediction for r in records],
            [r.refr for r in records],
            [r.origin_prompt for r in records],
            corrected=corrected,
        )
    except FlawnError as err:
        raise FlawnError(f"{path}: {err}") from err


def find_prediction_files(
    pred_dir: str | os.PathLike,
) -> tuple[dict[str, pathlib.Path], list[pathlib.Path]]:
    """The task files in a prediction folder, and the files that are not task files.

    Returns:
        ``({task_id: path}`` in LawBench's task order, ``[ignored paths])``;
        hidden files are neither.

    Raises:
        FlawnError: If the folder does not exist.
    """
    pred_dir = pathlib.Path(pred_dir)
    if not pred_dir.is_dir():
        raise FlawnError(f"{pred_dir} is not a folder of LawBench predictions")
    known = tasks.task_table()
    found: dict[str, pathlib.Path] = {}
    ignored: list[pathlib.Path] = []
    for path in sorted(pred_dir.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_file() and path.suffix == ".json" and path.stem in known:
            found[path.stem] = path
        else:
            ignored.append(path)
    return {task_id: found[task_id] for task_id in known if task_id in found}, ignored


def score_directory(
    pred_dir: str | os.PathLike,
    task_ids: Iterable[str] | None = None,
    corrected: bool = False,
) -> dict[str, scorers.Scores]:
    """Scores every ``<task_id>.json`` in a folder of LawBench predictions.

    Files whose name is not a task id are skipped with a logged warning that
    names them (upstream's ``main.py`` skips them too).

    Args:
        pred_dir: One model's prediction folder.
        task_ids: Only these tasks (each must have a file); default: every file.
        corrected: Use the corrected scorers instead of the official ones.

    Returns:
        ``{task_id: {"score": float, "abstention_rate": float}}`` in task order.

    Raises:
        FlawnError: If the folder holds no task file, a requested task has no
            file, or a file is malformed (naming the task, file and problem).
    """
    files, ignored = find_prediction_files(pred_dir)
    if ignored:
        logger.warning(
            "%s: skipped %d file(s) that are not LawBench task files: %s",
            pred_dir,
            len(ignored),
            ", ".join(p.name for p in ignored),
        )
    if task_ids is not None:
        wanted = list(task_ids)
        for task_id in wanted:
            tasks.get_task(task_id)
        lacking = [t for t in wanted if t not in files]
        if lacking:
            raise FlawnError(f"{pred_dir}: no prediction file for task(s) {', '.join(lacking)}")
        files = {t: p for t, p in files.items() if t in wanted}
    if not files:
        raise FlawnError(f"{pred_dir} holds no LawBench prediction file (<task_id>.json)")
    return {
        task_id: score_prediction_file(path, task_id, corrected) for task_id, path in files.items()
    }


def scores_table(scores: Mapping[str, scorers.Scores]) -> pd.DataFrame:
    """One row per task: id, name, level, metric, score, abstention rate (0-1 scale)."""
    table = tasks.task_table()
    rows = []
    for task_id, result in scores.items():
        task = tasks.get_task(task_id)
        rows.append(
            {
                "task": task_id,
                "name": task.name,
                "level": task.level,
                "metric": task.metric,
                "score": float(result["score"]),
                "abstention_rate": float(result["abstention_rate"]),
            }
        )
    order = {task_id: i for i, task_id in enumerate(table)}
    rows.sort(key=lambda row: order[row["task"]])
    return pd.DataFrame(
        rows, columns=["task", "name", "level", "metric", "score", "abstention_rate"]
    )


def format_scores(scores: Mapping[str, scorers.Scores], digits: int = 4) -> str:
    """A Markdown table of the scores, with the mean over the scored tasks as its last row.

    The last row says how many of the 20 tasks the mean covers, since a
    folder may lack some (upstream published no 2-9 or 2-10 predictions).
    Under the table: 2-1's full-annotation score when there is one (it is not
    in the mean), then :data:`~flawn.evals.lawbench.scorers.TOLERANCE_NOTE`.
    """
    frame = scores_table(scores)
    if frame.empty:
        return "(no LawBench task scored)"
    mean_row = {
        "task": "mean",
        "name": f"{len(frame)} of {len(tasks.task_table())} tasks",
        "level": "",
        "metric": "",
        "score": frame["score"].mean(),
        "abstention_rate": frame["abstention_rate"].mean(),
    }
    frame = pd.concat([frame, pd.DataFrame([mean_row])], ignore_index=True)
    text = frame.to_markdown(index=False, floatfmt=f".{digits}f")
    full = scores.get("2-1", {}).get(scorers.FULL_ANNOTATION_KEY)
    if full is not None:
        text += (
            f"\n\n{scorers.FULL_ANNOTATION_TASK} ({scorers.FULL_ANNOTATION_METRIC}, every "
            f"output annotated in full, not in the mean): {full:.{digits}f}"
        )
    return f"{text}\n\n{scorers.TOLERANCE_NOTE}"


def write_scores_json(
    scores: Mapping[str, scorers.Scores], path: str | os.PathLike
) -> pathlib.Path:
    """Writes ``{task_id: {"score": float, "abstention_rate": float}}`` as JSON.

    This is the shape the issue tracker and LawBench tooling expect (0-1
    scale); the task names and levels are in the printed table instead. 2-1
    scored officially also carries
    :data:`~flawn.evals.lawbench.scorers.FULL_ANNOTATION_KEY`, which readers
    of the two usual keys can ignore.

    Returns:
        The path written (its folder is created if needed).
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {}
    for task, value in scores.items():
        payload[task] = {
            "score": float(value["score"]),
            "abstention_rate": float(value["abstention_rate"]),
        }
        if scorers.FULL_ANNOTATION_KEY in value:
            payload[task][scorers.FULL_ANNOTATION_KEY] = float(value[scorers.FULL_ANNOTATION_KEY])
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, ensure_ascii=False, indent=2)
        f.write("\n")
    return path


def score_and_report(
    pred_dir: str | os.PathLike, json_path: str | os.PathLike | None = None
) -> str:
    """What ``flawn eval lawbench score PRED_DIR [--json OUT]`` prints.

    Scores the folder with the official scorers, writes the JSON when asked,
    and returns the table (see :func:`format_scores`: with 2-1's
    full-annotation score and the tolerance note), followed by where the
    JSON went.
    """
    scores = score_directory(pred_dir)
    text = f"LawBench scores of {pred_dir} (official scorers, 0-1 scale):\n\n" + format_scores(
        scores
    )
    if json_path is not None:
        text += f"\n\nwritten: {write_scores_json(scores, json_path)}"
    return text
