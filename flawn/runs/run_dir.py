"""The files of a run folder; the only code that knows their names.

A *train folder* (:class:`TrainDir`) is what one training job writes: its
resolved gin config, data plan, realised counts, metrics and checkpoints.
``flawn train --gin.MODEL_DIR=X`` makes ``X`` one. A *run folder*
(:class:`RunDir`) is one run of a sweep::

    <run>/
      spec.json          the RunSpec: axes, stages, data fingerprint (its hash is the id)
      run.json           status: attempts, process, heartbeat, step, loss, timings, error
      stages/<name>/     one train folder per stage (config.gin, checkpoints/, metrics.jsonl, ...)
      vocab/             the run's extended vocabulary, when its regime extends one
                         (extended.model, extension.json, recipe.json; flawn.runs.vocabulary)
      eval/<eval_id>/    eval.json (the EvalSpec), examples.jsonl, tasks.jsonl, summary.json
      logs/attempt-N.log what each attempt printed
      t5x/               T5X gin files, launch.sh, pod.sh (the t5x backend)
      wandb/             W&B run files

Nothing stored inside refers to the folder's own location: ``config.gin``
leaves ``MODEL_DIR`` unbound and it is bound to wherever the folder is when
the config is loaded, so run folders can be moved, copied or synced to
``gs://``. Paths are :mod:`etils.epath` paths, so a folder may live on GCS.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from etils import epath

from flawn.errors import ConfigError

PathLike = str | os.PathLike | epath.Path

#: Written in place of MODEL_DIR's value in a stored config.gin.
_MODEL_DIR_LINE = re.compile(r"^MODEL_DIR = .*$", re.MULTILINE)
_RELOCATABLE_HEADER = (
    "# MODEL_DIR is bound to this folder when the config is loaded (flawn.runs.TrainDir),\n"
    "# so the folder can be moved or copied.\n"
)
_MODEL_DIR_UNBOUND = "MODEL_DIR = %gin.REQUIRED"


def _write_json(path: epath.Path, value: Any) -> None:
    """Writes JSON atomically where the file system allows (local: temp file + rename)."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"
    if path.parent.exists() and not str(path).startswith(("gs://", "s3://")):
        tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _read_json(path: epath.Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def relocatable_config(text: str) -> str:
    """A gin config with its ``MODEL_DIR`` value removed (bound again on load)."""
    body = _MODEL_DIR_LINE.sub(_MODEL_DIR_UNBOUND, text)
    return body if body.startswith(_RELOCATABLE_HEADER) else _RELOCATABLE_HEADER + body


class TrainDir:
    """One training job's folder.

    Args:
        path: The folder (local or ``gs://``).
    """

    CONFIG = "config.gin"
    PLAN = "plan.json"
    DATA_COUNTS = "data_counts.json"
    METRICS = "metrics.jsonl"
    CHECKPOINTS = "checkpoints"
    SUMMARY = "train_summary.json"
    TRACKING = "tracking.json"

    def __init__(self, path: PathLike):
        self.path = epath.Path(path)

    def __repr__(self) -> str:
        return f"TrainDir({os.fspath(self.path)!r})"

    @property
    def config_path(self) -> epath.Path:
        """The resolved gin config (``MODEL_DIR`` unbound)."""
        return self.path / self.CONFIG

    @property
    def plan_path(self) -> epath.Path:
        """The data plan printed before training."""
        return self.path / self.PLAN

    @property
    def data_counts_path(self) -> epath.Path:
        """Examples drawn per source, next to the planned shares."""
        return self.path / self.DATA_COUNTS

    @property
    def metrics_path(self) -> epath.Path:
        """Training metrics, one JSON row per logging step."""
        return self.path / self.METRICS

    @property
    def checkpoint_dir(self) -> epath.Path:
        """Orbax checkpoints, one folder per step."""
        return self.path / self.CHECKPOINTS

    @property
    def summary_path(self) -> epath.Path:
        """First and final loss, steps, resumed-from step."""
        return self.path / self.SUMMARY

    def write_config(self, text: str) -> None:
        """Stores a resolved gin config without the folder's own location."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(relocatable_config(text), encoding="utf-8")

    def config_text(self) -> str:
        """The stored config (raises ``FileNotFoundError`` naming the file if absent)."""
        if not self.config_path.exists():
            raise FileNotFoundError(
                f"{self.config_path} not found: not a flawn train or run folder "
                "(it needs config.gin and checkpoints/)"
            )
        return self.config_path.read_text(encoding="utf-8")

    def bindings(self) -> list[str]:
        """The gin bindings that place the stored config in this folder."""
        return [f"MODEL_DIR = {os.fspath(self.path)!r}"]

    def checkpoint_steps(self) -> list[int]:
        """Steps of the checkpoints present, ascending."""
        if not self.checkpoint_dir.exists():
            return []
        return sorted(int(p.name) for p in self.checkpoint_dir.iterdir() if p.name.isdigit())

    def read_metrics(self) -> list[dict[str, Any]]:
        """The logged metric rows, in order."""
        if not self.metrics_path.exists():
            return []
        lines = self.metrics_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def truncate_metrics(self, last_step: int) -> int:
        """Drops metric rows logged after ``last_step`` (a resumed run logs them again).

        Returns:
            How many rows were dropped.
        """
        rows = self.read_metrics()
        kept = [r for r in rows if r.get("step", 0) <= last_step]
        if len(kept) != len(rows):
            self.metrics_path.write_text(
                "".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8"
            )
        return len(rows) - len(kept)

    def tracking_id(self) -> str:
        """A W&B run id kept in the folder, so every attempt logs to the same W&B run."""
        stored = self.read_json(self.TRACKING) or {}
        if "wandb_id" not in stored:
            stored["wandb_id"] = uuid.uuid4().hex[:16]
            self.write_json(self.TRACKING, stored)
        return stored["wandb_id"]

    def read_json(self, name: str) -> Any:
        """Reads one of the folder's JSON files, or ``None`` if it is absent."""
        path = self.path / name
        return _read_json(path) if path.exists() else None

    def write_json(self, name: str, value: Any) -> None:
        """Writes one of the folder's JSON files."""
        self.path.mkdir(parents=True, exist_ok=True)
        _write_json(self.path / name, value)


class RunDir:
    """One run of a sweep (see the module docstring for the layout).

    A folder without ``spec.json`` but with ``config.gin`` (what ``flawn
    train`` writes) is read as a one-stage run whose stage is the folder itself.

    Args:
        path: The run folder (local or ``gs://``).
    """

    SPEC = "spec.json"
    STATUS = "run.json"
    STAGES = "stages"
    EVAL = "eval"
    EVAL_SPEC = "eval.json"
    LOGS = "logs"
    T5X = "t5x"
    WANDB = "wandb"
    REQUESTED_EVALS = "evals.json"
    VOCAB = "vocab"

    def __init__(self, path: PathLike):
        self.path = epath.Path(path)

    def __repr__(self) -> str:
        return f"RunDir({os.fspath(self.path)!r})"

    @property
    def run_id(self) -> str:
        """The run's id (the folder name for sweep runs)."""
        spec = self.read_spec()
        return spec["run_id"] if spec else self.path.name

    @property
    def spec_path(self) -> epath.Path:
        """The stored RunSpec."""
        return self.path / self.SPEC

    @property
    def status_path(self) -> epath.Path:
        """The run's status file."""
        return self.path / self.STATUS

    @property
    def is_sweep_run(self) -> bool:
        """Whether the folder holds a RunSpec (else it is a bare train folder)."""
        return self.spec_path.exists()

    def exists(self) -> bool:
        """Whether the folder holds a run (a spec or a bare train config)."""
        return self.spec_path.exists() or (self.path / TrainDir.CONFIG).exists()

    def require(self, label: str) -> None:
        """Raises unless the folder holds a run, saying which folders are runs.

        Args:
            label: How the folder was given, for the message (``"--checkpoint PATH"``).

        Raises:
            ConfigError: If the folder holds no run.
        """
        if not self.exists():
            raise ConfigError(
                f"{label}: not a run folder; pass a sweep run folder "
                "(runs/<sweep>/<run_id>, with spec.json) or a flawn train folder (its MODEL_DIR, "
                "with config.gin and checkpoints/)"
            )

    # -- spec and stages ---------------------------------------------------------------------
    def write_spec(self, spec: Mapping[str, Any]) -> None:
        """Stores the RunSpec (as :meth:`flawn.runs.RunSpec.to_json` gives it)."""
        self.path.mkdir(parents=True, exist_ok=True)
        _write_json(self.spec_path, dict(spec))

    def read_spec(self) -> dict[str, Any] | None:
        """The stored RunSpec as a dict, or ``None`` for a bare train folder."""
        return _read_json(self.spec_path) if self.spec_path.exists() else None

    @property
    def vocab_dir(self) -> epath.Path:
        """The run's extended vocabulary (:mod:`flawn.runs.vocabulary`), if its regime has one."""
        return self.path / self.VOCAB

    def stage(self, name: str) -> TrainDir:
        """The train folder of one stage."""
        return TrainDir(self.path / self.STAGES / name)

    def stage_names(self) -> list[str]:
        """Stage names in training order."""
        spec = self.read_spec()
        if spec is None:
            return [""]
        return [stage["name"] for stage in spec["stages"]]

    def stages(self) -> list[TrainDir]:
        """Every stage's train folder, in training order."""
        if not self.is_sweep_run:
            return [TrainDir(self.path)]
        return [self.stage(name) for name in self.stage_names()]

    def final_stage(self) -> TrainDir:
        """The train folder whose last checkpoint is the run's model."""
        return self.stages()[-1]

    # -- status --------------------------------------------------------------------------------
    def read_status(self) -> dict[str, Any]:
        """The status record (``{}`` when the run never started)."""
        if not self.status_path.exists():
            return {}
        try:
            return _read_json(self.status_path)
        except json.JSONDecodeError:
            # A process killed mid-write on a file system without atomic rename.
            return {"status": "interrupted", "error": f"{self.status_path} is unreadable"}

    def update_status(self, **fields: Any) -> dict[str, Any]:
        """Merges ``fields`` into the status record and writes it back."""
        self.path.mkdir(parents=True, exist_ok=True)
        status = {**self.read_status(), **fields}
        _write_json(self.status_path, status)
        return status

    def mark_started(self, backend: str, pid: int | None = None) -> dict[str, Any]:
        """Records a new attempt (status ``running``) by process ``pid`` of this host.

        Args:
            backend: The backend that runs it.
            pid: The process that runs it, whose death means ``interrupted``
                (default this one; ``pod.sh`` gives its own).
        """
        status = self.read_status()
        attempt = int(status.get("attempts", 0)) + 1
        now = time.time()
        return self.update_status(
            status="running",
            attempts=attempt,
            backend=backend,
            pid=pid or os.getpid(),
            host=socket.gethostname(),
            started=now,
            heartbeat=now,
            ended=None,
            error=None,
            traceback=None,
        )

    def heartbeat(self, **fields: Any) -> None:
        """Records progress (step, loss, ...) and that the process is alive."""
        self.update_status(heartbeat=time.time(), **fields)

    def mark_finished(self, **fields: Any) -> None:
        """Records a finished attempt."""
        status = self.read_status()
        now = time.time()
        seconds = float(status.get("seconds") or 0.0) + now - float(status.get("started") or now)
        self.update_status(
            status="finished", ended=now, seconds=round(seconds, 1), pid=None, **fields
        )

    def mark_failed(self, error: str, traceback_text: str | None = None) -> None:
        """Records a failed attempt with its error (the traceback stays in the log)."""
        status = self.read_status()
        now = time.time()
        seconds = float(status.get("seconds") or 0.0) + now - float(status.get("started") or now)
        self.update_status(
            status="failed",
            ended=now,
            seconds=round(seconds, 1),
            pid=None,
            error=error,
            traceback=traceback_text,
        )

    # -- evaluation ------------------------------------------------------------------------------
    def eval_dir(self, eval_id: str) -> epath.Path:
        """Where the rows of one evaluation (one EvalSpec) live."""
        return self.path / self.EVAL / eval_id

    def eval_ids(self) -> list[str]:
        """Evaluations present (folders with their eval.json)."""
        root = self.path / self.EVAL
        if not root.exists():
            return []
        return sorted(p.name for p in root.iterdir() if (p / self.EVAL_SPEC).exists())

    def read_eval_spec(self, eval_id: str) -> dict[str, Any] | None:
        """The EvalSpec an evaluation was made with."""
        path = self.eval_dir(eval_id) / self.EVAL_SPEC
        return _read_json(path) if path.exists() else None

    def write_eval_spec(self, eval_id: str, spec: Mapping[str, Any]) -> None:
        """Stores the EvalSpec of an evaluation; written last, so its presence means done."""
        _write_json(self.eval_dir(eval_id) / self.EVAL_SPEC, dict(spec))

    def write_requested_evals(self, evals: list[Mapping[str, Any]]) -> None:
        """Stores the evaluations the sweep asks of this run (EvalSpec dicts)."""
        _write_json(self.path / self.REQUESTED_EVALS, [dict(e) for e in evals])

    def read_requested_evals(self) -> list[dict[str, Any]] | None:
        """The evaluations the sweep asks of this run, if recorded."""
        path = self.path / self.REQUESTED_EVALS
        return _read_json(path) if path.exists() else None

    def has_eval(self, eval_id: str) -> bool:
        """Whether an evaluation finished (its eval.json is written last)."""
        return (self.eval_dir(eval_id) / self.EVAL_SPEC).exists()

    # -- logs and backends -----------------------------------------------------------------------
    def log_path(self, attempt: int) -> epath.Path:
        """The log of one attempt."""
        return self.path / self.LOGS / f"attempt-{attempt}.log"

    def latest_log(self) -> epath.Path | None:
        """The newest attempt's log, if any."""
        logs = self.path / self.LOGS
        if not logs.exists():
            return None
        found = sorted(logs.glob("attempt-*.log"), key=lambda p: int(p.stem.split("-")[1] or 0))
        return found[-1] if found else None

    @property
    def t5x_dir(self) -> epath.Path:
        """The T5X backend's files (gin, launch.sh, pod.sh, its model dirs)."""
        return self.path / self.T5X

    @property
    def wandb_dir(self) -> epath.Path:
        """Where W&B writes its local run files (one folder per W&B run)."""
        return self.path / self.WANDB

    def wandb_runs(self) -> list[epath.Path]:
        """Local W&B run folders (``offline-run-*`` / ``run-*``), oldest first."""
        root = self.wandb_dir
        if not root.exists():
            return []
        return sorted(p for p in root.iterdir() if p.name.startswith(("offline-run-", "run-")))


def sweep_run_dirs(sweep_dir: PathLike) -> Iterable[RunDir]:
    """Every run folder directly under a sweep folder."""
    root = epath.Path(sweep_dir)
    if not root.exists():
        return []
    return [RunDir(p) for p in sorted(root.iterdir()) if (p / RunDir.SPEC).exists()]
