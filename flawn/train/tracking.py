"""Experiment tracking: Weights & Biases (offline by default) and a local metrics file.

W&B's mode is chosen once per process (:func:`wandb_mode`): ``WANDB_MODE`` if
set, ``online`` with an account, else ``offline``. Online mode with no route
to the W&B server would make ``wandb.init`` wait about 100 s and then fail;
flawn checks the server first (a 3 s TCP connect) and logs offline instead,
saying so. A run given a ``run_id`` resumes the same W&B run, so a restarted
training job continues its curves instead of starting a new run; rows the
W&B service had not yet written when a job was killed outright are logged
again from the metrics file when it resumes (:meth:`RunTracker.catch_up`).
"""

from __future__ import annotations

import functools
import json
import logging
import netrc
import os
import pathlib
import socket
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

_DEFAULT_HOST = "https://api.wandb.ai"
_CONNECT_TIMEOUT_S = 3.0
#: How long closing a run waits for W&B's service to write the rest of its log.
_LOG_WAIT_S = 120.0


def wandb_mode() -> str:
    """Chooses the W&B mode: ``WANDB_MODE`` if set, ``online`` with an account, else ``offline``.

    An account is an API key in ``WANDB_API_KEY`` or a ``~/.netrc`` entry for
    ``api.wandb.ai`` (what ``wandb login`` writes).
    """
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        if netrc.netrc().authenticators("api.wandb.ai"):
            return "online"
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        pass
    return "offline"


@functools.cache
def wandb_reachable(base_url: str | None = None) -> bool:
    """Whether the W&B server accepts a TCP connection within 3 seconds (checked once)."""
    url = urllib.parse.urlparse(base_url or os.environ.get("WANDB_BASE_URL") or _DEFAULT_HOST)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=_CONNECT_TIMEOUT_S):
            return True
    except OSError:
        return False


def effective_mode() -> tuple[str, str | None]:
    """The mode W&B will really run in, and why it differs from :func:`wandb_mode` (if it does)."""
    mode = wandb_mode()
    if mode == "online" and not wandb_reachable():
        host = os.environ.get("WANDB_BASE_URL") or _DEFAULT_HOST
        return "offline", (
            f"W&B: {host} is unreachable, so this run logs offline; upload it later with "
            "`wandb sync <run folder>/wandb/offline-run-*`"
        )
    return mode, None


