"""``t5x.infer`` output of a run -> the tidy rows flawn's own evaluator writes.

``python -m flawn.t5x.score RUN_DIR [--predictions-root DIR]`` is the last
step of ``launch.sh`` (and of ``pod.sh``, after copying the predictions back).
For every generation-mode evaluation in ``<run>/t5x/plan.json`` it reads
``<predictions-root>/<key>/<task>-predict.jsonl-*``, scores each task
through its seqio definition (its postprocessor and metric functions,
:func:`flawn.evals.t5x_predictions.score_task_rows`, as T5X's evaluator
does), and writes ``examples.jsonl``, ``tasks.jsonl`` (and LegalBench's
``summary.json``) to ``run_dir.eval_dir(eval_id)`` with ``eval.json`` last.

The eval id is the one flawn's evaluator gives the same evaluation of the
same checkpoint (settings, fitted input length, the final stage's step, the
suite's files), so a sweep sees the evaluation as done either way; per-example
columns (prompt hash, truncation) are computed from the suite's own rows as
:mod:`flawn.evals.runner` computes them, and the predictions are checked
against those rows (same count, same gold answers, in order).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from typing import Any

from etils import epath

from flawn.errors import FlawnError
from flawn.evals import rows
from flawn.runs.run_dir import RunDir
from flawn.runs.spec import EvalSpec
from flawn.t5x.layout import T5XLayout
from flawn.t5x.plan import EvalPlan, RunPlan

log = logging.getLogger(__name__)


@dataclasses.dataclass
class ScoredEval:
    """One evaluation scored from T5X predictions.

    Attributes:
        key: The plan's key (``e0``, ...).
        eval_id: Its identity (the folder under ``eval/``).
        rows: Per-task rows.
        reused: Whether finished rows of the same predictions were found and
            nothing was recomputed.
    """

    key: str
    eval_id: str
    rows: list[dict[str, Any]]
    reused: bool


def _vocabulary(plan: RunPlan):
    from flawn.vocab import load_vocabulary

    return load_vocabulary(plan.vocabulary_path(), plan.extra_ids)


def _task_predictions(folder: epath.Path, task_name: str) -> list[dict]:
    from flawn.evals.t5x_predictions import read_t5x_file

    files = sorted(folder.glob(f"{task_name}-predict.jsonl*"))
    files = [f for f in files if not f.name.endswith(".COMPLETED")]
    if not files:
        raise FlawnError(
            f"{folder}: no t5x.infer predictions for task {task_name} "
            f"(expected {task_name}-predict.jsonl-00000-of-00001); run `launch.sh infer` first"
        )
    return [row for f in files for row in read_t5x_file(os.fspath(f))]


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _check_alignment(task: str, rows: Sequence[dict], golds: Sequence[str], where) -> None:
    if len(rows) != len(golds):
        raise FlawnError(
            f"{where}: {len(rows)} predictions for task {task}, which has {len(golds)} rows; "
            "infer again (the suite's files changed, or the output is incomplete)"
        )
    for number, (row, gold) in enumerate(zip(rows, golds, strict=True)):
        if _text(row["targets"]).strip() != gold.strip():
            raise FlawnError(
                f"{where}: prediction {number} of task {task} has gold {row['targets']!r}, the "
                f"suite's row has {gold!r}: the predictions are not of this suite's rows"
            )


def _legalbench_rows(spec, identity, input_length, vocabulary, folder):
    """Rows of a LegalBench-format suite, as :func:`flawn.evals.runner.evaluate_legalbench`."""
    from flawn.evals.legalbench import metrics
    from flawn.evals.legalbench.table import MANUAL_NOTE, MANUAL_TASKS
    from flawn.evals.run import load_legalbench_format_tasks
    from flawn.evals.t5x_predictions import score_task_rows
    from flawn.t5x.eval_tasks import suite_task_name, task_names
    from flawn.tasks.benchmarks import legalbench_task_name

    task_names(spec)  # registers a suite folder's tasks in this process
    example_rows, task_rows, summary_tasks, excluded = [], [], {}, {}
    for task in load_legalbench_format_tasks(spec):
        if task.name in MANUAL_TASKS or task.metric == metrics.MANUAL:
            excluded[task.name] = MANUAL_NOTE
            continue
        seqio_name = (
            legalbench_task_name(task.name)
            if spec.suite == "legalbench"
            else suite_task_name(spec.suite_name, task.name)
        )
        predicted = _task_predictions(folder, seqio_name)
        _check_alignment(task.name, predicted, [e.answer for e in task.examples], folder)
        examples = list(task.examples[: spec.limit] if spec.limit else task.examples)
        predicted = predicted[: len(examples)]
        fitted = [task.fit(e, vocabulary.encode, input_length, spec.overflow) for e in examples]
        # t5x.infer cannot leave an item out; overflow='skip' drops it from the score here.
        kept = [
            (e, f, p) for e, f, p in zip(examples, fitted, predicted, strict=True) if not f.skipped
        ]
        if not kept:
            raise FlawnError(f"task {task.name}: overflow='skip' left nothing to score")
        scored = score_task_rows(seqio_name, [p for _, _, p in kept])
        score = float(scored.metrics[task.metric])
        for (example, fit, _), prediction in zip(kept, scored.predictions, strict=True):
            example_rows.append(
                rows.legalbench_example_row(identity, task, example, fit, prediction)
            )
        counts = rows.truncation_counts(fitted)
        task_rows.append(
            rows.legalbench_task_row(identity, task, score, len(kept), counts["n_truncated"])
        )
        summary_tasks[task.name] = {"n_rows": len(examples), "n_scored": len(kept), **counts}
    summary = rows.legalbench_summary(
        identity, input_length, spec.overflow, excluded, summary_tasks
    )
    return example_rows, task_rows, summary


def _lawbench_rows(spec, identity, input_length, vocabulary, folder):
    """Rows of LawBench, as :func:`flawn.evals.runner.evaluate_lawbench`."""
    from flawn.evals.lawbench import tasks as lawbench_tasks
    from flawn.evals.lawbench.scorers import score_task
    from flawn.evals.t5x_predictions import score_task_rows
    from flawn.t5x.eval_tasks import task_names
    from flawn.tasks.benchmarks import lawbench_task_name

    task_names(spec)
    example_rows, task_rows = [], []
    for task_id in spec.tasks or lawbench_tasks.task_table():
        info = lawbench_tasks.get_task(task_id)
        seqio_name = lawbench_task_name(task_id, spec.shot)
        every = lawbench_tasks.load_examples(task_id, spec.shot, None)
        predicted = _task_predictions(folder, seqio_name)
        _check_alignment(task_id, predicted, [e.gold for e in every], folder)
        examples = every[: spec.limit] if spec.limit else every
        predicted = predicted[: len(examples)]
        outputs = [_text(p["prediction"]) for p in predicted]
        golds = [e.gold for e in examples]
        prompts = [e.prompt for e in examples]
        if spec.corrected:
            scores = score_task(task_id, outputs, golds, prompts, corrected=True)
        else:
            scores = score_task_rows(seqio_name, predicted).metrics
        # As flawn.evals.generation.encode_prompt: the prompt plus EOS must fit.
        truncated = [len(vocabulary.encode(p)) + 1 > input_length for p in prompts]
        for example, output, cut in zip(examples, outputs, truncated, strict=True):
            single = score_task(task_id, [output], [example.gold], [example.prompt], spec.corrected)
            example_rows.append(
                rows.lawbench_example_row(
                    identity, task_id, example, info.metric, output, single["score"], cut
                )
            )
        task_rows.extend(
            rows.lawbench_task_rows(identity, task_id, info, scores, len(examples), sum(truncated))
        )
    return example_rows, task_rows, None


def predictions_digest(folder: str | os.PathLike) -> str | None:
    """A hash of the content of one evaluation's ``t5x.infer`` output; ``None`` if there is none.

    Scoring is reused only for the predictions it was made from: a new
    ``infer`` (same checkpoint, same settings, hence the same eval id) is
    scored again. Content, not modification times: copying the files back
    from Cloud Storage (``pod.sh score``) gives them new times.
    """
    folder = epath.Path(folder)
    if not folder.exists():
        return None
    files = sorted(
        (f for f in folder.glob("*-predict.jsonl*") if not f.name.endswith(".COMPLETED")),
        key=lambda f: f.name,
    )
    if not files:
        return None
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode("utf-8") + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def score_eval(
    run_dir: RunDir,
    plan: RunPlan,
    e: EvalPlan,
    predictions: str | os.PathLike,
    force: bool = False,
) -> ScoredEval:
    """Scores one evaluation's predictions and writes its rows (``eval.json`` last).

    Args:
        run_dir: The run folder.
        plan: The run's T5X plan (``t5x/plan.json``).
        e: The evaluation.
        predictions: Its ``t5x.infer`` output folder.
        force: Score again even if finished rows of the same predictions exist.

    Raises:
        FlawnError: If predictions are missing or do not match the suite's rows.
    """
    from flawn.evals.run import request_key, run_info, suite_fingerprint
    from flawn.results import (
        EXAMPLE_COLUMNS,
        EXAMPLES_FILE,
        TASK_COLUMNS,
        TASKS_FILE,
        read_rows,
        write_rows,
    )

    spec: EvalSpec = e.eval_spec
    final = plan.final_stage
    step = final.end_step - final.start_step  # flawn counts a stage's steps from 0
    fingerprint = suite_fingerprint(spec)
    identity_id = spec.eval_id(e.input_length, step, fingerprint)
    out = run_dir.eval_dir(identity_id)
    digest = predictions_digest(predictions)
    if run_dir.has_eval(identity_id) and not force:
        recorded = (run_dir.read_eval_spec(identity_id) or {}).get("predictions_digest")
        if digest is None or recorded == digest:  # nothing new to score
            return ScoredEval(e.key, identity_id, read_rows(os.fspath(out / TASKS_FILE)), True)
        log.info("%s: new predictions in %s, scoring them again", identity_id, predictions)
    if out.exists():  # an unfinished earlier attempt: start it clean
        shutil.rmtree(os.fspath(out))
    info = run_info(run_dir)
    identity = {
        **info.as_row(),
        "eval_id": identity_id,
        "suite": spec.suite_name,
        "mode": spec.mode,
    }
    folder = epath.Path(predictions)
    build = _lawbench_rows if spec.suite == "lawbench" else _legalbench_rows
    example_rows, task_rows, summary = build(
        spec, identity, e.input_length, _vocabulary(plan), folder
    )
    if not task_rows:
        raise FlawnError(f"evaluation {identity_id} of {run_dir.path} scored no task")
    write_rows(out / EXAMPLES_FILE, example_rows, EXAMPLE_COLUMNS)
    write_rows(out / TASKS_FILE, task_rows, TASK_COLUMNS)
    if summary is not None:
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    run_dir.write_eval_spec(
        identity_id,
        {
            "eval_id": identity_id,
            "spec": dataclasses.asdict(spec),
            "describe": spec.describe(),
            "step": step,
            "input_length": e.input_length,
            "suite_data": fingerprint,
            "backend": "t5x",
            "t5x_checkpoint_step": final.end_step,
            # launch.sh exports the activation dtype t5x.infer decoded in (bfloat16 on TPU).
            "activation_dtype": os.environ.get("FLAWN_T5X_DTYPE", "bfloat16"),
            "scored_from": "t5x.infer predictions",
            "predictions_digest": digest,
        },
    )
    if run_dir.is_sweep_run:  # the sweep's status then counts this evaluation as done
        done = dict(run_dir.read_status().get("evals") or {})
        done[request_key(spec)] = identity_id
        run_dir.update_status(evals=done)
    return ScoredEval(e.key, identity_id, task_rows, False)


def score_run(
    run_dir: RunDir | str | os.PathLike,
    predictions_root: str | os.PathLike | None = None,
    force: bool = False,
) -> list[ScoredEval]:
    """Scores every generation-mode evaluation of a run from its ``t5x.infer`` output.

    Args:
        run_dir: The run folder.
        predictions_root: Folder with one ``<key>/`` per evaluation (default
            ``<run>/t5x/predictions``).
        force: Score again even if finished rows of the same predictions exist.
    """
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    layout = T5XLayout(run_dir.t5x_dir)
    plan = RunPlan.from_json(layout.read_plan())
    root = epath.Path(predictions_root) if predictions_root else layout.root / layout.PREDICTIONS
    return [score_eval(run_dir, plan, e, root / e.key, force) for e in plan.evals if e.runs_on_t5x]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m flawn.t5x.score RUN_DIR [--predictions-root DIR] [--force]``."""
    parser = argparse.ArgumentParser(
        prog="python -m flawn.t5x.score",
        description="Score a run's t5x.infer predictions into flawn's tidy rows.",
    )
    parser.add_argument("run_dir", help="the run folder (holding t5x/plan.json)")
    parser.add_argument(
        "--predictions-root", help="t5x.infer output, one folder per evaluation key"
    )
    parser.add_argument("--force", action="store_true", help="score again even if done")
    args = parser.parse_args(argv)
    try:
        scored = score_run(args.run_dir, args.predictions_root, args.force)
    except (FlawnError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for s in scored:
        state = "done earlier (same predictions)" if s.reused else "scored"
        print(f"== {s.key}: eval/{s.eval_id} {state}")
        for row in s.rows:
            print(f"   {row['task']:>32}  {row['metric']} {row['score']:.3f}  (n={row['n']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
