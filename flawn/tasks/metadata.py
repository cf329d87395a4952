"""What each registered task is: its kind and metadata, for grouping and plans.

seqio tasks do not carry descriptive metadata, so flawn records it at
registration: the kind of source (``legal``, ``general`` or
``pretraining``) and fields such as ``jurisdiction``, ``task_type``,
``prompt_language`` or ``licence``. Grouped rates and leave-one-out
ablations select tasks by these fields.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping

from flawn.errors import RegistryError

KINDS = ("legal", "general", "pretraining")


@dataclasses.dataclass(frozen=True)
class TaskMetadata:
    """Descriptive metadata of one registered task.

    Attributes:
        name: The seqio task name.
        kind: ``legal``, ``general`` or ``pretraining``.
        fields: Metadata values, e.g. ``{"jurisdiction": "US", "task_type": "QUESTION_ANSWERING"}``.
            A subset spanning several values records its largest one here (the
            catalog keeps the full breakdown).
    """

    name: str
    kind: str
    fields: Mapping[str, str]

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name}: kind must be one of {KINDS}, got {self.kind!r}")

    def get(self, field: str) -> str:
        """Returns a field's value.

        Raises:
            KeyError: Naming the task and the fields it has.
        """
        if field not in self.fields:
            raise KeyError(
                f"task {self.name} has no metadata field {field!r} "
                f"(has {', '.join(sorted(self.fields))})"
            )
        return self.fields[field]


_METADATA: dict[str, TaskMetadata] = {}


def record_metadata(name: str, kind: str, fields: Mapping[str, str]) -> TaskMetadata:
    """Records (or identically re-records) a task's metadata."""
    metadata = TaskMetadata(name, kind, dict(fields))
    existing = _METADATA.get(name)
    if existing is not None and existing != metadata:
        raise RegistryError(f"task {name!r} already has different metadata: {existing}")
    _METADATA[name] = metadata
    return metadata


def forget_metadata(name: str) -> bool:
    """Drops a task's metadata (its seqio registration is the caller's to remove).

    Returns:
        Whether metadata was recorded under ``name``.
    """
    return _METADATA.pop(name, None) is not None


def task_metadata(name: str) -> TaskMetadata:
    """Returns a task's metadata.

    Raises:
        RegistryError: If the task was not registered through flawn; suggests near names.
    """
    try:
        return _METADATA[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_METADATA), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise RegistryError(f"no flawn metadata for task {name!r}{hint}") from None
