"""Input records of batch inference: Alpaca-style JSON or JSON Lines.

Each record needs an ``instruction``; ``input`` (context) is optional and an
``output`` (a reference answer, as in LaWGPT's ``example_infer_data.json``)
is kept but not needed. Every other field is carried through to the
predictions unchanged. Files are read with flawn's JSON readers, so a bad
record stops the job with its file and line.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any

from flawn.errors import RecordError
from flawn.sources.alpaca import PromptTemplate
from flawn.sources.jsonl import read_records

#: Compression suffixes the readers accept (dropped when naming the output).
_COMPRESSED = (".gz", ".xz", ".bz2")


@dataclasses.dataclass(frozen=True)
class PromptRecord:
    """One record to answer.

    Attributes:
        line: 1-based line of the record in its file.
        fields: The record as read (carried into the output).
        prompt: The model input, rendered with the job's template.
    """

    line: int
    fields: dict[str, Any]
    prompt: str


def _checked(obj: dict, path: str, line: int) -> tuple[int, dict]:
    """``(line, obj)`` if the object is a valid record; raises :class:`RecordError` if not."""
    if "instruction" not in obj:
        raise RecordError(
            path, line, "missing_field", "missing field 'instruction' (the question to answer)"
        )
    for field in ("instruction", "input"):
        if field in obj and not isinstance(obj[field], str):
            raise RecordError(path, line, "wrong_type", f"field {field!r} must be a string")
    if not obj["instruction"].strip():
        raise RecordError(path, line, "empty_field", "field 'instruction' is empty")
    return line, obj


def read_prompt_records(path: str | os.PathLike, template: PromptTemplate) -> list[PromptRecord]:
    """Reads an inference input file and renders each record's prompt.

    Args:
        path: A JSON array or JSON Lines file (optionally ``.gz``/``.xz``/``.bz2``).
        template: Turns instruction and input into the prompt.

    Returns:
        The records in file order.

    Raises:
        RecordError: Naming the file and line of the first record that is not
            a JSON object, lacks an instruction, has a non-string field, or
            has an input the template has no slot for.
        FileNotFoundError: If the file does not exist.
    """
    path = os.fspath(path)
    records = []
    for line, obj in read_records(path, _checked, policy="error"):
        try:
            prompt = template.render(obj["instruction"], obj.get("input", ""))
        except ValueError as err:
            raise RecordError(path, line, "template", str(err)) from err
        records.append(PromptRecord(line, obj, prompt))
    return records


def default_output_path(input_path: str | os.PathLike) -> pathlib.Path:
    """``<input stem>.predictions.jsonl`` next to the input.

    ``questions.jsonl``, ``questions.json`` and ``questions.jsonl.gz`` all
    give ``questions.predictions.jsonl``.
    """
    path = pathlib.Path(input_path)
    name = path.name
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    for suffix in (".jsonl", ".json"):
        if name.endswith(suffix):
            name = name.removesuffix(suffix)
            break
    return path.with_name(f"{name}.predictions.jsonl")
