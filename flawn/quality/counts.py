"""Counts that reconcile: per source and filter, what came in, what was kept, what went and why.

Each filter is a stage: ``input == kept + removed`` at every stage, and a
stage's input is the previous stage's kept count, so for a whole source
``read == kept + all removals``. :meth:`SourceCounts.check` asserts both.
"""

from __future__ import annotations

import collections
import dataclasses

from flawn.errors import FlawnError


@dataclasses.dataclass
class StageCounts:
    """One filter's counts for one source.

    Attributes:
        stage: The filter (see :data:`flawn.quality.config.FILTER_ORDER`).
        input: Examples the filter judged.
        kept: Examples it passed on.
        removed: Examples it removed, by reason.
    """

    stage: str
    input: int = 0
    kept: int = 0
    removed: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    @property
    def removed_total(self) -> int:
        """All removals of this stage."""
        return sum(self.removed.values())

    def reconciles(self) -> bool:
        """Whether ``input == kept + removed``."""
        return self.input == self.kept + self.removed_total

    def as_dict(self) -> dict:
        """A JSON-friendly view."""
        return {
            "input": self.input,
            "kept": self.kept,
            "removed": dict(sorted(self.removed.items())),
        }


@dataclasses.dataclass
class SourceCounts:
    """All counts of one source (a task of the mixture).

    Attributes:
        source: The task name.
        stages: The stages in the order they ran.
        duplicate_of: ``{"exact": {source: n}, "near": {source: n}}``: which
            source held the kept twin of each removed duplicate.
        languages_removed: Detected language of each example the language filter removed.
    """

    source: str
    stages: dict[str, StageCounts] = dataclasses.field(default_factory=dict)
    duplicate_of: dict[str, collections.Counter] = dataclasses.field(
        default_factory=lambda: {"exact": collections.Counter(), "near": collections.Counter()}
    )
    languages_removed: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def stage(self, name: str) -> StageCounts:
        """The stage's counts, created (in call order) on first use."""
        if name not in self.stages:
            self.stages[name] = StageCounts(name)
        return self.stages[name]

    @property
    def read(self) -> int:
        """Records the reader encountered (including malformed ones it skipped)."""
        first = next(iter(self.stages.values()), None)
        return first.input if first else 0

    @property
    def kept(self) -> int:
        """Examples that passed every filter."""
        last = next(reversed(self.stages.values()), None)
        return last.kept if last else 0

    def removed(self) -> dict[str, int]:
        """Removals of all stages by ``stage:reason``."""
        return {
            f"{stage.stage}:{reason}": n
            for stage in self.stages.values()
            for reason, n in sorted(stage.removed.items())
        }

    def reconciles(self) -> bool:
        """Whether every stage reconciles and each stage's input is the previous one's kept."""
        previous = None
        for stage in self.stages.values():
            if not stage.reconciles():
                return False
            if previous is not None and stage.input != previous.kept:
                return False
            previous = stage
        return self.read == self.kept + sum(self.removed().values())

    def check(self) -> None:
        """Raises if the counts do not reconcile (a bug, never bad input)."""
        if not self.reconciles():
            detail = {name: stage.as_dict() for name, stage in self.stages.items()}
            raise FlawnError(f"counts of {self.source} do not reconcile: {detail}")

    def as_dict(self) -> dict:
        """A JSON-friendly view with the totals first."""
        return {
            "source": self.source,
            "read": self.read,
            "kept": self.kept,
            "removed": self.removed(),
            "stages": {name: stage.as_dict() for name, stage in self.stages.items()},
            "duplicate_of": {
                kind: dict(sorted(counter.items())) for kind, counter in self.duplicate_of.items()
            },
            "languages_removed": dict(sorted(self.languages_removed.items())),
        }


def apply_stage(
    stage: str,
    examples: list,
    judge,
    counts: list[SourceCounts],
) -> list:
    """Runs one filter over a batch, in order, and counts per source.

    Args:
        stage: The filter's name.
        examples: The batch (objects with a ``source`` index into ``counts``).
        judge: ``judge(example)`` returns ``None`` to keep it, else the reason.
            It is called in batch order, so stateful filters (deduplication)
            see earlier examples first.
        counts: Counts of every source, by source index.

    Returns:
        The examples kept, in order.
    """
    kept = []
    for example in examples:
        stage_counts = counts[example.source].stage(stage)
        stage_counts.input += 1
        reason = judge(example)
        if reason is None:
            stage_counts.kept += 1
            kept.append(example)
        else:
            stage_counts.removed[reason] += 1
    return kept
