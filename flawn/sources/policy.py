"""What to do with malformed input records, and the counts that prove nothing was lost.

Two policies:

* ``error`` (default): stop at the first malformed record with its file,
  line and reason;
* ``skip``: leave malformed records out, count each by reason, warn with
  the first few locations, and keep going.

In both modes every file's counts reconcile: ``read == kept + skipped``. A
truncated compressed file counts its unreadable tail as one skipped record
with reason ``truncated_file``, since the number of lost lines is unknowable.
An empty file is bad input as well: ``error`` stops naming it, ``skip``
counts it as one skipped record with reason ``empty_file``.
Counts accumulate in a process-wide :data:`LEDGER` so a training run can
report them next to its checkpoints.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import threading

import gin

log = logging.getLogger(__name__)

POLICIES = ("error", "skip")

#: How many skipped locations per file are logged before only counting.
_LOGGED_PER_FILE = 5


#: Environment variable giving the default policy (a gin binding overrides it).
POLICY_ENV = "FLAWN_BAD_RECORD_POLICY"


@gin.configurable
def bad_record_policy(policy: str | None = None) -> str:
    """The policy readers apply when none is given explicitly (bind it in gin).

    Sources registered when flawn starts (e.g. ``FLAWN_LAWINSTRUCT_DIR``) are
    counted before gin files are parsed, so the default also comes from
    ``FLAWN_BAD_RECORD_POLICY``; the ``flawn`` command sets it from a
    ``bad_record_policy.policy`` binding before anything is registered.

    Args:
        policy: ``error`` or ``skip`` (default: ``$FLAWN_BAD_RECORD_POLICY``, else ``error``).

    Raises:
        ValueError: For any other value.
    """
    if policy is None:
        policy = os.environ.get(POLICY_ENV) or "error"
    if policy not in POLICIES:
        raise ValueError(f"bad_record_policy must be one of {POLICIES}, got {policy!r}")
    return policy


@dataclasses.dataclass
class ReadStats:
    """Counts of one file (or of many, once merged).

    Attributes:
        read: Records (non-blank lines) encountered.
        kept: Records that passed validation.
        skipped: Skipped records by reason.
        passes: How many complete passes over the file these counts cover.
    """

    read: int = 0
    kept: int = 0
    skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    passes: int = 0

    @property
    def skipped_total(self) -> int:
        """All skipped records, whatever the reason."""
        return sum(self.skipped.values())

    def reconciles(self) -> bool:
        """Whether ``read == kept + skipped``."""
        return self.read == self.kept + self.skipped_total

    def merge(self, other: ReadStats) -> None:
        """Adds another file's counts to these."""
        self.read += other.read
        self.kept += other.kept
        self.skipped.update(other.skipped)
        self.passes += other.passes

    def as_dict(self) -> dict:
        """A JSON-friendly view."""
        return {
            "read": self.read,
            "kept": self.kept,
            "skipped": dict(self.skipped),
            "passes": self.passes,
        }


class ReadLedger:
    """Thread-safe per-file counts of everything readers saw in this process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._files: dict[str, ReadStats] = {}

    def record(self, path: str, stats: ReadStats) -> None:
        """Adds the counts of one pass over ``path``."""
        with self._lock:
            self._files.setdefault(path, ReadStats()).merge(stats)

    def snapshot(self) -> dict[str, dict]:
        """Per-file counts, as plain dicts."""
        with self._lock:
            return {path: stats.as_dict() for path, stats in sorted(self._files.items())}

    def total(self) -> ReadStats:
        """Counts summed over all files."""
        total = ReadStats()
        with self._lock:
            for stats in self._files.values():
                total.merge(stats)
        return total

    def clear(self) -> None:
        """Forgets everything (tests, or a new run in the same process)."""
        with self._lock:
            self._files.clear()


#: Counts of every reader in this process.
LEDGER = ReadLedger()


def log_skip(path: str, line: int, reason: str, detail: str, already_logged: int) -> None:
    """Warns about a skipped record, for the first few of each file."""
    if already_logged < _LOGGED_PER_FILE:
        log.warning("skipping %s:%d: %s: %s", path, line, reason, detail)
    elif already_logged == _LOGGED_PER_FILE:
        log.warning("skipping more malformed records in %s; see the read counts for totals", path)
