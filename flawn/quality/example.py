"""One training example as the filters see it, and the record formats it comes from.

A cleaned copy is written in each source's own format, so an :class:`Example`
keeps the reader's record and writes it back unchanged; the filters read only
its prompt and answer. Two formats are supported, those flawn's sample and
LawInstruct tasks read:

* ``lawinstruct``: the 12-field xz JSON Lines shards
  (:mod:`flawn.sources.lawinstruct`); the prompt is the instruction followed
  by the prompt field, the answer is ``answer``;
* ``flan``: ``inputs``/``targets`` JSON Lines, optionally gzip-compressed
  (:mod:`flawn.sources.flan`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Iterator

from flawn.quality.text import content_key, tokenize
from flawn.quality.units import units
from flawn.sources.flan import FlanRecord, read_flan, write_flan
from flawn.sources.lawinstruct import LawInstructRecord, read_shard, write_shard


@dataclasses.dataclass(frozen=True)
class RecordFormat:
    """How to read, judge and write the records of one format.

    Attributes:
        name: ``lawinstruct`` or ``flan``.
        read: ``read(path, policy, stats)`` yields records in file order.
        write: ``write(path, records)`` writes them and returns the count.
        prompt: The text the model is given.
        answer: The target text.
    """

    name: str
    read: Callable[..., Iterator]
    write: Callable[[str, Iterable], int]
    prompt: Callable[[object], str]
    answer: Callable[[object], str]


def _lawinstruct_prompt(record: LawInstructRecord) -> str:
    return f"{record.instruction}\n{record.prompt}" if record.prompt else record.instruction


FORMATS: dict[str, RecordFormat] = {
    "lawinstruct": RecordFormat(
        "lawinstruct", read_shard, write_shard, _lawinstruct_prompt, lambda r: r.answer
    ),
    "flan": RecordFormat("flan", read_flan, write_flan, lambda r: r.inputs, lambda r: r.targets),
}

#: Record classes of each format, to tell a record's format from the record.
RECORD_TYPES = {"lawinstruct": LawInstructRecord, "flan": FlanRecord}


@dataclasses.dataclass(eq=False)
class Example:
    """A record with what the filters compute on it, computed once.

    Attributes:
        source: Index of the record's source in the mixture order.
        record: The reader's record, written back unchanged when kept.
        prompt: The text the model is given.
        answer: The target text.
        overlaps: Benchmark items this example overlaps by the decontamination
            rule (global item indices, set by the decontamination scan).
    """

    source: int
    record: object
    prompt: str
    answer: str
    overlaps: tuple[int, ...] = ()

    @classmethod
    def from_record(cls, source: int, record, record_format: RecordFormat) -> Example:
        """Wraps a reader's record."""
        return cls(source, record, record_format.prompt(record), record_format.answer(record))

    @functools.cached_property
    def prompt_tokens(self) -> list[str]:
        """Tokens of the prompt (:func:`flawn.quality.text.tokenize`)."""
        return tokenize(self.prompt)

    @functools.cached_property
    def answer_tokens(self) -> list[str]:
        """Tokens of the answer."""
        return tokenize(self.answer)

    @functools.cached_property
    def tokens(self) -> list[str]:
        """Tokens of prompt and answer, in that order."""
        return self.prompt_tokens + self.answer_tokens

    @functools.cached_property
    def units(self) -> list[str]:
        """Decontamination units of prompt and answer (:func:`flawn.quality.units.units`)."""
        return units(self.prompt) + units(self.answer)

    @property
    def text(self) -> str:
        """Prompt and answer on separate lines."""
        return f"{self.prompt}\n{self.answer}"

    @functools.cached_property
    def key(self) -> bytes:
        """The exact-duplicate key (:func:`flawn.quality.text.content_key` of the tokens)."""
        return content_key(self.prompt_tokens, self.answer_tokens)
