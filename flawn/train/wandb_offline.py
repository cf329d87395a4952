"""Reading an offline W&B run back from its ``run-<id>.wandb`` file, without a server.

Offline, W&B 0.31 writes no ``config.yaml`` or ``wandb-summary.json``: the run
is only its transaction log, a LevelDB-style log of protobuf ``Record``s that
``wandb sync`` uploads. ``wandb.Api`` reads only the server, and W&B's own
Python reader of the log was removed with the move to ``wandb-core``. This
module reads the log directly, so tests (and users on an air-gapped machine)
can check what a run recorded: its config, its history rows and its summary.

The format (LevelDB's log format with a W&B header): a 7-byte file header
(``:W&B``, magic ``0xBEE1``, version 0), then 32 KiB blocks of chunks, each a
7-byte header (CRC-32, little-endian length, type: full / first / middle /
last) and its bytes; a block's tail too short for a header is zero padding.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import struct
import zlib
from collections.abc import Iterator
from typing import Any

_FILE_HEADER = struct.Struct("<4sHB")
_IDENT, _MAGIC, _VERSION = b":W&B", 0xBEE1, 0
_CHUNK_HEADER = struct.Struct("<IHB")
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


@dataclasses.dataclass
class OfflineRun:
    """What an offline W&B run recorded.

    Attributes:
        run_id: The W&B run id.
        config: The run's config (keys as logged; values decoded from JSON).
        history: One dict per ``log`` call, with ``_step``; in the order logged.
        summary: The run's summary (updates applied in order).
        files: Paths of the files the run saved (relative to its ``files/`` folder).
        artifacts: ``(name, type, [file paths])`` of every artifact the run logged.
    """

    run_id: str
    config: dict[str, Any]
    history: list[dict[str, Any]]
    summary: dict[str, Any]
    files: list[str]
    artifacts: list[tuple[str, str, list[str]]] = dataclasses.field(default_factory=list)

    def metric(self, key: str) -> list[tuple[int, Any]]:
        """``(step, value)`` of every history row holding ``key``."""
        return [(row["_step"], row[key]) for row in self.history if key in row]


def _payloads(path: pathlib.Path) -> Iterator[bytes]:
    """The records' bytes, reassembled from their chunks, with checksums verified."""
    data = path.read_bytes()
    ident, magic, version = _FILE_HEADER.unpack_from(data, 0)
    if (ident, magic, version) != (_IDENT, _MAGIC, _VERSION):
        raise ValueError(f"{path} is not a W&B transaction log (header {ident!r}, {magic:#x})")
    offset, pending = _FILE_HEADER.size, b""
    while offset + _CHUNK_HEADER.size <= len(data):
        room = _BLOCK - offset % _BLOCK
        if room < _CHUNK_HEADER.size:  # zero padding at the end of a block
            offset += room
            continue
        checksum, length, kind = _CHUNK_HEADER.unpack_from(data, offset)
        if kind == 0 and length == 0:  # unwritten tail (a run still open, or killed)
            break
        start = offset + _CHUNK_HEADER.size
        chunk = data[start : start + length]
        if len(chunk) < length or zlib.crc32(bytes([kind]) + chunk) & 0xFFFFFFFF != checksum:
            break  # a torn last write: what came before it is still good
        offset = start + length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk
            pending = b""


def log_is_complete(run_dir: str | os.PathLike) -> bool:
    """Whether an offline run's transaction log holds its final (``exit``) record.

    ``run.finish()`` returns once W&B's service has the run's records, not
    once they are in the file: the service writes them after. Records are
    written in order, so a log with its exit record holds all of them.
    """
    from wandb.proto import wandb_internal_pb2 as pb  # deferred: slow import

    found = sorted(pathlib.Path(run_dir).glob("run-*.wandb"))
    if not found:
        return False
    record = pb.Record()
    for payload in _payloads(found[0]):
        record.ParseFromString(payload)
        if record.WhichOneof("record_type") == "exit":
            return True
    return False


def _key(item) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


def _history_value(item) -> Any:
    kind = item.WhichOneof("value")
    if kind in (None, "json"):
        return json.loads(item.value_json or item.json or "null")
    return None if kind == "none" else getattr(item, kind)


def read_offline_run(run_dir: str | os.PathLike) -> OfflineRun:
    """Reads an offline run folder (``.../wandb/offline-run-<time>-<id>``).

    Args:
        run_dir: The run folder (what ``wandb sync`` takes), or its ``.wandb`` file.

    Raises:
        FileNotFoundError: If the folder holds no ``run-*.wandb`` file.
        ValueError: If the file is not a W&B transaction log.
    """
    from wandb.proto import wandb_internal_pb2 as pb  # deferred: slow import

    path = pathlib.Path(run_dir)
    if path.is_dir():
        found = sorted(path.glob("run-*.wandb"))
        if not found:
            raise FileNotFoundError(f"{path} holds no run-*.wandb file")
        path = found[0]
    run = OfflineRun(run_id="", config={}, history=[], summary={}, files=[])
    for payload in _payloads(path):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.run_id = record.run.run_id
            for item in record.run.config.update:
                run.config[_key(item)] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                run.config[_key(item)] = json.loads(item.value_json)
            for item in record.config.remove:
                run.config.pop(_key(item), None)
        elif kind == "history":
            row = {_key(item): _history_value(item) for item in record.history.item}
            row.setdefault("_step", record.history.step.num)
            run.history.append(row)
        elif kind == "summary":
            for item in record.summary.update:
                run.summary[_key(item)] = json.loads(item.value_json)
            for item in record.summary.remove:
                run.summary.pop(_key(item), None)
        elif kind == "files":
            run.files.extend(f.path for f in record.files.files)
        elif kind == "artifact":
            paths = [entry.path for entry in record.artifact.manifest.contents]
            run.artifacts.append((record.artifact.name, record.artifact.type, paths))
    # W&B stores each config value as {"value": ..., "desc": ...}.
    run.config = {
        k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in run.config.items()
    }
    return run
