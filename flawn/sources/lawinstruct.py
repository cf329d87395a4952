"""LawInstruct shards: the 12-field record schema, reading and writing.

LawInstruct is released as xz-compressed JSON Lines files named
``{dataset_name}-{subset_name}-{split}-{index}.jsonl.xz``; each line holds one
instruction example with the 12 fields in :data:`FIELDS`.
"""

from __future__ import annotations

import dataclasses
import json
import lzma
import os
import re
from collections.abc import Iterable, Iterator

from flawn.errors import RecordError
from flawn.sources.jsonl import read_records
from flawn.sources.policy import ReadStats

#: The 12 fields of a LawInstruct record, in release order.
FIELDS: tuple[str, ...] = (
    "dataset_name",
    "subset_name",
    "source",
    "instruction_language",
    "prompt_language",
    "answer_language",
    "jurisdiction",
    "task_type",
    "downloaded_timestamp",
    "instruction",
    "prompt",
    "answer",
)

#: A shard folder may hold an instruction bank under this name
#: (``{subset: {language: [paraphrase, ...]}}``); tasks registered from the
#: folder draw their paraphrases from it (see ``format_lawinstruct``).
BANK_FILE_NAME = "instruction_banks.json"

#: Fields that must hold non-empty text for a record to be usable for training.
#: ``prompt`` may be empty: some LawInstruct tasks put everything in the instruction.
REQUIRED_NONEMPTY: tuple[str, ...] = ("dataset_name", "subset_name", "instruction", "answer")

#: Metadata fields kept alongside the text through seqio (passthrough features).
METADATA_FIELDS: tuple[str, ...] = (
    "dataset_name",
    "subset_name",
    "jurisdiction",
    "task_type",
    "instruction_language",
    "prompt_language",
    "answer_language",
)

_SHARD_NAME = re.compile(
    r"^(?P<dataset>[^-]+)-(?P<subset>.+)-(?P<split>train|validation|test)-(?P<index>\d+)\.jsonl\.xz$"
)


@dataclasses.dataclass(frozen=True)
class LawInstructRecord:
    """One LawInstruct example with its full provenance.

    Attributes mirror :data:`FIELDS`; all values are strings as in the release.
    """

    dataset_name: str
    subset_name: str
    source: str
    instruction_language: str
    prompt_language: str
    answer_language: str
    jurisdiction: str
    task_type: str
    downloaded_timestamp: str
    instruction: str
    prompt: str
    answer: str

    def to_json(self) -> str:
        """Serialises the record as one JSON line (without the newline)."""
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)


def validate_record(obj: dict, path: str, line: int) -> LawInstructRecord:
    """Checks a parsed JSON object against the 12-field schema.

    Args:
        obj: The parsed JSON object.
        path: The file it came from (for the error message).
        line: Its 1-based line number (for the error message).

    Returns:
        The validated record.

    Raises:
        RecordError: With reason ``missing_field``, ``wrong_type`` or
            ``empty_field`` if the object does not fit the schema.
    """
    missing = [f for f in FIELDS if f not in obj]
    if missing:
        raise RecordError(path, line, "missing_field", f"missing field(s) {', '.join(missing)}")
    for field in FIELDS:
        if not isinstance(obj[field], str):
            raise RecordError(
                path,
                line,
                "wrong_type",
                f"field {field!r} must be a string, got {type(obj[field]).__name__}",
            )
    for field in REQUIRED_NONEMPTY:
        if not obj[field].strip():
            raise RecordError(path, line, "empty_field", f"field {field!r} is empty")
    return LawInstructRecord(**{f: obj[f] for f in FIELDS})


def read_shard(
    path: str | os.PathLike, policy: str | None = None, stats: ReadStats | None = None
) -> Iterator[LawInstructRecord]:
    """Reads every record of one shard under a bad-record policy.

    Args:
        path: A LawInstruct ``.jsonl.xz`` (or plain/gz ``.jsonl``) file.
        policy: ``error`` (default via gin) or ``skip``; see :mod:`flawn.sources.policy`.
        stats: Counts to update (read = kept + skipped).

    Returns:
        An iterator of validated records in file order.

    Raises:
        RecordError: Under ``error``, naming the file and line of the first
            malformed record.
    """
    return read_records(path, validate_record, policy, stats)


def shard_name(dataset_name: str, subset_name: str, split: str, index: int) -> str:
    """Returns the release file name of a shard."""
    return f"{dataset_name}-{subset_name}-{split}-{index}.jsonl.xz"


def parse_shard_name(name: str) -> dict[str, str] | None:
    """Splits a shard file name into dataset, subset, split and index.

    Returns:
        A dict with keys ``dataset``, ``subset``, ``split``, ``index``, or
        ``None`` if the name does not follow the release convention.
    """
    match = _SHARD_NAME.match(os.path.basename(name))
    return match.groupdict() if match else None


def find_shards(
    directory: str | os.PathLike, subset_name: str, split: str, dataset_name: str | None = None
) -> list[str]:
    """Lists the shards of one subset and split, in index order.

    Args:
        directory: A folder of LawInstruct shards.
        subset_name: The subset, e.g. ``bva_decisions_label``.
        split: ``train``, ``validation`` or ``test``.
        dataset_name: Only this dataset's shards. Several datasets use the same
            subset name (``MainSubset``), so give it whenever it is known.

    Returns:
        Full paths, sorted by shard index.
    """
    found = []
    for name in os.listdir(directory):
        parts = parse_shard_name(name)
        if (
            parts
            and parts["subset"] == subset_name
            and parts["split"] == split
            and (dataset_name is None or parts["dataset"] == dataset_name)
        ):
            found.append((int(parts["index"]), os.path.join(directory, name)))
    return [path for _, path in sorted(found)]


def write_shard(path: str | os.PathLike, records: Iterable[LawInstructRecord]) -> int:
    """Writes records as an xz-compressed JSONL shard.

    The output is byte-for-byte deterministic for the same records.

    Args:
        path: Destination file; its folder must exist.
        records: The records to write.

    Returns:
        The number of records written.
    """
    count = 0
    with lzma.open(path, "wt", encoding="utf-8", preset=6) as out:
        for record in records:
            out.write(record.to_json())
            out.write("\n")
            count += 1
    return count
