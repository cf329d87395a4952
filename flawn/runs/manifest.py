"""The sweep manifest: one file listing every run of a sweep and where it stands.

``<output>/<sweep>/manifest.json`` holds, per run id: its name, axes, backend,
folder (relative to the sweep folder), status, attempts, timings and error
summary. Each run's own ``run.json`` is written by the process running it;
the manifest is refreshed from those files by the launcher and by ``flawn
sweep status``, under a file lock, so parallel workers never lose an update.

Statuses:

* ``planned``: never started;
* ``running``: its process is alive (same host), or its heartbeat is recent (another host);
* ``finished``: trained and every requested evaluation written;
* ``failed``: the last attempt raised (the error is kept; the log has the traceback);
* ``interrupted``: ``running`` in its file, but its process is gone (killed, preempted);
* ``stale``: trained, but a requested evaluation is missing (the evaluation
  settings changed) or its final checkpoint is gone; a launch redoes only
  what is missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from etils import epath

from flawn.runs.run_dir import RunDir, _read_json, _write_json

STATUSES = ("planned", "running", "finished", "failed", "interrupted", "stale")

#: A run on another host whose heartbeat is older than this is taken as interrupted.
HEARTBEAT_TIMEOUT_S = 15 * 60


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed child not yet reaped) is not running.
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def evals_done(run_dir: RunDir, expected_evals: Collection[str]) -> list[str]:
    """Which requested evaluations (by :func:`flawn.evals.run.request_key`) a run has finished."""
    done = run_dir.read_status().get("evals") or {}
    return [key for key in expected_evals if key in done and run_dir.has_eval(done[key])]


def run_state(run_dir: RunDir, expected_evals: Collection[str] | None = None) -> str:
    """Where one run stands (see the module docstring for the statuses).

    Args:
        run_dir: The run folder.
        expected_evals: Request keys (:func:`flawn.evals.run.request_key`) of
            the evaluations the sweep asks of a finished run; a missing one makes it stale.
    """
    status = run_dir.read_status()
    state = status.get("status")
    if not state:
        return "planned"
    if state == "running":
        pid, host = status.get("pid"), status.get("host")
        if host == socket.gethostname():
            return "running" if pid and _pid_alive(int(pid)) else "interrupted"
        age = time.time() - float(status.get("heartbeat") or 0)
        return "running" if age < HEARTBEAT_TIMEOUT_S else "interrupted"
    if state == "finished":
        if expected_evals and len(evals_done(run_dir, expected_evals)) < len(expected_evals):
            return "stale"
        if not run_dir.final_stage().checkpoint_steps() and status.get("backend") != "t5x":
            return "stale"
        return "finished"
    return state if state in STATUSES else "failed"


class Manifest:
    """The manifest of one sweep folder.

    Args:
        sweep_dir: ``<output>/<sweep>``.
    """

    FILE = "manifest.json"
    LOCK = ".manifest.lock"

    def __init__(self, sweep_dir: str | os.PathLike | epath.Path):
        self.sweep_dir = epath.Path(sweep_dir)
        self.path = self.sweep_dir / self.FILE

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock for read-modify-write (local folders; GCS has one writer)."""
        if str(self.sweep_dir).startswith(("gs://", "s3://")):
            yield
            return
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        with open(os.fspath(self.sweep_dir / self.LOCK), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read(self) -> dict[str, Any]:
        """The manifest (an empty one if none was written)."""
        if not self.path.exists():
            return {"runs": {}}
        return _read_json(self.path)

    def runs(self) -> dict[str, dict[str, Any]]:
        """``{run_id: entry}`` in plan order."""
        return self.read()["runs"]

    def update(self, header: Mapping[str, Any] | None = None, **runs: Mapping[str, Any]) -> None:
        """Merges fields into the header and into run entries (``run_id=fields``)."""
        with self._locked():
            data = self.read()
            data.update(dict(header or {}))
            for run_id, fields in runs.items():
                data["runs"].setdefault(run_id, {}).update(dict(fields))
            data["updated"] = time.time()
            _write_json(self.path, data)

    def record_plan(
        self,
        sweep: str,
        experiment: str,
        entries: Mapping[str, Mapping[str, Any]],
        baseline: Mapping[str, Any] | None = None,
    ) -> None:
        """Adds the planned runs (``{run_id: {name, axes, backend}}``), keeping what is known.

        ``baseline`` (``{axis: value}``) is the sweep's declared baseline, which
        ``flawn analyze`` compares against when not told otherwise.
        """
        with self._locked():
            data = self.read()
            data.update({"sweep": sweep, "experiment": experiment})
            if baseline:
                data["baseline"] = dict(baseline)
            current = data["runs"]
            planned = {}
            for run_id, entry in entries.items():
                planned[run_id] = {
                    "status": "planned",
                    "attempts": 0,
                    **current.get(run_id, {}),
                    **dict(entry),
                    "path": run_id,
                    "in_plan": True,
                }
            for run_id, entry in current.items():  # runs the experiment no longer has
                if run_id not in planned:
                    planned[run_id] = {**entry, "in_plan": False}
            data["runs"] = planned
            data["updated"] = time.time()
            _write_json(self.path, data)

    def refresh(self, expected_evals: Mapping[str, Collection[str]] | None = None) -> None:
        """Re-reads every run's ``run.json`` into the manifest (status, attempts, times, error)."""
        updates = {}
        for run_id, entry in self.runs().items():
            run_dir = RunDir(self.sweep_dir / entry.get("path", run_id))
            status = run_dir.read_status()
            updates[run_id] = {
                "status": run_state(run_dir, (expected_evals or {}).get(run_id)),
                "attempts": status.get("attempts", 0),
                "started": status.get("started"),
                "ended": status.get("ended"),
                "seconds": status.get("seconds"),
                "step": status.get("step"),
                "total_steps": status.get("total_steps"),
                "loss": status.get("loss"),
                "error": _summary(status.get("error")),
                # Which backend ran the latest attempt (the plan's until one did).
                **({"backend": status["backend"]} if status.get("backend") else {}),
            }
        if updates:
            self.update(**updates)


def _summary(error: str | None, width: int = 200) -> str | None:
    """The last line of an error, shortened for tables."""
    if not error:
        return None
    line = str(error).strip().splitlines()[-1]
    return line if len(line) <= width else line[: width - 1] + "…"


def dump(manifest: Manifest) -> str:
    """The manifest as indented JSON (for tools)."""
    return json.dumps(manifest.read(), indent=2, default=str)
