"""Running an evaluation suite on a trained model and writing tidy rows."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence

from tqdm.auto import tqdm

from flawn.errors import FlawnError
from flawn.evals import rows
from flawn.evals.generation import generate, generate_ids
from flawn.evals.legalbench import metrics
from flawn.evals.legalbench.prompts import OVERFLOW_POLICIES
from flawn.evals.legalbench.table import MANUAL_NOTE, MANUAL_TASKS
from flawn.evals.legalbench.tasks import LegalBenchTask
from flawn.results import (
    EXAMPLE_COLUMNS,
    EXAMPLES_FILE,
    TASK_COLUMNS,
    TASKS_FILE,
    RunInfo,
    eval_dir,
    write_rows,
)

log = logging.getLogger(__name__)

#: Scoring modes of :func:`evaluate_legalbench`.
MODES = ("generation", "rank_classification")

#: Per-suite file with the mode, the truncation policy and counts, and the excluded tasks.
SUMMARY_FILE = "summary.json"


def _predict(
    mode: str,
    task: LegalBenchTask,
    prompt_ids: list[tuple[int, ...]],
    model,
    params,
    vocabulary,
    input_length: int,
    max_decode_length: int,
    batch_size: int,
    scorer,
) -> tuple[list[str], int]:
    """Predictions for the kept prompts, and the number of labels ranked (0 for generation)."""
    if mode == "generation":
        texts = generate_ids(
            model, params, vocabulary, prompt_ids, input_length, max_decode_length, batch_size
        )
        return texts, 0
    from flawn.evals import rank_classification as rc

    if task.metric != "balanced_accuracy":
        raise FlawnError(
            f"task {task.name}: rank classification needs a closed label set, but the task is "
            f"scored with {task.metric} (open answers); evaluate it with mode='generation'"
        )
    labels = task.label_set()
    ranked = rc.rank_classify(
        prompt_ids,
        labels,
        rc.encode_labels(vocabulary, labels),
        scorer or rc.model_scorer(model, params),
        input_length,
        batch_size,
    )
    return [r.label for r in ranked], len(labels)


def evaluate_legalbench(
    model,
    params,
    vocabulary,
    tasks: Sequence[LegalBenchTask],
    run: RunInfo,
    run_dir: str | os.PathLike,
    suite: str,
    input_length: int,
    max_decode_length: int = 16,
    *,
    mode: str = "generation",
    overflow: str = "cut_item_start",
    batch_size: int = 64,
    scorer=None,
    eval_id: str | None = None,
) -> list[dict]:
    """Answers every task, scores the answers, and writes the rows.

    Two scoring modes:

    * ``generation``: greedy decoding, outputs cut at the first newline (as
      LegalBench does), then the task's official metric;
    * ``rank_classification``: for closed-label tasks, the label with the
      highest log-likelihood is the prediction (see
      :mod:`flawn.evals.rank_classification`), then the official metric.

    Prompts longer than ``input_length`` follow :func:`truncation_policy`
    (:func:`flawn.evals.legalbench.prompts.fit_prompt`). Hand-graded tasks
    (``rule_qa``) are left out, logged, and listed with :data:`MANUAL_NOTE`
    in ``summary.json``. Per-example rows carry the per-example value named
    by :func:`flawn.evals.legalbench.metrics.example_metric` and whether the
    prompt was truncated; per-task rows carry the official score and
    ``n_truncated`` (every example whose prompt lost anything). The finer
    counts (demonstrations dropped, description dropped, item cut, skipped),
    the mode and the policy go to ``eval/<suite>/summary.json``. Skipped
    examples (``overflow="skip"``) are not in the score; ``n`` counts the
    scored ones.

    Args:
        model: The Flax T5.
        params: Its parameters.
        vocabulary: The seqio vocabulary.
        tasks: The loaded tasks.
        run: The run's identity, repeated in every row.
        run_dir: The run folder; rows go to ``run_dir/eval/<eval_id>/``.
        suite: Name of the suite, e.g. ``sample``.
        input_length: Encoder length.
        max_decode_length: Most tokens generated per answer (generation).
        mode: ``generation`` or ``rank_classification``.
        overflow: What to do with a test item that alone exceeds
            ``input_length``: ``cut_item_start`` or ``skip``.
        batch_size: Prompts per model call (rank classification scores
            ``batch_size * labels`` targets per call).
        scorer: Rank classification only: a stand-in for the model's scorer
            (see :data:`flawn.evals.rank_classification.Scorer`).
        eval_id: The evaluation's identity (see :class:`flawn.runs.EvalSpec`);
            names the folder and fills the rows' ``eval_id`` column. Defaults
            to ``<suite>.<mode>``.

    Returns:
        The per-task rows (also written to ``tasks.jsonl``).

    Raises:
        FlawnError: If a task has no rows, every example of a task was
            skipped, or rank classification is asked of an open-answer task.
        ValueError: For an unknown mode, overflow policy or metric.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, got {overflow!r}")
    eval_id = eval_id or f"{suite}.{mode}"
    identity = {**run.as_row(), "eval_id": eval_id, "suite": suite, "mode": mode}
    example_rows, task_rows, summary_tasks, excluded = [], [], {}, {}
    for task in tqdm(tasks, desc=f"eval {run.run_name}", unit="task", leave=False, disable=None):
        if task.name in MANUAL_TASKS or task.metric == metrics.MANUAL:
            excluded[task.name] = MANUAL_NOTE
            log.warning("%s: not scored. %s", task.name, MANUAL_NOTE)
            continue
        if not task.examples:
            raise FlawnError(f"task {task.name}: {task.split_path} has no rows to score")
        metric_fn = metrics.metric_fn(task.metric, task.name)
        fitted = [task.fit(e, vocabulary.encode, input_length, overflow) for e in task.examples]
        kept = [(e, f) for e, f in zip(task.examples, fitted, strict=True) if not f.skipped]
        if not kept:
            raise FlawnError(
                f"task {task.name}: every test item is longer than input_length={input_length} "
                "and overflow='skip' left nothing to score"
            )
        predictions, n_labels = _predict(
            mode,
            task,
            [f.ids for _, f in kept],
            model,
            params,
            vocabulary,
            input_length,
            max_decode_length,
            batch_size,
            scorer,
        )
        answers = [e.answer for e, _ in kept]
        score = float(metric_fn(predictions, answers))
        counts = rows.truncation_counts(fitted)
        for (example, fit), prediction in zip(kept, predictions, strict=True):
            example_rows.append(
                rows.legalbench_example_row(identity, task, example, fit, prediction)
            )
        task_rows.append(
            rows.legalbench_task_row(identity, task, score, len(kept), counts["n_truncated"])
        )
        summary_tasks[task.name] = {
            "n_rows": len(task.examples),
            "n_scored": len(kept),
            **counts,
            **({"n_labels": n_labels} if mode == "rank_classification" else {}),
        }
        log.info(
            "%s %s (%s): %s %.3f (%d examples, %d truncated, %d item cut, %d skipped)",
            run.run_name,
            task.name,
            mode,
            task.metric,
            score,
            len(kept),
            counts["n_truncated"],
            counts["n_item_cut"],
            counts["n_skipped"],
        )
    out = eval_dir(run_dir, eval_id)
    write_rows(out / EXAMPLES_FILE, example_rows, EXAMPLE_COLUMNS)
    write_rows(out / TASKS_FILE, task_rows, TASK_COLUMNS)
    summary = rows.legalbench_summary(identity, input_length, overflow, excluded, summary_tasks)
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return task_rows


