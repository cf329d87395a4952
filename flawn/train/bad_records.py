"""The bad-record counts of a stage's data, written into its folder before it trains.

For every file of every source of the stage's mixture: records read, kept and
skipped by reason (``read == kept + skipped``) under the stage's bad-record
policy, and the examples the data plan counts. Files counted when their
sources were registered (:mod:`flawn.sources.counting`) reuse those counts;
others (e.g. the bundled samples, counted from their manifest) are read once
here through their source's own reader. The run card shows the table.
"""

from __future__ import annotations

import json
from typing import Any

from flawn.sources import counting
from flawn.sources.policy import LEDGER, bad_record_policy

#: The file name in a stage's folder (see flawn.analysis.cards).
FILE = "bad_records.json"


def mixture_files(name: str) -> dict[str, list[str]]:
    """``{task: [files]}`` of the tasks of a mixture (or of one task) that read local files."""
    import seqio

    from flawn.tasks.sources import LocalFileSource

    provider = seqio.get_mixture_or_task(name)
    tasks = provider.tasks if isinstance(provider, seqio.Mixture) else [provider]
    out = {}
    for task in tasks:
        source = task.source
        if isinstance(source, LocalFileSource):
            try:
                out[task.name] = list(source.list_shards("train"))
            except KeyError:
                continue
    return out


def _count_through_source(task: str, path: str) -> dict[str, Any]:
    """One pass over ``path`` with its task's own reader; the counts it added to the ledger."""
    import seqio

    source = seqio.get_mixture_or_task(task).source
    before = LEDGER.snapshot().get(path, {"read": 0, "kept": 0, "skipped": {}, "passes": 0})
    examples = sum(1 for _ in source.records(path))
    after = LEDGER.snapshot().get(path, before)
    skipped = {
        reason: n - before["skipped"].get(reason, 0)
        for reason, n in after["skipped"].items()
        if n - before["skipped"].get(reason, 0)
    }
    return {
        "read": after["read"] - before["read"],
        "kept": after["kept"] - before["kept"],
        "skipped": skipped,
        "passes": 1,
        "examples": examples,
    }


def bad_record_counts(name: str) -> dict[str, dict[str, Any]]:
    """Per-file counts of every file the mixture (or task) ``name`` reads."""
    out = {}
    for task, paths in mixture_files(name).items():
        known = counting.file_counts(paths)
        for path in paths:
            counts = known.get(path) or _count_through_source(task, path)
            out[path] = {"task": task, **counts}
    return out


def write_bad_records(name: str, path) -> dict[str, dict[str, Any]]:
    """Writes the counts of ``name``'s files to ``path`` and returns them."""
    counts = bad_record_counts(name)
    payload = {"policy": bad_record_policy(), "files": counts}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return counts


def summary(counts: dict[str, dict[str, Any]]) -> str | None:
    """One line for the log when records were skipped (None when none were)."""
    skipped = sum(sum(c["skipped"].values()) for c in counts.values())
    if not skipped:
        return None
    read = sum(c["read"] for c in counts.values())
    files = sum(1 for c in counts.values() if c["skipped"])
    return (
        f"bad records: {skipped} of {read} records skipped in {files} file(s) under the 'skip' "
        f"policy; the plan counts only usable records (per-file counts: {FILE})"
    )
