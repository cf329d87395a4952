"""Batch inference over a file: one prediction per input record, written as JSON Lines.

Each output line is the input record with ``prediction`` added, whether the
prompt was cut (``prompt_truncated``), and what produced it: the generation
settings with the template (``generation``) and the checkpoint's identity
(``checkpoint``), so a file of predictions says where it came from.
Predictions go to a temporary file renamed at the end, so an interrupted job
never leaves a partial file under the final name.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import time
from collections.abc import Sequence

from tqdm.auto import tqdm

from flawn.inference.generator import Generator
from flawn.inference.records import PromptRecord, default_output_path, read_prompt_records
from flawn.inference.settings import GenerationSettings


@dataclasses.dataclass(frozen=True)
class InferenceSummary:
    """What a batch job did.

    Attributes:
        input: The input file.
        output: The predictions file.
        records: Records answered.
        truncated: Prompts that lost tokens to ``max_input_tokens``.
        seconds: Wall time, loading the inputs included.
    """

    input: pathlib.Path
    output: pathlib.Path
    records: int
    truncated: int
    seconds: float


def infer_file(
    generator: Generator,
    input_path: str | os.PathLike,
    settings: GenerationSettings,
    output_path: str | os.PathLike | None = None,
    batch_size: int = 8,
    progress: bool = True,
) -> InferenceSummary:
    """Answers every record of an Alpaca-style file and writes the predictions.

    Args:
        generator: The loaded checkpoint (its template renders the prompts).
        input_path: JSON array or JSON Lines of ``{instruction, input?, output?, ...}``.
        settings: How to decode.
        output_path: Where to write (default: ``<input stem>.predictions.jsonl``
            next to the input).
        batch_size: Prompts per model call.
        progress: Show a progress bar (on stderr).

    Returns:
        The summary.

    Raises:
        RecordError: Naming the file and line of the first bad input record
            (nothing is written then).
    """
    started = time.perf_counter()
    records = read_prompt_records(input_path, generator.template)
    return write_predictions(
        generator, records, input_path, settings, output_path, batch_size, progress, started
    )


def write_predictions(
    generator: Generator,
    records: Sequence[PromptRecord],
    input_path: str | os.PathLike,
    settings: GenerationSettings,
    output_path: str | os.PathLike | None = None,
    batch_size: int = 8,
    progress: bool = True,
    started: float | None = None,
) -> InferenceSummary:
    """Answers records already read (see :func:`infer_file`) and writes the predictions.

    Reading first lets a caller reject a bad file before loading a model.

    Args:
        generator: The loaded checkpoint.
        records: From :func:`~flawn.inference.records.read_prompt_records`
            (with the generator's template).
        input_path: The file they come from (names the default output).
        settings: How to decode.
        output_path: Where to write (default: next to the input).
        batch_size: Prompts per model call.
        progress: Show a progress bar (on stderr).
        started: When the job started (``time.perf_counter()``), for the summary.

    Returns:
        The summary.
    """
    started = time.perf_counter() if started is None else started
    output = pathlib.Path(output_path) if output_path else default_output_path(input_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    provenance = {"generation": generator.record(settings), "checkpoint": generator.identity}
    partial = output.with_name(output.name + ".partial")
    truncated = 0
    written = 0
    bar = tqdm(
        total=len(records),
        desc=f"answering ({settings.strategy})",
        unit="prompt",
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        with bar, open(partial, "w", encoding="utf-8") as out:
            prompts = [record.prompt for record in records]
            for answers in generator.iter_batches(prompts, settings, batch_size):
                for answer in answers:
                    row = {
                        **records[written].fields,
                        "prediction": answer.text,
                        "prompt_truncated": answer.truncated,
                        **provenance,
                    }
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    truncated += answer.truncated
                    written += 1
                bar.update(len(answers))
        os.replace(partial, output)
    finally:
        if partial.exists():
            partial.unlink()
    return InferenceSummary(
        pathlib.Path(input_path), output, written, truncated, time.perf_counter() - started
    )