def evaluate_lawbench(
    model,
    params,
    vocabulary,
    task_ids: Sequence[str],
    run: RunInfo,
    run_dir: str | os.PathLike,
    input_length: int,
    max_decode_length: int = 64,
    *,
    shot: str = "zero_shot",
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    corrected: bool = False,
    batch_size: int = 64,
    eval_id: str | None = None,
) -> list[dict]:
    """Generates answers to LawBench tasks, scores them officially, and writes the rows.

    The prompt is LawBench's (instruction, newline, question); a prompt longer
    than the input keeps its end (the question and its options) and is counted
    as truncated. Outputs are kept whole, as LawBench scores them. Per-example
    rows carry the task's scorer applied to that example alone; per-task rows
    the official score and abstention rate, plus, for 2-1 scored officially,
    a ``2-1.full_annotation`` row (see :func:`flawn.evals.rows.lawbench_task_rows`).

    Args:
        model: The Flax T5.
        params: Its parameters.
        vocabulary: The seqio vocabulary.
        task_ids: LawBench task ids, e.g. ``["1-2", "3-6"]``.
        run: The run's identity.
        run_dir: The run folder; rows go to ``run_dir/eval/<eval_id>/``.
        input_length: Encoder length.
        max_decode_length: Most tokens generated per answer.
        shot: ``zero_shot`` or ``one_shot``.
        data_dir: LawBench's data folder (default: the shared copy).
        limit: Only the first ``limit`` items per task; the rows say how many
            were scored, so a partial run is never mistaken for a full one.
        corrected: Use the corrected scorers instead of the official ones.
        batch_size: Prompts per decoding call.
        eval_id: The evaluation's identity (folder and ``eval_id`` column);
            defaults to ``lawbench.<shot>.generation``.

    Returns:
        The per-task rows (2-1 scored officially gives two).
    """
    from flawn.evals.lawbench import tasks as lawbench_tasks
    from flawn.evals.lawbench.scorers import score_task

    suite = f"lawbench.{shot}"
    eval_id = eval_id or f"{suite}.generation"
    identity = {**run.as_row(), "eval_id": eval_id, "suite": suite, "mode": "generation"}
    example_rows, task_rows = [], []
    for task_id in tqdm(
        task_ids, desc=f"lawbench {run.run_name}", unit="task", leave=False, disable=None
    ):
        info = lawbench_tasks.get_task(task_id)
        examples = lawbench_tasks.load_examples(task_id, shot, data_dir)[:limit]
        generations = generate(
            model,
            params,
            vocabulary,
            [e.prompt for e in examples],
            input_length,
            max_decode_length,
            batch_size,
            cut_at_newline=False,
        )
        outputs = [g.text for g in generations]
        golds = [e.gold for e in examples]
        prompts = [e.prompt for e in examples]
        scores = score_task(task_id, outputs, golds, prompts, corrected=corrected)
        for example, generation in zip(examples, generations, strict=True):
            output, truncated = generation.text, generation.truncated
            single = score_task(task_id, [output], [example.gold], [example.prompt], corrected)
            example_rows.append(
                rows.lawbench_example_row(
                    identity, task_id, example, info.metric, output, single["score"], truncated
                )
            )
        task_rows.extend(
            rows.lawbench_task_rows(
                identity,
                task_id,
                info,
                scores,
                len(examples),
                sum(g.truncated for g in generations),
            )
        )
    out = eval_dir(run_dir, eval_id)
    write_rows(out / EXAMPLES_FILE, example_rows, EXAMPLE_COLUMNS)
    write_rows(out / TASKS_FILE, task_rows, TASK_COLUMNS)
    return task_rows
