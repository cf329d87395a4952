"""Scoring the prediction files that ``t5x.infer`` writes, through the seqio tasks.

``t5x.infer`` (mode ``predict``) writes ``<task>-predict.jsonl-00000-of-00001``
(one file per host shard), one JSON object per example:
``{"inputs": {"inputs_pretokenized": ..., "targets_pretokenized": ...}, "prediction": ...}``.
Scoring applies the task's own ``postprocess_fn`` to predictions and targets
and its ``metric_fns``, as T5X's evaluator does, so a number computed here is
the number a TPU-pod evaluation reports.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import re
from collections.abc import Sequence

from flawn.errors import FlawnError

_T5X_FILE = re.compile(
    r"^(?P<task>.+?)-(?P<mode>predict|predict_with_aux)\.jsonl(-\d{5}-of-\d{5})?$"
)


def task_of_file(path: str | os.PathLike) -> str:
    """The seqio task name encoded in a ``t5x.infer`` output file name.

    Raises:
        FlawnError: If the name is not ``<task>-predict.jsonl[-NNNNN-of-NNNNN]``.
    """
    match = _T5X_FILE.match(os.path.basename(os.fspath(path)))
    if not match:
        raise FlawnError(
            f"{path}: not a t5x.infer prediction file (expected <task>-predict.jsonl"
            "[-00000-of-00001]); score LegalBench JSONL with `flawn eval legalbench score` "
            "and LawBench folders with `flawn eval lawbench score`"
        )
    return match.group("task")


def read_t5x_file(path: str | os.PathLike) -> list[dict]:
    """Reads one file: ``{"prediction", "inputs", "targets", "example"}`` per example.

    ``example`` holds every ``*_pretokenized`` feature the file has (what a
    task's postprocessor may read, e.g. LawBench's whole ``prompt_pretokenized``).

    Raises:
        FlawnError: Naming the file and line of a malformed or incomplete row.
    """
    rows = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise FlawnError(f"{path}:{line_no}: not JSON: {err}") from err
            inputs = obj.get("inputs") if isinstance(obj, dict) else None
            if not isinstance(inputs, dict) or "prediction" not in obj:
                raise FlawnError(
                    f"{path}:{line_no}: expected 'inputs' (an object) and 'prediction'"
                )
            if "targets_pretokenized" not in inputs:
                raise FlawnError(
                    f"{path}:{line_no}: no inputs.targets_pretokenized; run t5x.infer on a task "
                    "that has targets (flawn's benchmark tasks do) to score its predictions"
                )
            rows.append(
                {
                    "prediction": obj["prediction"],
                    "inputs": inputs.get("inputs_pretokenized", ""),
                    "targets": inputs["targets_pretokenized"],
                    "example": {k: v for k, v in inputs.items() if k.endswith("_pretokenized")},
                }
            )
    if not rows:
        raise FlawnError(f"{path}: no predictions")
    return rows


def files_by_task(paths: Sequence[str | os.PathLike]) -> dict[str, list[str]]:
    """Groups ``t5x.infer`` files by task (a task's host shards together, sorted)."""
    by_task: dict[str, list[str]] = collections.defaultdict(list)
    for path in paths:
        by_task[task_of_file(path)].append(os.fspath(path))
    return {task: sorted(files) for task, files in sorted(by_task.items())}


@dataclasses.dataclass
class TaskScore:
    """A task's predictions scored through its seqio definition.

    Attributes:
        task: The seqio task.
        predictions: Predictions after the task's postprocessor.
        targets: Targets after the task's postprocessor.
        metrics: What the task's metric functions return.
    """

    task: str
    predictions: list
    targets: list
    metrics: dict[str, float]


def score_task_rows(task_name: str, rows: Sequence[dict]) -> TaskScore:
    """Applies a registered task's postprocessor and metric functions, as T5X's evaluator does.

    Args:
        task_name: A registered seqio task with metric functions.
        rows: :func:`read_t5x_file` rows, in the task's order.

    Raises:
        FlawnError: If the task is not registered or has no metric functions.
    """
    import seqio  # deferred: pulls in TensorFlow

    if task_name not in seqio.TaskRegistry.names():
        raise FlawnError(
            f"task {task_name!r} is not registered; import the module that registers it "
            "(flawn registers legalbench.* and lawbench.* when their files are found)"
        )
    task = seqio.get_mixture_or_task(task_name)
    if not task.metric_fns:
        raise FlawnError(f"task {task_name} has no metric functions to score with")
    postprocess = task.postprocess_fn or (lambda output, example=None, is_target=False: output)

    def example_of(row):
        return row.get("example") or {"inputs_pretokenized": row["inputs"]}

    predictions = [
        postprocess(r["prediction"], example=example_of(r), is_target=False) for r in rows
    ]
    targets = [postprocess(r["targets"], example=example_of(r), is_target=True) for r in rows]
    metrics: dict[str, float] = {}
    for fn in task.metric_fns:
        metrics.update(fn(targets, predictions))
    return TaskScore(task_name, predictions, targets, metrics)


def score_t5x_files(paths: Sequence[str | os.PathLike]) -> list[dict]:
    """Scores ``t5x.infer`` files, merging the host shards of each task.

    Returns:
        One dict per task: ``task``, ``files``, ``n`` and the task's metrics.

    Raises:
        FlawnError: For an unknown task or a malformed file.
    """
    import seqio  # deferred: pulls in TensorFlow

    results = []
    for task_name, files in files_by_task(paths).items():
        if task_name not in seqio.TaskRegistry.names():
            raise FlawnError(
                f"{files[0]}: task {task_name!r} is not registered; import the "
                "module that registers it (flawn registers legalbench.* and "
                "lawbench.* when their files are found)"
            )
        rows = [row for path in files for row in read_t5x_file(path)]
        scored = score_task_rows(task_name, rows)
        results.append({"task": task_name, "files": len(files), "n": len(rows), **scored.metrics})
    return results
