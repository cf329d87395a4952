"""Evaluation during training: a suite's scores every N steps, logged as curves.

These are curves, not results: the scores go to the metrics file and W&B as
``eval/<suite>/<task>`` and ``eval/<suite>/mean`` at the step, and nothing
is written to the run's ``eval/`` folder, which holds only the final
evaluations with their identities (:mod:`flawn.evals.run`). Scoring is
flawn's evaluator itself (:func:`flawn.evals.runner.evaluate_legalbench`,
greedy generation and each task's official metric), so a curve's last point
and the final evaluation of the same checkpoint with the same settings agree.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
from typing import Any

from flawn.errors import ConfigError
from flawn.results import RunInfo
from flawn.train.config import TrainConfig


class EvalCurve:
    """Scores a model's current parameters on a LegalBench-format suite.

    The suite's tasks are loaded once, when the curve is made, so a wrong
    suite or task name stops the run before it trains.

    Args:
        config: The run's config (``eval_every``, ``eval_suite``,
            ``eval_tasks``, ``eval_max_decode_length``, ``eval_limit``).
        model: The Flax T5.
        vocabulary: The seqio vocabulary.
        run_name: Shown in the evaluator's progress bar.

    Raises:
        ConfigError: If the suite or a task cannot be loaded.
    """

    def __init__(self, config: TrainConfig, model, vocabulary, run_name: str = "train"):
        from flawn.evals.run import check_eval_spec, load_legalbench_format_tasks
        from flawn.runs.spec import EvalSpec

        if config.eval_suite == "lawbench":
            raise ConfigError(
                "TrainConfig.eval_suite: in-training evaluation scores LegalBench-format "
                "suites (sample, legalbench, or a folder); evaluate LawBench after training"
            )
        self.every = config.eval_every
        self.spec = EvalSpec(
            suite=config.eval_suite,
            tasks=tuple(config.eval_tasks) or None,
            max_decode_length=config.eval_max_decode_length,
            limit=config.eval_limit or None,
        )
        check_eval_spec(self.spec)
        tasks = load_legalbench_format_tasks(self.spec)
        if self.spec.limit:
            tasks = [dataclasses.replace(t, examples=t.examples[: self.spec.limit]) for t in tasks]
        self.tasks = tasks
        self.suite = self.spec.suite_name
        self.model, self.vocabulary = model, vocabulary
        self.input_length = dict(config.task_feature_lengths)["inputs"]
        self.run = RunInfo.unswept(run_name, config.mixture_or_task_name, config.seed)

    def due(self, step: int) -> bool:
        """Whether to evaluate after ``step``."""
        return bool(self.every) and step % self.every == 0

    def __call__(self, params: Any) -> dict[str, float]:
        """Scores ``params`` (the bare parameter tree) and returns the curve points.

        Returns:
            ``{"eval/<suite>/<task>": score, ..., "eval/<suite>/mean": mean}``.
        """
        from flawn.evals.runner import evaluate_legalbench

        # The evaluator writes its rows into a run folder; a throw-away one keeps the
        # run's eval/ folder for final evaluations only.
        with tempfile.TemporaryDirectory(prefix="flawn-eval-curve-") as scratch:
            rows = evaluate_legalbench(
                self.model,
                {"params": params},
                self.vocabulary,
                self.tasks,
                self.run,
                scratch,
                self.suite,
                self.input_length,
                self.spec.max_decode_length,
                mode=self.spec.mode,
                overflow=self.spec.overflow,
            )
        points = {f"eval/{self.suite}/{row['task']}": float(row["score"]) for row in rows}
        if points:
            points[f"eval/{self.suite}/mean"] = statistics.fmean(points.values())
        return points
