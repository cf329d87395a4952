"""Exceptions that tell the user what went wrong and where."""

from __future__ import annotations

import re


class FlawnError(Exception):
    """Base class for errors flawn raises on purpose (bad input, bad config)."""


class RecordError(FlawnError):
    """A record in a data file is malformed.

    Attributes:
        path: The file that holds the record.
        line: 1-based line number of the record in that file (0 if unknown).
        reason: Short machine-friendly reason, e.g. ``bad_json``.
        detail: Human-readable explanation.
    """

    def __init__(self, path: str, line: int, reason: str, detail: str):
        self.path = str(path)
        self.line = line
        self.reason = reason
        self.detail = detail
        super().__init__(f"{self.path}:{line}: {reason}: {detail}")


class ConfigError(FlawnError):
    """A configuration value is missing or invalid."""


class RegistryError(FlawnError, KeyError):
    """A name is missing from, or duplicated in, a registry."""

    def __str__(self) -> str:
        # KeyError quotes its argument; we want the plain message.
        return str(self.args[0]) if self.args else ""


class PipelineError(FlawnError):
    """A ``tf.data`` pipeline stopped on a check (e.g. a ``tf.debugging.Assert``)."""


_FLAWN_ERROR_IN_TF = re.compile(r"flawn\.errors\.(\w+): (.+)")
_RECORD_LOCATION = re.compile(r"(.+?):(\d+): (\w+): (.*)")
_ASSERTION = re.compile(r"assertion failed: (.*?)(?:\n|$)")


def _is_tensorflow_error(err: BaseException) -> bool:
    # By module, not isinstance: flawn must not import TensorFlow to report an error.
    return type(err).__module__.startswith("tensorflow") and hasattr(err, "message")


def from_pipeline_error(err: BaseException) -> FlawnError | None:
    """The flawn error a TensorFlow error from a data pipeline stands for, if any.

    An error inside ``tf.data`` (a reader's :class:`RecordError`, a failed
    assertion of a preprocessor) reaches Python wrapped in a TensorFlow error
    whose message holds a traceback or the pipeline's node names. This keeps
    the one line that matters.

    Returns:
        A :class:`RecordError` (file and line) or :class:`FlawnError` for flawn
        errors raised in the pipeline, a :class:`PipelineError` for failed
        assertions, ``None`` for anything else.
    """
    if not _is_tensorflow_error(err):
        return None
    message = err.message or ""
    match = _FLAWN_ERROR_IN_TF.search(message)
    if match:
        kind, text = match.groups()
        location = _RECORD_LOCATION.match(text)
        if kind == "RecordError" and location:
            path, line, reason, detail = location.groups()
            return RecordError(path, int(line), reason, detail)
        return FlawnError(text)
    match = _ASSERTION.search(message)
    if match:
        # Assert prints each datum in brackets: "[text] [value]".
        parts = re.findall(r"\[(.*?)\](?: |$)", match.group(1))
        text = " ".join(parts) if parts else match.group(1)
        return PipelineError(f"data pipeline stopped: {text.replace(chr(9), '/')}")
    return None