class RunTracker:
    """Logs metrics to a JSON Lines file and, if enabled, to W&B.

    Args:
        run_dir: Folder for the metrics file (and W&B's files unless ``wandb_dir`` is given).
        name: Display name of the run.
        config: The flattened configuration to record.
        use_wandb: Whether to log to W&B at all.
        project: W&B project.
        group: W&B group (flawn uses the sweep name).
        job_type: W&B job type (``train`` or ``eval``).
        tags: W&B tags (flawn uses ``axis=value`` of the run's axes).
        run_id: W&B run id; a later tracker with the same id resumes that W&B run.
        wandb_dir: The folder in which W&B makes its ``wandb/`` folder of run
            files (default ``run_dir``).
        metrics_file: The metrics file's name inside ``run_dir``; ``None``: W&B only.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike,
        name: str,
        config: Mapping[str, Any],
        use_wandb: bool = True,
        project: str = "flawn",
        group: str | None = None,
        job_type: str | None = None,
        tags: Sequence[str] = (),
        run_id: str | None = None,
        wandb_dir: str | os.PathLike | None = None,
        metrics_file: str | None = "metrics.jsonl",
    ):
        self.run_dir = pathlib.Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._metrics = (
            open(self.run_dir / metrics_file, "a", encoding="utf-8")  # noqa: SIM115
            if metrics_file
            else None
        )
        self._wandb_run = None
        self._wandb_floor: int | None = None  # W&B already holds every step up to this
        self.mode = "disabled"
        self.notice: str | None = None
        if use_wandb:
            self.mode, self.notice = effective_mode()
            if self.notice:
                print(self.notice, flush=True)
            if self.mode != "disabled":
                self._wandb_run = self._init_wandb(
                    name, config, project, group, job_type, tags, run_id, wandb_dir
                )

    def _init_wandb(self, name, config, project, group, job_type, tags, run_id, wandb_dir):
        import wandb  # deferred: slow import

        directory = pathlib.Path(wandb_dir or self.run_dir)
        directory.mkdir(parents=True, exist_ok=True)
        kwargs = dict(
            project=project,
            name=name,
            group=group,
            job_type=job_type,
            tags=[t[:64] for t in tags],  # W&B rejects tags over 64 characters
            dir=str(directory),
            config=dict(config),
            id=run_id,
            resume="allow" if run_id else None,
            reinit="finish_previous",
            settings=wandb.Settings(silent=True, console="off"),
        )
        try:
            return wandb.init(mode=self.mode, **kwargs)
        except Exception as err:  # (W&B raises several network error types)
            if self.mode != "online":
                raise
            self.mode = "offline"
            self.notice = (
                f"W&B: online init failed ({type(err).__name__}: {err}); logging offline "
                "instead; upload later with `wandb sync`"
            )
            print(self.notice, flush=True)
            # The failed attempt leaves its run registered with W&B's service process,
            # which then refuses a second run with the same id ("run ID ... is in use");
            # a fresh service takes the offline run under the id the run resumes by. A
            # service inherited from a parent process (WANDB_SERVICE) outlives teardown,
            # so its address is dropped too and this process starts its own.
            wandb.teardown()
            os.environ.pop("WANDB_SERVICE", None)
            return wandb.init(mode="offline", **kwargs)

    @property
    def wandb_dir(self) -> str | None:
        """The local folder of the W&B run (what ``wandb sync`` takes), if any."""
        return self._wandb_run.dir.removesuffix("/files") if self._wandb_run else None

    @property
    def wandb_id(self) -> str | None:
        """The W&B run id, if W&B is on."""
        return self._wandb_run.id if self._wandb_run else None

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Records metrics at a step."""
        if self._metrics is not None:
            row = {"step": step, **{k: float(v) for k, v in metrics.items()}}
            self._metrics.write(json.dumps(row) + "\n")
            self._metrics.flush()
        if self._wandb_run is not None and (self._wandb_floor is None or step > self._wandb_floor):
            self._wandb_run.log(dict(metrics), step=step)

    def catch_up(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Logs to W&B the rows of a resumed run that its W&B history lacks.

        W&B's service writes a run's records to disk every 15 seconds; a job
        killed outright (``kill -9``, the kernel's OOM killer, a lost node)
        loses what it held, so the synced run would show only the resumed
        steps. The metrics file is written row by row: its rows after the
        last step that an earlier attempt's W&B log (or, online, the server)
        holds are logged now, and later calls of :meth:`log` skip steps W&B
        already has, so each step is in the W&B history once.

        Args:
            rows: The metrics file's rows (``{"step": ..., ...}``) up to the
                checkpoint the run resumes from.

        Returns:
            How many rows were logged again.
        """
        if self._wandb_run is None:
            return 0
        floor = self._recorded_step()
        missing = [row for row in rows if row["step"] > floor]
        for row in missing:
            self._wandb_run.log({k: v for k, v in row.items() if k != "step"}, step=row["step"])
        self._wandb_floor = max([floor, *(row["step"] for row in missing)])
        if missing:
            log.info("W&B: logged %d metric row(s) an earlier attempt lost", len(missing))
        return len(missing)

    def _recorded_step(self) -> int:
        """The last step an earlier attempt of this W&B run recorded (-1 if none)."""
        from flawn.train.wandb_offline import read_offline_run

        run = self._wandb_run
        if self.mode == "online":  # the server's history is what counts
            return run.starting_step - 1
        current = pathlib.Path(self.wandb_dir)
        steps = [-1]
        # Earlier attempts' folders: offline-run-<date>_<time>-<id> (or run-... when online).
        for folder in current.parent.glob(f"*run-????????_??????-{run.id}"):
            if folder != current and list(folder.glob("run-*.wandb")):
                steps.extend(row["_step"] for row in read_offline_run(folder).history)
        return max(steps)

    def log_table(self, key: str, columns: list[str], rows: list[list[Any]]) -> None:
        """Logs a table (e.g. per-task eval scores) to W&B; no-op without W&B."""
        if self._wandb_run is not None:
            import wandb

            self._wandb_run.log({key: wandb.Table(columns=columns, data=rows)})

    def update_config(self, values: Mapping[str, Any]) -> None:
        """Adds entries to the W&B run's config (a resumed run may overwrite them).

        A no-op without W&B.
        """
        if self._wandb_run is not None:
            self._wandb_run.config.update(dict(values), allow_val_change=True)

    def save_text(self, filename: str, text: str) -> None:
        """Saves a text file with the W&B run (uploaded by ``wandb sync``); no-op without W&B."""
        if self._wandb_run is not None:
            path = pathlib.Path(self._wandb_run.dir) / filename
            path.write_text(text, encoding="utf-8")
            self._wandb_run.save(str(path), base_path=self._wandb_run.dir, policy="now")

    def log_file(self, name: str, kind: str, path: str | os.PathLike) -> str | None:
        """Logs one file as a W&B artifact of the run; returns the W&B folder (None without W&B)."""
        if self._wandb_run is None:
            return None
        import wandb

        artifact = wandb.Artifact(name=name, type=kind)
        artifact.add_file(os.fspath(path))
        self._wandb_run.log_artifact(artifact)
        return self.wandb_dir

    def summary(self, values: Mapping[str, Any]) -> None:
        """Sets run-level summary values in W&B."""
        if self._wandb_run is not None:
            self._wandb_run.summary.update(dict(values))

    def close(self) -> None:
        """Flushes and closes the metrics file and the W&B run."""
        if self._metrics is not None:
            self._metrics.close()
        if self._wandb_run is not None:
            folder = self.wandb_dir
            self._wandb_run.finish()
            self._wandb_run = None
            _wait_for_log(folder)


def _wait_for_log(folder: str, timeout_s: float = _LOG_WAIT_S) -> None:
    """Waits until W&B's service has written a finished run's whole log (see ``log_is_complete``).

    Without this, whoever reads or syncs the run right after (the next
    stage, ``wandb sync``, a test) may find its last records (an artifact,
    the last history rows) missing; the lag grows with the machine's load.
    A service shared with a parent process (``WANDB_SERVICE``) keeps
    writing after this process's own W&B teardown, so the file itself is
    what is waited on.
    """
    from flawn.train.wandb_offline import log_is_complete

    if not list(pathlib.Path(folder).glob("run-*.wandb")):
        return  # no transaction log (W&B made none; it is created when the run starts)
    deadline = time.monotonic() + timeout_s
    while not log_is_complete(folder):
        if time.monotonic() > deadline:
            log.warning(
                "W&B: the log of %s is still incomplete after %.0f s; its last records may be "
                "missing",
                folder,
                timeout_s,
            )
            return
        time.sleep(0.05)
