"""Decontamination: which training examples overlap which benchmark items.

An example overlaps an item when it shares at least ``min_shared`` distinct
n-grams with it, or at least ``min_coverage`` of the item's n-grams, n-grams
of the task's template and of the benchmarks' stop list left out (see
:class:`~flawn.quality.config.DecontaminationConfig` and
:mod:`flawn.quality.ngrams`). One shared n-gram is not enough: stock legal
phrases recur across unrelated texts, the more so in Chinese.

Every example read is checked (:meth:`Decontaminator.scan`), whatever other
filters later decide, so the report describes the source as it is; the
filter (:meth:`Decontaminator.__call__`) then removes the overlapping ones
unless the config says to only report them.
"""

from __future__ import annotations

import collections
import hashlib
import json

from flawn.quality.benchmarks import BenchmarkItem, BenchmarkTask, load_items
from flawn.quality.config import DecontaminationConfig
from flawn.quality.ngrams import NgramIndex


def items_digest(items: list[BenchmarkItem]) -> str:
    """A hash of the benchmark items' identities and texts (part of a cleaned copy's identity)."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(json.dumps([item.benchmark, item.task, item.item, item.texts]).encode())
    return digest.hexdigest()


class Decontaminator:
    """Checks examples against benchmark items and tallies overlaps per source and task.

    Args:
        config: The settings (benchmarks, n-gram size, folders).
        tasks: Benchmark tasks (default: loaded from the configured folders).
        items: Their items (given together with ``tasks``).
        progress: Show progress bars while indexing.
    """

    def __init__(
        self,
        config: DecontaminationConfig,
        tasks: list[BenchmarkTask] | None = None,
        items: list[BenchmarkItem] | None = None,
        progress: bool = True,
    ):
        if tasks is None or items is None:
            tasks, items = load_items(
                config.benchmarks,
                config.legalbench_dir,
                config.legalbench_data,
                config.lawbench_dir,
            )
        self.config = config
        self.tasks = tasks
        self.items = items
        self.digest = items_digest(items)
        self.index = NgramIndex(
            items,
            config.ngram,
            config.min_tokens,
            config.template_share,
            config.template_min_items,
            config.stop_texts,
            progress,
        )
        # source index -> item indices its examples overlap; -> examples overlapping per task.
        self._items_hit: dict[int, set[int]] = collections.defaultdict(set)
        self._examples: dict[int, collections.Counter] = collections.defaultdict(
            collections.Counter
        )

    def overlapping(self, shared: dict[int, int]) -> set[int]:
        """The items an example overlaps, given its shared n-grams per item.

        An item counts when the example shares at least ``min_shared`` of its
        n-grams, or at least ``min_coverage`` of them.
        """
        totals = self.index.item_ngrams
        return {
            item
            for item, count in shared.items()
            if count >= self.config.min_shared or count >= self.config.min_coverage * totals[item]
        }

    def scan(self, examples: list) -> None:
        """Sets each example's ``overlaps`` and tallies them by source."""
        found = self.index.shared([example.units for example in examples])
        for example, shared in zip(examples, found, strict=True):
            hits = self.overlapping(shared)
            if not hits:
                continue
            example.overlaps = tuple(sorted(hits))
            self._items_hit[example.source].update(hits)
            for task in {self._task_key(i) for i in hits}:
                self._examples[example.source][task] += 1

    def _task_key(self, index: int) -> tuple[str, str]:
        item = self.items[index]
        return item.benchmark, item.task

    def __call__(self, example) -> str | None:
        """``contaminated`` for an overlapping example when removing, else ``None``."""
        if example.overlaps and self.config.remove:
            return "contaminated"
        return None

    def summary(self, source_names: list[str]) -> dict:
        """The report's ``contamination`` section (see :mod:`flawn.quality.report`)."""
        task_items = {(t.benchmark, t.task): t.items for t in self.tasks}
        overall: dict[tuple[str, str], set[int]] = collections.defaultdict(set)
        rows = []
        for source, hits in sorted(self._items_hit.items()):
            per_task: dict[tuple[str, str], set[int]] = collections.defaultdict(set)
            for index in hits:
                per_task[self._task_key(index)].add(index)
                overall[self._task_key(index)].add(index)
            for key, indices in sorted(per_task.items()):
                rows.append(
                    {
                        "source": source_names[source],
                        "benchmark": key[0],
                        "task": key[1],
                        "items": task_items[key],
                        "items_overlapped": len(indices),
                        "share": len(indices) / task_items[key] if task_items[key] else 0.0,
                        "examples_overlapping": self._examples[source][key],
                    }
                )
        tasks = []
        for task in self.tasks:
            key = (task.benchmark, task.task)
            hit = len(overall.get(key, ()))
            name = f"{task.benchmark}/{task.task}"
            tasks.append(
                {
                    "benchmark": task.benchmark,
                    "task": task.task,
                    "split": task.split,
                    "source": task.source,
                    "items": task.items,
                    "unchecked_items": self.index.unchecked_items.get(name, 0),
                    "template_ngrams": self.index.template_dropped.get(name, 0),
                    "stoplisted_ngrams": self.index.stop_dropped.get(name, 0),
                    "stoplisted_items": self.index.stoplisted_items.get(name, 0),
                    "items_overlapped": hit,
                    "share": hit / task.items if task.items else 0.0,
                }
            )
        contaminated = {
            benchmark: sorted(
                {t["task"] for t in tasks if t["benchmark"] == benchmark and t["items_overlapped"]}
            )
            for benchmark in self.config.benchmarks
        }
        return {
            "benchmarks": list(self.config.benchmarks),
            "items_digest": self.digest,
            "indexed_ngrams": self.index.size,
            "stop_list": self.index.stop_list,
            "removed_overlapping": self.config.remove,
            "tasks": tasks,
            "by_source": rows,
            "contaminated_tasks": contaminated,
        }
