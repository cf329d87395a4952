"""JAX's persistent compilation cache, on by default for every flawn process.

Every run of a sweep compiles the same train step (same model, lengths and
batch), a resumed run compiles what the killed one had, and an evaluation
compiles the same decoding loops for every checkpoint of a size. JAX can keep
compiled programs on disk and load them instead of compiling again (a tiny
model's step: about 8 s to compile, 1 s to load). flawn turns that on:

* ``FLAWN_COMPILATION_CACHE=off`` turns it off; ``FLAWN_COMPILATION_CACHE=DIR``
  puts it in ``DIR``;
* otherwise it lives in ``$FLAWN_CACHE_DIR/jax/<host>`` (default
  ``~/.cache/flawn/jax/<host>``), where ``<host>`` names the jaxlib version and
  a digest of the CPU's model and instruction-set flags: JAX's cache key names
  the platform (``cpu``) but not the CPU, and code compiled for one CPU may use
  instructions another lacks, e.g. on a home directory shared by a cluster;
* a cache directory JAX was already given (``JAX_COMPILATION_CACHE_DIR``) is
  left as it is.

Every compiled program is kept, even the small ones an un-jitted parameter
initialisation compiles op by op (about 200 for a T5, 8 s of a run's start).
JAX's own size bound would rescan the folder under a lock at every write, so
flawn bounds it instead: at start-up, when the folder holds more than
:data:`MAX_BYTES`, the least recently used entries go until it holds
:data:`PRUNE_TO`. An entry
another process is still writing, or one cut short, reads as corrupt (it is
compressed); JAX then warns and compiles (a cut entry stays until the folder is
deleted). JAX's cache key covers the program, the compile options,
the XLA flags that change code and the jaxlib version, so a changed model or
flag compiles afresh.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import platform

logger = logging.getLogger(__name__)

#: Beyond this the oldest entries are removed at the next start-up ...
MAX_BYTES = 2 * 1024**3
#: ... down to this.
PRUNE_TO = 1024**3
#: Programs faster to compile than this are not written (JAX's default is 1 s, which
#: leaves out the op-by-op compiles of an un-jitted initialisation).
MIN_COMPILE_SECONDS = 0.0

_enabled: pathlib.Path | None = None


def host_key() -> str:
    """``jaxlib-<version>-<machine>-<digest of the CPU model and flags>``."""
    import jaxlib

    described = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("model name", "flags", "Features", "CPU part")):
                    described += line
                if line.strip() == "":  # the first processor is enough
                    break
    except OSError:  # not Linux: the machine and processor names above
        pass
    digest = hashlib.sha256(described.encode()).hexdigest()[:12]
    return f"jaxlib-{jaxlib.__version__}-{platform.machine()}-{digest}"


def cache_path() -> pathlib.Path | None:
    """Where compiled programs go, or ``None`` when ``FLAWN_COMPILATION_CACHE=off``."""
    chosen = os.environ.get("FLAWN_COMPILATION_CACHE", "").strip()
    if chosen.lower() in ("off", "0", "false", "no", "none"):
        return None
    if chosen:
        return pathlib.Path(chosen).expanduser()
    from flawn.runs.fingerprint import cache_dir

    return cache_dir() / "jax" / host_key()


def enable_compilation_cache() -> pathlib.Path | None:
    """Points JAX's persistent compilation cache at :func:`cache_path` (once per process).

    JAX decides whether to use a cache at a process's first compile, so this is
    called before it: at start-up (:func:`flawn.runtime.import_heavy_stack`) and
    at the top of :func:`flawn.train.local.train`.

    Returns:
        The cache folder in use, or ``None`` when it is off, when JAX already
        had one from elsewhere (that one stays), or when the folder cannot be
        created (logged as a warning; compiling then works as without a cache).
    """
    global _enabled
    if _enabled is not None:
        return _enabled
    import jax

    if jax.config.jax_compilation_cache_dir:
        return None
    path = cache_path()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        logger.warning("compiling without a persistent cache: cannot create %s (%s)", path, err)
        return None
    prune(path)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    _enabled = path
    return path


def prune(path: pathlib.Path, max_bytes: int = MAX_BYTES, prune_to: int = PRUNE_TO) -> int:
    """Removes the oldest files of ``path`` while it holds more than ``max_bytes``.

    Args:
        path: A cache folder.
        max_bytes: Nothing is removed up to this total size.
        prune_to: Beyond it, the least recently used files (by access time,
            or modification time where that is later) go until the folder
            holds at most this much.

    Returns:
        How many files were removed.
    """
    entries = []
    try:
        with os.scandir(path) as found:
            for entry in found:
                try:
                    if entry.is_file():
                        stat = entry.stat()
                        # Last read where the file system records it (JAX does not
                        # touch entries it reads), else written.
                        used = max(stat.st_atime, stat.st_mtime)
                        entries.append((used, stat.st_size, entry.path))
                except OSError:  # removed meanwhile by another process
                    continue
    except OSError:
        return 0
    total = sum(size for _, size, _ in entries)
    if total <= max_bytes:
        return 0
    removed = 0
    for _, size, file in sorted(entries):
        if total <= prune_to:
            break
        try:
            os.remove(file)
        except OSError:
            continue
        total -= size
        removed += 1
    logger.info("compilation cache %s: removed the %d oldest entries", path, removed)
    return removed
