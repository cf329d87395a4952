"""Line-oriented JSON reading with precise error locations.

Every reader in flawn goes through :func:`iter_json_lines` so a malformed line
always produces the same kind of error: the file, the 1-based line number and
what is wrong.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TypeVar

from flawn.errors import RecordError
from flawn.sources.policy import LEDGER, POLICIES, ReadStats, bad_record_policy, log_skip

T = TypeVar("T")

_OPENERS = {
    ".xz": lzma.open,
    ".gz": gzip.open,
    ".bz2": bz2.open,
}

# Errors a compressed stream raises when the file is cut short or corrupt.
_TRUNCATION_ERRORS = (EOFError, lzma.LZMAError, gzip.BadGzipFile, OSError)


def _as_object(path: str, line_no: int, obj) -> dict | RecordError:
    """``obj`` if it is a JSON object, else the ``not_an_object`` error for its line."""
    if isinstance(obj, dict):
        return obj
    return RecordError(
        path, line_no, "not_an_object", f"expected a JSON object, got {type(obj).__name__}"
    )


def open_text(path: str | os.PathLike) -> IO[str]:
    """Opens a possibly compressed text file for reading as UTF-8.

    The compression is chosen by extension: ``.xz``, ``.gz``, ``.bz2`` or none.

    Args:
        path: The file to open.

    Returns:
        A text stream.
    """
    return io.TextIOWrapper(open_bytes(path), encoding="utf-8")


def open_bytes(path: str | os.PathLike) -> IO[bytes]:
    """Opens a possibly compressed file for reading its (decompressed) bytes."""
    path = os.fspath(path)
    for suffix, opener in _OPENERS.items():
        if path.endswith(suffix):
            return opener(path, "rb")
    return open(path, "rb")


def _bad_encoding(path: str, line_no: int, err: UnicodeDecodeError, offset: int) -> RecordError:
    return RecordError(
        path,
        line_no,
        "bad_encoding",
        f"not UTF-8: byte {err.object[err.start]:#04x} at character {offset + 1} of the line "
        "(re-save the file as UTF-8)",
    )


def iter_json_lines(path: str | os.PathLike) -> Iterator[tuple[int, dict | RecordError]]:
    """Yields ``(line_number, object)`` for every non-blank line of a JSONL file.

    A line that is not a JSON object, or not UTF-8, is yielded as a
    :class:`RecordError` instead of raising, so callers can apply their own
    bad-input policy. Lines are decoded one at a time, so an error names the
    line that holds the bad byte. A compressed file that is truncated or
    corrupt raises a :class:`RecordError` naming the file and the last line
    read, because nothing after that point can be recovered.

    Args:
        path: A ``.jsonl`` file, optionally compressed.

    Yields:
        Pairs of 1-based line number and the parsed object (or the error).

    Raises:
        RecordError: If the compressed stream is truncated or corrupt.
        FileNotFoundError: If the file does not exist.
    """
    path = os.fspath(path)
    line_no = 0
    try:
        with open_bytes(path) as stream:
            for line_no, raw in enumerate(stream, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    offset = len(raw[: err.start].decode("utf-8", errors="replace"))
                    yield line_no, _bad_encoding(path, line_no, err, offset)
                    continue
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as err:
                    yield line_no, RecordError(path, line_no, "bad_json", str(err))
                    continue
                yield line_no, _as_object(path, line_no, obj)
    except _TRUNCATION_ERRORS as err:
        if isinstance(err, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise RecordError(
            path,
            line_no,
            "truncated_file",
            f"the compressed stream ends early or is corrupt after line {line_no} ({err}); "
            "re-download or re-export this shard",
        ) from err


#: A byte that is not UTF-8, as decoded with ``surrogateescape``.
_UNDECODED = re.compile("[\udc80-\udcff]")


def iter_json_records(path: str | os.PathLike) -> Iterator[tuple[int, dict | RecordError]]:
    """Like :func:`iter_json_lines`, but also reads a file holding one JSON array.

    Alpaca- and ShareGPT-style data ship either as JSON Lines or as a single
    array of objects; the format is detected from the first character. For an
    array, each element's line number is the line where it starts, and an
    element holding bytes that are not UTF-8 is an error on the line of the
    first such byte.
    """
    path = os.fspath(path)
    try:
        with open_bytes(path) as stream:
            # Only the first character matters; a bad byte here is reported per line below.
            head = stream.read(4096).decode("utf-8", errors="replace").lstrip()
        if head.startswith("["):
            with open_bytes(path) as stream:
                text = stream.read().decode("utf-8", errors="surrogateescape")
    except _TRUNCATION_ERRORS as err:
        if isinstance(err, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        # A file too short or too damaged to tell its format: nothing in it can be read.
        raise RecordError(
            path, 0, "truncated_file",
            f"the compressed stream ends early or is corrupt ({err}); "
            "re-download or re-export this file",
        ) from err  # fmt: skip
    if not head.startswith("["):
        yield from iter_json_lines(path)
        return
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        line_no = text.count("\n", 0, position) + 1
        if position >= len(text):
            yield line_no, RecordError(path, line_no, "bad_json", "the JSON array is not closed")
            return
        if text[position] == "]":
            return
        start = position
        try:
            obj, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as err:
            # Nothing after a broken element can be located reliably: report and stop.
            yield line_no, RecordError(path, line_no, "bad_json", str(err))
            return
        bad = _UNDECODED.search(text, start, position)
        if bad:
            bad_line = text.count("\n", 0, bad.start()) + 1
            line_start = text.rfind("\n", 0, bad.start()) + 1
            byte = ord(bad.group()) - 0xDC00
            yield (
                bad_line,
                RecordError(
                    path,
                    bad_line,
                    "bad_encoding",
                    f"not UTF-8: byte {byte:#04x} at character {bad.start() - line_start + 1} of "
                    "the line (re-save the file as UTF-8)",
                ),
            )
            continue
        yield line_no, _as_object(path, line_no, obj)


#: Errors that end a file early: its unreadable rest counts as one skipped record.
FILE_TAIL_REASONS = ("truncated_file", "unreadable_file")

#: An empty file (no non-blank line): an error, or under ``skip`` one skipped record.
EMPTY_FILE_REASON = "empty_file"


def apply_policy(
    path: str,
    rows: Iterable[tuple[int, dict | RecordError]],
    validate: Callable[[dict, str, int], T],
    policy: str | None = None,
    stats: ReadStats | None = None,
) -> Iterator[T]:
    """Validates records from any reader under a bad-record policy, counting everything.

    Args:
        path: The file the rows come from (for messages and the ledger).
        rows: ``(line_or_row, object_or_error)`` pairs, e.g. from
            :func:`iter_json_records`; the iterator may raise a
            :class:`RecordError` whose reason is in :data:`FILE_TAIL_REASONS`
            when the rest of the file cannot be read.
        validate: ``validate(obj, path, line)`` returns the record or raises
            :class:`RecordError`.
        policy: ``error`` (stop at the first bad record) or ``skip`` (count it
            and go on); ``None`` uses the gin-configured
            :func:`flawn.sources.policy.bad_record_policy`.
        stats: Counts to update; when the file has been read to its end they
            are also added to :data:`flawn.sources.policy.LEDGER`.

    Yields:
        Validated records in file order.

    Raises:
        RecordError: Under ``error``, naming the file and line of the first
            malformed record (or the unreadable or empty file).
    """
    policy = bad_record_policy() if policy is None else policy
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    counts = ReadStats()
    try:
        for line_no, obj in rows:
            counts.read += 1
            if not isinstance(obj, RecordError):
                try:
                    record = validate(obj, path, line_no)
                except RecordError as err:
                    obj = err
                else:
                    counts.kept += 1
                    yield record
                    continue
            if policy == "error":
                raise obj
            log_skip(path, line_no, obj.reason, obj.detail, counts.skipped_total)
            counts.skipped[obj.reason] += 1
    except RecordError as err:
        if policy == "error" or err.reason not in FILE_TAIL_REASONS:
            raise
        log_skip(path, err.line, err.reason, err.detail, 0)
        counts.read += 1
        counts.skipped[err.reason] += 1
    if counts.read == 0:
        # Nothing at all to read is bad input too, not "every record skipped".
        empty = RecordError(
            path, 0, EMPTY_FILE_REASON, "the file is empty (no records); remove it or fill it"
        )
        if policy == "error":
            raise empty
        log_skip(path, 0, empty.reason, empty.detail, 0)
        counts.read += 1
        counts.skipped[empty.reason] += 1
    counts.passes = 1
    LEDGER.record(path, counts)
    if stats is not None:
        stats.merge(counts)


def read_records(
    path: str | os.PathLike,
    validate: Callable[[dict, str, int], T],
    policy: str | None = None,
    stats: ReadStats | None = None,
) -> Iterator[T]:
    """Reads and validates every record of a JSON (Lines) file under a bad-record policy.

    See :func:`apply_policy` for the arguments and the policy.
    """
    path = os.fspath(path)
    return apply_policy(path, iter_json_records(path), validate, policy, stats)
