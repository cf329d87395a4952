"""LawBench: 20 Chinese legal tasks, their data files and the official scorers.

* :mod:`~flawn.evals.lawbench.tasks`: the task table (id, English and Chinese
  name, cognitive level, metric, item counts) and the loader of LawBench's
  ``data/{zero_shot,one_shot}/<id>.json`` files;
* :mod:`~flawn.evals.lawbench.scorers`: one function per task,
  ``(predictions, golds, origin_prompts=None) -> {"score", "abstention_rate"}``,
  reproducing the numbers of LawBench's ``evaluation/main.py``, plus seqio
  metric wrappers, and :data:`TOLERANCE_NOTE`, how far those numbers can be
  trusted (2-1 depends on a clock upstream), printed with every report;
* :mod:`~flawn.evals.lawbench.extraction`: how answers are read out of model
  output (option letters and labels, article numbers, prison terms, amounts,
  entities);
* :mod:`~flawn.evals.lawbench.rouge` and :mod:`~flawn.evals.lawbench.cherrant`:
  ROUGE-L on jieba words and the character-level ChERRANT F0.5;
* :mod:`~flawn.evals.lawbench.predictions`: scoring a folder of predictions
  in LawBench's own format and reporting the scores as a table or JSON.

Nothing here imports TensorFlow or JAX; jieba, cn2an, OpenCC and pypinyin are
imported when a scorer first needs them.
"""

from flawn.evals.lawbench.predictions import (
    format_scores,
    read_prediction_file,
    score_and_report,
    score_directory,
    score_prediction_file,
    scores_table,
    write_scores_json,
)
from flawn.evals.lawbench.scorers import (
    CORRECTED_SCORERS,
    FULL_ANNOTATION_KEY,
    FULL_ANNOTATION_METRIC,
    FULL_ANNOTATION_TASK,
    SCORERS,
    SEQIO_METRICS,
    TOLERANCE_NOTE,
    score_task,
    seqio_metric,
)
from flawn.evals.lawbench.tasks import (
    LawBenchExample,
    LawBenchTask,
    get_task,
    load_examples,
    read_task_file,
    task_table,
)

__all__ = [
    "CORRECTED_SCORERS",
    "FULL_ANNOTATION_KEY",
    "FULL_ANNOTATION_METRIC",
    "FULL_ANNOTATION_TASK",
    "SCORERS",
    "SEQIO_METRICS",
    "TOLERANCE_NOTE",
    "LawBenchExample",
    "LawBenchTask",
    "format_scores",
    "get_task",
    "load_examples",
    "read_prediction_file",
    "read_task_file",
    "score_and_report",
    "score_directory",
    "score_prediction_file",
    "score_task",
    "scores_table",
    "seqio_metric",
    "task_table",
    "write_scores_json",
]
