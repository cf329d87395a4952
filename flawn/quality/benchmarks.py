"""Benchmark items to decontaminate against: LegalBench and LawBench.

Items are read with flawn's own benchmark loaders
(:mod:`flawn.evals.legalbench.tasks`, :mod:`flawn.evals.lawbench.tasks`), so
they are exactly the items flawn evaluates on.

* **LegalBench**: every task folder (``<root>/tasks/<task>/`` or
  ``<root>/<task>/`` with a ``base_prompt.txt``) is read; its ``test.tsv``
  when present (as in a LegalBench checkout with its data), else its
  ``train.tsv`` (the shared copy has only the few-shot rows; the report says
  which split each task was checked on). With ``data`` the official test rows
  come from there instead (TSV folders or parquet, as for evaluation). An
  item's texts are the row's template slots (``text``, ``question``...) and
  its answer; the template itself is the same for every item and is not an
  item's content.
* **LawBench**: ``<data>/{zero_shot,one_shot}/<id>.json`` for each of the 20
  tasks; an item's texts are its question and its gold answer in each
  setting found (the two settings ask the same questions). The instruction
  and the one-shot demonstration are the same for every item of a task, so,
  as with LegalBench's template, they are not an item's content; left in,
  the windows across the instruction's end and the question's start would
  count towards an item's n-grams although only a verbatim copy of the
  whole prompt could match them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib

from flawn.errors import FlawnError

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class BenchmarkItem:
    """One benchmark item.

    Attributes:
        benchmark: ``legalbench`` or ``lawbench``.
        task: The task as results name it (``abercrombie``, ``2-1``).
        item: The item's id within the task (LegalBench ``index``, LawBench position).
        texts: The item's texts that are checked for overlap.
    """

    benchmark: str
    task: str
    item: str
    texts: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class BenchmarkTask:
    """Where a task's items came from.

    Attributes:
        benchmark: ``legalbench`` or ``lawbench``.
        task: The task.
        split: The split checked (``test``, ``train``, ``zero_shot+one_shot``...).
        source: The file(s) read.
        items: How many items the task has there.
    """

    benchmark: str
    task: str
    split: str
    source: str
    items: int


def _legalbench_task_dirs(root: pathlib.Path) -> list[pathlib.Path]:
    base = root / "tasks" if (root / "tasks").is_dir() else root
    return sorted(p for p in base.iterdir() if (p / "base_prompt.txt").is_file())


def load_legalbench_items(
    root: str | os.PathLike, data: str | os.PathLike | None = None
) -> tuple[list[BenchmarkTask], list[BenchmarkItem]]:
    """Reads every LegalBench task under ``root`` (see the module docstring).

    Args:
        root: A LegalBench checkout or LegalBench-format folder.
        data: Optional folder or parquet file with the official test rows.

    Returns:
        The tasks and their items, tasks in name order.

    Raises:
        FlawnError: If ``root`` holds no task folder, or a task's files are
            malformed (naming the task, file and line).
    """
    from flawn.evals.legalbench.tasks import load_legalbench, load_task

    root = pathlib.Path(root)
    if not root.is_dir():
        raise FlawnError(f"LegalBench folder {root} does not exist; pass --legalbench-dir")
    folders = _legalbench_task_dirs(root)
    if not folders:
        raise FlawnError(
            f"no LegalBench task folders (tasks/<task>/base_prompt.txt) under {root}; "
            "point --legalbench-dir at a LegalBench checkout"
        )
    tasks, items = [], []
    for folder in folders:
        if data is not None:
            task = load_legalbench(root, data, "test", [folder.name], allow_partial=True)[0]
            split = "test"
        elif (folder / "test.tsv").is_file():
            task, split = load_task(folder, "test"), "test"
        elif (folder / "train.tsv").is_file():
            task, split = load_task(folder, "train"), "train"
        else:
            log.warning("LegalBench task %s has neither test.tsv nor train.tsv; skipped", folder)
            continue
        tasks.append(
            BenchmarkTask("legalbench", task.name, split, task.split_path, len(task.examples))
        )
        for example in task.examples:
            texts = [example.fields.get(slot, "") for slot in task.slots] + [example.answer]
            items.append(
                BenchmarkItem("legalbench", task.name, example.index, tuple(dict.fromkeys(texts)))
            )
    return tasks, items


def load_lawbench_items(
    data_dir: str | os.PathLike,
) -> tuple[list[BenchmarkTask], list[BenchmarkItem]]:
    """Reads the LawBench task files found under ``data_dir`` (see the module docstring).

    Raises:
        FlawnError: If no task file is found, or one is malformed (naming the file).
    """
    from flawn.evals.lawbench.tasks import SHOTS, read_task_file, task_file, task_table

    data_dir = pathlib.Path(data_dir)
    tasks, items = [], []
    for task_id in task_table():
        texts: dict[int, list[str]] = {}
        shots, files = [], []
        for shot in SHOTS:
            path = task_file(task_id, shot, data_dir)
            if not path.is_file():
                continue
            shots.append(shot)
            files.append(str(path))
            examples = read_task_file(path, task_id)  # validates the file, naming it
            raw = json.loads(path.read_text(encoding="utf-8"))
            for example, item in zip(examples, raw, strict=True):
                texts.setdefault(example.index, []).extend((item["question"], example.gold))
        if not shots:
            continue
        tasks.append(
            BenchmarkTask("lawbench", task_id, "+".join(shots), ", ".join(files), len(texts))
        )
        for index, item_texts in sorted(texts.items()):
            items.append(
                BenchmarkItem("lawbench", task_id, str(index), tuple(dict.fromkeys(item_texts)))
            )
    if not tasks:
        raise FlawnError(
            f"no LawBench task files ({'|'.join(SHOTS)}/<id>.json) under {data_dir}; "
            "pass --lawbench-dir (LawBench's data/ folder)"
        )
    return tasks, items


def default_dirs() -> dict[str, str | None]:
    """Where the benchmarks are by default: the environment, else ``../shared/data``.

    The same places :func:`flawn.tasks.register_benchmarks` looks:
    ``FLAWN_LEGALBENCH_DIR`` / ``FLAWN_LEGALBENCH_DATA`` / ``FLAWN_LAWBENCH_DIR``,
    else the shared data folder.
    """
    from flawn import paths

    shared = paths.shared_data_dir()
    legalbench = os.environ.get("FLAWN_LEGALBENCH_DIR") or (
        str(shared / "legalbench") if shared and (shared / "legalbench").is_dir() else None
    )
    lawbench = os.environ.get("FLAWN_LAWBENCH_DIR") or (
        str(shared / "lawbench" / "data")
        if shared and (shared / "lawbench" / "data").is_dir()
        else None
    )
    return {
        "legalbench": legalbench,
        "legalbench_data": os.environ.get("FLAWN_LEGALBENCH_DATA") or None,
        "lawbench": lawbench,
    }


def load_items(
    benchmarks: tuple[str, ...],
    legalbench_dir: str | None = None,
    legalbench_data: str | None = None,
    lawbench_dir: str | None = None,
) -> tuple[list[BenchmarkTask], list[BenchmarkItem]]:
    """The tasks and items of the named benchmarks, from the given folders or the defaults.

    Raises:
        FlawnError: If a benchmark's folder is neither given nor found.
    """
    defaults = default_dirs()
    tasks, items = [], []
    if "legalbench" in benchmarks:
        root = legalbench_dir or defaults["legalbench"]
        if root is None:
            raise FlawnError(
                "no LegalBench folder: pass --legalbench-dir (a LegalBench checkout) or set "
                "FLAWN_LEGALBENCH_DIR"
            )
        found = load_legalbench_items(root, legalbench_data or defaults["legalbench_data"])
        tasks += found[0]
        items += found[1]
    if "lawbench" in benchmarks:
        root = lawbench_dir or defaults["lawbench"]
        if root is None:
            raise FlawnError(
                "no LawBench folder: pass --lawbench-dir (LawBench's data/ folder) or set "
                "FLAWN_LAWBENCH_DIR"
            )
        found = load_lawbench_items(root)
        tasks += found[0]
        items += found[1]
    return tasks, items
