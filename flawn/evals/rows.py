"""Building tidy result rows, for every evaluator (local, or T5X's predictions).

The local evaluator (:mod:`flawn.evals.runner`) and the scorer of
``t5x.infer`` output (:mod:`flawn.t5x.score`) build their rows here, so both
write the same columns with the same meaning. No TensorFlow or JAX import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from flawn.evals.legalbench import metrics
from flawn.evals.legalbench.prompts import FittedPrompt, truncation_policy
from flawn.evals.legalbench.table import MANUAL_NOTE


def prompt_hash(prompt: str) -> str:
    """Identifies an item by its full (unfitted) prompt."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:12]


def truncation_counts(fitted: Sequence[FittedPrompt]) -> dict[str, int]:
    """How many prompts lost anything, demonstrations, the description, part of the item."""
    return {
        "n_truncated": sum(f.truncated for f in fitted),
        "n_demonstrations_dropped": sum(f.demonstrations_dropped > 0 for f in fitted),
        "n_description_dropped": sum(f.description_dropped for f in fitted),
        "n_item_cut": sum(f.item_cut for f in fitted),
        "n_skipped": sum(f.skipped for f in fitted),
    }


def legalbench_example_row(
    identity: Mapping[str, Any], task, example, fit: FittedPrompt, prediction: str
) -> dict[str, Any]:
    """One scored example of a LegalBench-format task (its per-example metric value)."""
    return {
        **identity,
        "task": task.name,
        "example": example.index,
        "prompt_hash": prompt_hash(task.prompt(example)),
        "prediction": prediction,
        "gold": example.answer,
        "metric": metrics.example_metric(task.metric),
        "value": metrics.example_value(task.metric, prediction, example.answer),
        "truncated": fit.truncated,
    }


def legalbench_task_row(
    identity: Mapping[str, Any], task, score: float, n: int, n_truncated: int
) -> dict[str, Any]:
    """One LegalBench-format task's official score."""
    return {
        **identity,
        "task": task.name,
        "category": task.category,
        "metric": task.metric,
        "score": score,
        "n": n,
        "n_truncated": n_truncated,
        "abstention_rate": None,
    }


def legalbench_summary(
    identity: Mapping[str, Any],
    input_length: int,
    overflow: str,
    excluded: Mapping[str, str],
    tasks: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``summary.json`` of a LegalBench-format evaluation: policy and per-task counts."""
    return {
        "eval_id": identity["eval_id"],
        "suite": identity["suite"],
        "mode": identity["mode"],
        "input_length": input_length,
        "truncation_policy": truncation_policy(overflow),
        "overflow": overflow,
        "manual_note": MANUAL_NOTE,
        "excluded": dict(excluded),
        "tasks": dict(tasks),
    }


def lawbench_example_row(
    identity: Mapping[str, Any],
    task_id: str,
    example,
    metric: str,
    output: str,
    value: float,
    truncated: bool,
) -> dict[str, Any]:
    """One scored LawBench item (its value: the task's scorer on this item alone)."""
    return {
        **identity,
        "task": task_id,
        "example": str(example.index),
        "prompt_hash": prompt_hash(example.prompt),
        "prediction": output,
        "gold": example.gold,
        "metric": metric,
        "value": value,
        "truncated": truncated,
    }


def lawbench_task_row(
    identity: Mapping[str, Any],
    task_id: str,
    info,
    scores: Mapping[str, float],
    n: int,
    n_truncated: int,
) -> dict[str, Any]:
    """One LawBench task's official score and abstention rate."""
    return {
        **identity,
        "task": task_id,
        "category": info.level,
        "metric": info.metric,
        "score": scores["score"],
        "n": n,
        "n_truncated": n_truncated,
        "abstention_rate": scores["abstention_rate"],
    }


def lawbench_task_rows(
    identity: Mapping[str, Any],
    task_id: str,
    info,
    scores: Mapping[str, float],
    n: int,
    n_truncated: int,
) -> list[dict[str, Any]]:
    """One LawBench task's rows: its official row, and for 2-1 the full-annotation row.

    The official 2-1 score emulates a clock (see
    :data:`flawn.evals.lawbench.scorers.TOLERANCE_NOTE`), so its scorer also
    returns the score with every output annotated in full. That score gets a
    row of its own, under task :data:`~flawn.evals.lawbench.scorers.FULL_ANNOTATION_TASK`
    and metric :data:`~flawn.evals.lawbench.scorers.FULL_ANNOTATION_METRIC`,
    rather than a column the fixed schema lacks; the distinct task name keeps
    it out of level and overall means (LawBench's ``aggregation.toml``
    excludes it, and :data:`flawn.results.UNAVERAGED_TASKS` lists it).
    Other tasks, and the corrected scorers, give one row.
    """
    from flawn.evals.lawbench.scorers import (
        FULL_ANNOTATION_KEY,
        FULL_ANNOTATION_METRIC,
        FULL_ANNOTATION_TASK,
    )

    official = lawbench_task_row(identity, task_id, info, scores, n, n_truncated)
    if FULL_ANNOTATION_KEY not in scores:
        return [official]
    full = {
        **official,
        "task": FULL_ANNOTATION_TASK,
        "metric": FULL_ANNOTATION_METRIC,
        "score": scores[FULL_ANNOTATION_KEY],
    }
    return [official, full]
