"""Tidy result rows: the contract between evaluation and analysis.

Every evaluated run writes two JSON Lines files per suite under
``<run_dir>/eval/<suite>/``:

* ``examples.jsonl``: one row per (task, example) with the prediction, the
  gold answer and the per-example value;
* ``tasks.jsonl``: one row per task with its official score (and, for
  LawBench, the abstention rate; ``null`` where a benchmark has none).

Both carry the run's identity (:class:`RunInfo`, every sweep axis included)
and the evaluation's identity (suite, scoring mode, eval id) in every row, so
rows from many runs can be concatenated and grouped without joins, and rows
scored differently are never averaged together. This module imports neither
TensorFlow nor JAX.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any

EXAMPLES_FILE = "examples.jsonl"
TASKS_FILE = "tasks.jsonl"


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """Identity of a run, repeated in each of its result rows.

    Attributes:
        run_id: The run's id (the hash of its RunSpec, see :mod:`flawn.runs.spec`).
        run_name: Human-readable name from the sweep axes.
        sweep: The sweep (study) the run belongs to.
        mixture: The training mixture or task (of the final stage).
        size: The model size (name of the model gin file).
        regime: The training regime, e.g. ``finetune``.
        seed: The run's seed.
        backend: The backend that trained it (``local`` or ``t5x``).
        axes: Every sweep axis value of the run, by axis name.
    """

    run_id: str
    run_name: str
    sweep: str
    mixture: str
    size: str
    regime: str
    seed: int
    backend: str = "local"
    axes: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def unswept(cls, name: str, mixture: str, seed: int) -> RunInfo:
        """The identity of a training folder outside any sweep: its name, mixture and seed."""
        return cls(
            run_id=name, run_name=name, sweep="", mixture=mixture, size="", regime="", seed=seed
        )

    def as_row(self) -> dict[str, Any]:
        """The identity columns of a result row."""
        return dataclasses.asdict(self)


#: The identity columns every row starts with (the fields of :class:`RunInfo`).
RUN_FIELDS = tuple(field.name for field in dataclasses.fields(RunInfo))

#: Columns of a per-example row, in order.
EXAMPLE_COLUMNS = (
    *RUN_FIELDS,
    "eval_id",
    "suite",
    "mode",
    "task",
    "example",
    "prompt_hash",
    "prediction",
    "gold",
    "metric",
    "value",
    "truncated",
)
#: Columns of a per-task row, in order.
TASK_COLUMNS = (
    *RUN_FIELDS,
    "eval_id",
    "suite",
    "mode",
    "task",
    "category",
    "metric",
    "score",
    "n",
    "n_truncated",
    "abstention_rate",
)

#: Task names of per-task rows that report another scoring of a task beside it.
#: Tables show them but never average them with the tasks: LawBench's 2-1 with
#: every output annotated in full (see :mod:`flawn.evals.lawbench.scorers`).
UNAVERAGED_TASKS = frozenset({"2-1.full_annotation"})


def write_rows(
    path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], columns: tuple[str, ...]
) -> int:
    """Writes rows as JSON Lines with exactly ``columns``, in that order.

    Raises:
        ValueError: If a row lacks a column or has an extra one.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            if set(row) != set(columns):
                missing = sorted(set(columns) - set(row))
                extra = sorted(set(row) - set(columns))
                raise ValueError(
                    f"result row does not match the schema: missing {missing}, extra {extra}"
                )
            out.write(json.dumps({c: row[c] for c in columns}, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Reads a JSON Lines result file."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def eval_dir(run_dir: str | os.PathLike, eval_id: str) -> pathlib.Path:
    """Where a run's results of one evaluation live (see :meth:`flawn.runs.RunDir.eval_dir`)."""
    return pathlib.Path(run_dir) / "eval" / eval_id
