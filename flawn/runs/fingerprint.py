"""Fingerprints of data: what a run trains on, as part of its identity.

A mixture's fingerprint holds its resolved rate per task, each task's example
count, its source, and a digest of every data file it reads. Editing
``mixtures/*.py`` (a rate, a task list) or a data file therefore changes the
run id. File digests are content hashes (BLAKE2b), so a fresh clone gets the
same ids as the checkout it came from; they are cached by path, inode, size,
modification and status-change time (``FLAWN_CACHE_DIR``, default
``~/.cache/flawn``) so that a large release is read once, not on every plan.
The status-change time (``ctime``) is what makes the cache safe: an edit that
keeps the length and puts the modification time back still changes it, as
the system sets it on every write and ``utime`` call. :func:`verify_data`
rehashes every file regardless (``flawn sweep ... --verify-data``).

A run's identity uses :func:`data_identity` of each fingerprint: rates as
shares of their sum, since seqio samples by the shares (weights 1.0/1.0 and
0.5/0.5 train the same thing).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import pathlib
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

_CHUNK = 1 << 20
_LOCK = threading.Lock()
_MEMO: dict[str, str] = {}
#: Set by :func:`verify_data`: hash every file again instead of trusting the cache.
_VERIFY = False
#: Significant digits of the rate shares in a run's identity (float noise is not a new run).
_SHARE_DIGITS = 12

log = logging.getLogger(__name__)


def cache_dir() -> pathlib.Path:
    """Where flawn keeps caches (``FLAWN_CACHE_DIR`` or ``~/.cache/flawn``)."""
    return pathlib.Path(os.environ.get("FLAWN_CACHE_DIR") or pathlib.Path.home() / ".cache/flawn")


def _cache_file() -> pathlib.Path:
    return cache_dir() / "file_digests.json"


def _load_cache() -> dict[str, str]:
    try:
        return json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_cache(entries: dict[str, str]) -> None:
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        current = _load_cache()
        current.update(entries)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(current), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs re-hashing next time


def verify_data(enabled: bool = True) -> None:
    """Makes :func:`file_digest` hash every file again (once per process), ignoring the cache.

    A digest that differs from its cached one is logged as a warning and
    replaces it.
    """
    global _VERIFY
    with _LOCK:
        _VERIFY = enabled
        _MEMO.clear()


def _stat_key(path: str) -> str:
    stat = os.stat(path)
    return f"{path}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}"


def file_digest(path: str | os.PathLike) -> str:
    """The BLAKE2b-128 hex digest of a file's bytes.

    Cached by path, inode, size, mtime and ctime (see the module docstring),
    unless :func:`verify_data` is on.

    Raises:
        FileNotFoundError: If the file does not exist (naming it).
    """
    resolved = os.path.abspath(os.fspath(path))
    key = _stat_key(resolved)
    with _LOCK:
        if key in _MEMO:
            return _MEMO[key]
    cached = _load_cache().get(key)
    if cached is None or _VERIFY:
        digest = hashlib.blake2b(digest_size=16)
        with open(resolved, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        fresh = digest.hexdigest()
        if cached is not None and cached != fresh:
            log.warning("%s changed without its size or times changing; rehashed", resolved)
        if fresh != cached:
            _save_cache({key: fresh})
        cached = fresh
    with _LOCK:
        _MEMO[key] = cached
    return cached


def files_fingerprint(paths: Iterable[str | os.PathLike], root: str | os.PathLike | None = None):
    """``{name: {"bytes", "blake2b"}}`` for files; names are relative to ``root`` when given.

    Names are made relative (or reduced to the base name) so that the same
    data in another place has the same fingerprint.
    """
    out = {}
    for path in paths:
        path = os.fspath(path)
        name = os.path.relpath(path, root) if root else os.path.basename(path)
        out[name] = {"bytes": os.path.getsize(path), "blake2b": file_digest(path)}
    return dict(sorted(out.items()))


def folder_fingerprint(folder: str | os.PathLike, pattern: str = "**/*") -> dict[str, Any]:
    """Fingerprint of every file under ``folder`` matching ``pattern``."""
    root = pathlib.Path(folder)
    files = sorted(p for p in root.glob(pattern) if p.is_file())
    return files_fingerprint(files, root)


def _task_files(task) -> list[str]:
    """The local files a seqio task reads (empty when its source is not file-based)."""
    source = task.source
    files: list[str] = []
    for split in getattr(source, "splits", ()) or ():
        try:
            shards = source.list_shards(split)
        except Exception:  # (sources of other libraries: no files known)
            return []
        files.extend(s for s in shards if isinstance(s, str) and os.path.isfile(s))
    for step in getattr(task, "preprocessors", ()):
        # The instruction bank beside LawInstruct shards (format_lawinstruct's folder_bank).
        bank = step.keywords.get("folder_bank") if isinstance(step, functools.partial) else None
        if isinstance(bank, str) and os.path.isfile(bank):
            files.append(bank)
    return sorted(set(files))


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _stable_repr(value: Any) -> str:
    """``repr`` without memory addresses (a function's repr differs in every process)."""
    return _ADDRESS.sub("", repr(value))


def task_fingerprint(task) -> dict[str, Any]:
    """A seqio task's example count, source and data files."""
    try:
        count = task.num_input_examples("train") if "train" in task.splits else None
    except Exception:  # (a source without counts)
        count = None
    files = _task_files(task)
    return {
        "examples": count,
        "source": type(task.source).__name__,
        "files": files_fingerprint(files) if files else _stable_repr(task.source),
    }


def mixture_fingerprint(name: str) -> dict[str, Any]:
    """The resolved rates, counts and files of a registered seqio mixture or task.

    For a mixture, the rate of every leaf task is what seqio will sample by
    (nested mixtures flattened); the declared rates (units included) are
    recorded too when the mixture was registered through flawn.

    Raises:
        flawn.errors.RegistryError: If no such mixture or task exists (with the nearest names).
    """
    import seqio  # deferred: pulls in TensorFlow

    from flawn.mixtures.registry import _SPECS
    from flawn.mixtures.validation import check_mixture_name

    check_mixture_name(name)
    provider = seqio.get_mixture_or_task(name)
    if isinstance(provider, seqio.Mixture):
        tasks = sorted(provider.tasks, key=lambda t: t.name)
        rates = {t.name: float(provider.get_rate(t)) for t in tasks}
    else:
        tasks = [provider]
        rates = {provider.name: 1.0}
    declared = {}
    pending = [name]
    while pending:
        current = pending.pop()
        if current in declared or current not in _SPECS:
            continue
        declared[current] = [(c, r.describe()) for c, r in _SPECS[current].components]
        pending.extend(c for c, _ in _SPECS[current].components)
    return {
        "name": name,
        "rates": rates,
        "declared": dict(sorted(declared.items())),
        "tasks": {t.name: task_fingerprint(t) for t in tasks},
    }


def data_identity(fingerprint: Any) -> Any:
    """What of a :func:`mixture_fingerprint` decides what is trained (for run ids).

    Rates become shares of their sum, rounded to 12 significant digits:
    seqio samples by the shares, so weights 1.0/1.0 and 0.5/0.5 are the same
    run. The declared rates are left out: they are how the shares were
    written, and their resolved values are the rates.
    """
    if not isinstance(fingerprint, Mapping):
        return fingerprint
    out = {k: v for k, v in fingerprint.items() if k != "declared"}
    rates = fingerprint.get("rates")
    if isinstance(rates, Mapping):
        total = sum(rates.values())
        if total > 0:
            out["rates"] = {
                task: float(f"{rate / total:.{_SHARE_DIGITS}g}") for task, rate in rates.items()
            }
    return out
