"""How many tokens a corpus takes under two vocabularies (before and after an extension).

Tokens are counted with SentencePiece itself, without the EOS a task
appends and without seqio's sentinels (which only matter for text that spells
out ``<extra_id_N>``), so the counts are those of the text alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Sequence

import sentencepiece as spm

from flawn.errors import FlawnError


@dataclasses.dataclass(frozen=True)
class TokenLengths:
    """Token counts of one corpus under a base and an extended vocabulary.

    Attributes:
        label: What was measured, e.g. a file name.
        examples: Texts measured.
        characters: Characters in them.
        tokens_before: Tokens under the base vocabulary.
        tokens_after: Tokens under the extended vocabulary.
    """

    label: str
    examples: int
    characters: int
    tokens_before: int
    tokens_after: int

    @property
    def reduction(self) -> float:
        """The share of tokens saved, ``1 - after / before``."""
        return 1.0 - self.tokens_after / self.tokens_before if self.tokens_before else 0.0

    def per_character(self, after: bool) -> float:
        """Tokens per character, before or after."""
        tokens = self.tokens_after if after else self.tokens_before
        return tokens / self.characters if self.characters else 0.0

    def per_example(self, after: bool) -> float:
        """Tokens per example, before or after."""
        tokens = self.tokens_after if after else self.tokens_before
        return tokens / self.examples if self.examples else 0.0

    def row(self) -> dict[str, object]:
        """One row of :func:`format_lengths`."""
        return {
            "corpus": self.label,
            "examples": self.examples,
            "characters": self.characters,
            "tokens/char before": f"{self.per_character(False):.3f}",
            "tokens/char after": f"{self.per_character(True):.3f}",
            "tokens/example before": f"{self.per_example(False):.1f}",
            "tokens/example after": f"{self.per_example(True):.1f}",
            "fewer tokens": f"{100 * self.reduction:.1f}%",
        }


def measure_lengths(
    texts: Iterable[str],
    base_model: str | os.PathLike,
    extended_model: str | os.PathLike,
    label: str,
) -> TokenLengths:
    """Counts the tokens of ``texts`` under both models.

    Raises:
        FlawnError: If there is no text to measure.
    """
    before = spm.SentencePieceProcessor(model_file=os.fspath(base_model))
    after = spm.SentencePieceProcessor(model_file=os.fspath(extended_model))
    texts = [t for t in texts if t]
    if not texts:
        raise FlawnError(f"{label}: no text to measure")
    return TokenLengths(
        label=label,
        examples=len(texts),
        characters=sum(len(t) for t in texts),
        tokens_before=sum(len(ids) for ids in before.encode(texts)),
        tokens_after=sum(len(ids) for ids in after.encode(texts)),
    )


def total(lengths: Sequence[TokenLengths], label: str = "all") -> TokenLengths:
    """The counts of several corpora together."""
    return TokenLengths(
        label,
        sum(x.examples for x in lengths),
        sum(x.characters for x in lengths),
        sum(x.tokens_before for x in lengths),
        sum(x.tokens_after for x in lengths),
    )


def format_lengths(lengths: Sequence[TokenLengths]) -> str:
    """A Markdown table of the counts, one row per corpus (and a total for several)."""
    import pandas as pd

    rows = [x.row() for x in lengths]
    if len(lengths) > 1:
        rows.append(total(lengths).row())
    return pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)


def _record_text(record: object, where: str) -> str:
    if isinstance(record, str):
        return record
    if not isinstance(record, dict):
        raise FlawnError(f"{where}: expected a JSON object or string, got {type(record).__name__}")
    return "\n".join(v for v in record.values() if isinstance(v, str) and v)


def read_texts(path: str | os.PathLike) -> list[str]:
    """The texts of a file, one per example, for measuring and for learning pieces.

    A ``.json`` file holds a JSON array, a ``.jsonl`` file one JSON value per
    line (a ``.json`` file that is not one array is read as JSON lines too,
    as LaWGPT's ``example_infer_data.json`` is); each object's string fields
    are joined with newlines (LaWGPT's ``instruction``/``input``/``output`` or
    ``content``, LawBench's ``instruction``/``question``/``answer``). Any other
    file is plain text, one example per non-empty line.

    Raises:
        FlawnError: Naming the file and line of a record that cannot be read.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FlawnError(f"{path} not found")
    with open(path, encoding="utf-8") as f:
        content = f.read()
    if not path.endswith((".json", ".jsonl")):
        return [line.strip() for line in content.splitlines() if line.strip()]
    if path.endswith(".json"):
        try:
            value = json.loads(content)
        except json.JSONDecodeError:
            value = None  # JSON lines under a .json name
        if isinstance(value, list):
            return [_record_text(r, f"{path}: item {i}") for i, r in enumerate(value)]
        if value is not None:
            return [_record_text(value, path)]
    texts = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise FlawnError(
                f"{path}:{number}: not JSON ({err.msg}); fix or remove the line"
            ) from None
        texts.append(_record_text(record, f"{path}:{number}"))
    return texts
