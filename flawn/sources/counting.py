"""Usable-record counts of data files, through the bad-record policy, cached on disk.

Registration needs each source's number of examples (examples-proportional
rates and the data plan are computed from it). Counting lines would count
malformed records too, and a truncated ``.xz`` file would stop every command
with a bare ``EOFError``; so each file is read once with the same reader and
policy training uses: under ``error`` the first bad record stops with its file
and line, under ``skip`` the count is of usable records and the skipped ones
are counted by reason. The counts of every file (``read = kept + skipped``)
are kept for the run folder (``bad_records.json``, see
:func:`file_counts`), and cached in ``$FLAWN_CACHE_DIR/record_counts.json``
(default ``~/.cache/flawn``), keyed by the file's path, inode, size,
modification and status-change times, the reader and the policy, so the
release's 12M records are parsed once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import threading
from collections.abc import Callable, Iterable, Iterator

from flawn.sources.policy import ReadStats, bad_record_policy

_CACHE_FILE = "record_counts.json"
_lock = threading.Lock()


@dataclasses.dataclass
class FileCount:
    """One file's counts.

    Attributes:
        stats: Records read, kept and skipped by reason (``read == kept + skipped``).
        examples: Examples its reader yields (``kept``, or more when a record
            holds several, e.g. a ShareGPT conversation's assistant turns).
    """

    stats: ReadStats
    examples: int

    def as_dict(self) -> dict:
        """A JSON-friendly view."""
        return {**self.stats.as_dict(), "examples": self.examples}


#: Counts of every file counted in this process, by absolute path.
_COUNTED: dict[str, FileCount] = {}


def cache_dir() -> pathlib.Path:
    """Where counts are cached (``FLAWN_CACHE_DIR``, default ``~/.cache/flawn``)."""
    return pathlib.Path(os.environ.get("FLAWN_CACHE_DIR", pathlib.Path.home() / ".cache" / "flawn"))


def _key(path: str, reader: str, policy: str) -> str:
    stat = os.stat(path)
    # ctime too: an edit that keeps the size and restores the mtime still changes it.
    return (
        f"{os.path.abspath(path)}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}|"
        f"{stat.st_ctime_ns}|{reader}|{policy}"
    )


def _load_cache() -> dict:
    try:
        return json.loads((cache_dir() / _CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_cache(entries: dict) -> None:
    try:
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{_CACHE_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(entries), encoding="utf-8")
        os.replace(tmp, folder / _CACHE_FILE)
    except OSError:
        pass  # no writable cache: counts are recomputed next time, nothing is lost


def _count(path: str, read, reader: str, policy: str, cache: dict) -> tuple[FileCount, bool]:
    """One file's counts from ``cache`` or by reading it; whether it was read."""
    key = _key(path, reader, policy)
    cached = cache.get(key)
    if cached is not None:
        stats = ReadStats(cached["read"], cached["kept"], passes=1)
        stats.skipped.update(cached["skipped"])
        count, fresh = FileCount(stats, cached["examples"]), False
    else:
        stats = ReadStats()
        count, fresh = FileCount(stats, sum(1 for _ in read(path, policy, stats))), True
        cache[key] = count.as_dict()
    with _lock:
        _COUNTED[os.path.abspath(path)] = count
    return count, fresh


def count_files(
    paths: Iterable[str | os.PathLike],
    read: Callable[[str, str, ReadStats], Iterator],
    reader: str,
    policy: str | None = None,
) -> list[FileCount]:
    """Counts files' records under a policy (from the cache when a file is unchanged).

    The cache is read once and written once per call, however many files.

    Args:
        paths: The data files.
        read: ``read(path, policy, stats)`` iterating a file's records (e.g.
            :func:`flawn.sources.lawinstruct.read_shard`) and updating ``stats``.
        reader: The reader's name, part of the cache key.
        policy: ``error`` or ``skip`` (default: the gin-configured policy).

    Returns:
        Each file's counts; ``examples`` is what training can draw from it.

    Raises:
        RecordError: Under ``error``, for the first malformed record or an
            unreadable (e.g. truncated) file, naming it.
    """
    policy = bad_record_policy() if policy is None else policy
    with _lock:
        cache = _load_cache()
    counts, read_any = [], False
    try:
        for path in paths:
            count, fresh = _count(os.fspath(path), read, reader, policy, cache)
            counts.append(count)
            read_any |= fresh
    finally:
        if read_any:  # what was counted before an error is kept too
            with _lock:
                _save_cache({**_load_cache(), **cache})
    return counts


def count_file(
    path: str | os.PathLike,
    read: Callable[[str, str, ReadStats], Iterator],
    reader: str,
    policy: str | None = None,
) -> FileCount:
    """One file's counts (see :func:`count_files`)."""
    return count_files([path], read, reader, policy)[0]


def usable_examples(
    paths: Iterable[str | os.PathLike],
    read: Callable[[str, str, ReadStats], Iterator],
    reader: str,
    policy: str | None = None,
) -> int:
    """Usable examples of several files (the sum of their ``examples``)."""
    return sum(c.examples for c in count_files(paths, read, reader, policy))


def file_counts(paths: Iterable[str | os.PathLike]) -> dict[str, dict]:
    """The counts of files counted in this process, for the run folder's ``bad_records.json``.

    Files never counted (e.g. shipped samples whose counts come from their
    manifest) are left out.
    """
    with _lock:
        return {
            os.fspath(p): _COUNTED[os.path.abspath(p)].as_dict()
            for p in paths
            if os.path.abspath(p) in _COUNTED
        }
