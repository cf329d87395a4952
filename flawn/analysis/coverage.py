"""Which analysed runs lack a current evaluation, decided as ``flawn sweep status`` decides it.

A sweep asks each run for the evaluations in ``<sweep>/evals.json`` (the
run's own ``evals.json`` when it is not in a sweep folder); a run has one when
its ``run.json`` maps the request key (:func:`flawn.evals.run.request_key`) to
a finished evaluation folder. That is :func:`flawn.runs.manifest.evals_done`,
the check that makes ``flawn sweep status`` call a trained run ``stale``, so
``flawn analyze`` and ``flawn sweep status`` never disagree about a run. A run
whose requests are unknown (hand-made folders, simulated sweeps) lacks an
evaluation when none of its finished evaluations gave rows.

Nothing here imports TensorFlow or JAX.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from flawn.errors import FlawnError

#: The sweep's requested evaluations, beside its run folders (written by ``flawn sweep launch``).
SWEEP_EVALS_FILE = "evals.json"
#: How many runs an error message or a table note names before "and N more".
_NAMED = 5

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class MissingRun:
    """A run the analysis cannot use: it has no current evaluation.

    Attributes:
        run_id: The run's id.
        name: The run's name.
        folder: Its folder.
        status: Its status as ``flawn sweep status`` prints it (``stale``,
            ``failed``, ``planned``, ...).
        axes: Its sweep axes (from ``spec.json``).
        done: Requested evaluations it has finished (None: requests unknown).
        requested: Evaluations its sweep asks for (None: unknown).
        suites: Suites of the requested evaluations it lacks (None: any suite).
    """

    run_id: str
    name: str
    folder: pathlib.Path
    status: str
    axes: dict[str, Any]
    done: int | None = None
    requested: int | None = None
    suites: tuple[str, ...] | None = None

    def value(self, axis: str) -> str:
        """The run's value on a condition axis, as text (``run_id``/``run_name`` name the run)."""
        if axis == "run_id":
            return self.run_id
        if axis == "run_name":
            return self.name
        return str(self.axes.get(axis.removeprefix("axis.")))

    def describe(self) -> str:
        """``id (name): stale, 0/1 requested evaluation(s) finished``."""
        if self.requested is None:
            how = "no finished evaluation"
        else:
            how = f"{self.done}/{self.requested} requested evaluation(s) finished"
        return f"{self.run_id} ({self.name}): {self.status}, {how}"

    def concerns(self, suite: str) -> bool:
        """Whether the run is missing from the tables of ``suite`` (e.g. ``lawbench.zero_shot``)."""
        if self.suites is None:
            return True
        return any(suite == s or suite.startswith(f"{s}.") for s in self.suites)


#: What resolving a requested evaluation raises when it cannot be resolved here.
_UNRESOLVED = (FlawnError, OSError, TypeError, ValueError)


class MissingEvaluations(ValueError):
    """Runs lack a current evaluation and the analysis would drop them.

    Attributes:
        missing: The runs.
    """

    def __init__(self, message: str, missing: Sequence[MissingRun]):
        super().__init__(message)
        self.missing = list(missing)


def _requested(folder: pathlib.Path) -> list[dict[str, Any]] | None:
    """The EvalSpec dicts asked of a run: its sweep's current list, else its own record."""
    for path in (folder.parent / SWEEP_EVALS_FILE, folder / SWEEP_EVALS_FILE):
        if path.exists():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: not valid JSON ({err})") from err
    return None


def _wanted(spec: dict[str, Any], suite: str | None, mode: str | None) -> bool:
    if mode and spec.get("mode", "generation") != mode:
        return False
    if not suite:
        return True
    name = str(spec.get("suite", "sample"))
    return suite == name or suite.startswith(f"{name}.")


def _request_keys(
    requested: Sequence[dict[str, Any]], suite: str | None = None, mode: str | None = None
) -> list[tuple[str, str]]:
    """``(request key, suite)`` of each requested evaluation of ``suite`` and ``mode``.

    Raises:
        One of :data:`_UNRESOLVED` when a request cannot be resolved here (e.g.
        the suite's files are not on this machine).
    """
    from flawn.evals.run import request_key
    from flawn.runs.spec import EvalSpec

    return [
        (request_key(EvalSpec.from_json(e)), str(e.get("suite", "sample")))
        for e in requested
        if _wanted(e, suite, mode)
    ]


def missing_runs(
    folders: Iterable[str | pathlib.Path],
    evaluated: Collection[str],
    suite: str | None = None,
    mode: str | None = None,
) -> list[MissingRun]:
    """The runs under ``folders`` without a current evaluation (of ``suite``/``mode``, if given).

    Args:
        folders: Run or sweep folders, as given to ``flawn analyze``.
        evaluated: Run ids that have rows in the analysis (used where a run's
            requested evaluations are unknown).
        suite: Only evaluations of this suite count.
        mode: Only evaluations in this scoring mode count.

    Returns:
        One :class:`MissingRun` per run lacking one, in folder order.
    """
    from flawn.analysis.loading import run_folders
    from flawn.runs.manifest import evals_done, run_state
    from flawn.runs.run_dir import RunDir

    keys_of: dict[str, list[tuple[str, str]] | None] = {}  # request file -> (key, suite)
    out = []
    for folder in run_folders(folders):
        spec_path = folder / "spec.json"
        if not spec_path.exists():
            continue
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        run_id, name = str(spec.get("run_id", folder.name)), str(spec.get("name", folder.name))
        run_dir = RunDir(folder)
        requested = _requested(folder)
        cache = json.dumps(requested, sort_keys=True, default=str)
        if cache not in keys_of:
            try:
                keys_of[cache] = (
                    None if requested is None else _request_keys(requested, suite, mode)
                )
            except _UNRESOLVED as err:
                # e.g. the suite's files are not on this machine: judge by the rows instead,
                # and say so, since "evaluated" then means "has rows", not "is current"
                log.warning(
                    "%s: the evaluations its sweep asks for cannot be resolved here (%s); "
                    "runs asking for them count as evaluated when they have rows",
                    folder,
                    err,
                )
                keys_of[cache] = None
        keys = keys_of[cache]
        if keys is None:
            if run_id not in evaluated:
                out.append(
                    MissingRun(run_id, name, folder, run_state(run_dir), spec.get("axes") or {})
                )
            continue
        done = set(evals_done(run_dir, [k for k, _ in keys]))
        if len(done) < len(keys):
            out.append(
                MissingRun(
                    run_id,
                    name,
                    folder,
                    run_state(run_dir, [k for k, _ in keys]),
                    spec.get("axes") or {},
                    done=len(done),
                    requested=len(keys),
                    suites=tuple(dict.fromkeys(s for k, s in keys if k not in done)),
                )
            )
    return out


def requested_eval_ids(folders: Iterable[str | os.PathLike]) -> dict[str, set[str]]:
    """Per run, the evaluation folders that answer what its sweep asks for.

    Runs whose sweep records no requested evaluations (folders not launched as a
    sweep), or whose requests cannot be resolved here, are left out: every
    evaluation of theirs counts.

    Args:
        folders: Sweep or run folders.

    Returns:
        ``{run_id: {eval_id, ...}}``.
    """
    from flawn.analysis.loading import run_folders
    from flawn.runs.run_dir import RunDir

    out: dict[str, set[str]] = {}
    keys_of: dict[str, list[tuple[str, str]] | None] = {}  # one resolution per request list
    for folder in run_folders(folders):
        spec_path = folder / "spec.json"
        requested = _requested(folder)
        if requested is None or not spec_path.exists():
            continue
        cache = json.dumps(requested, sort_keys=True, default=str)
        if cache not in keys_of:
            try:
                keys_of[cache] = _request_keys(requested)
            except _UNRESOLVED:
                keys_of[cache] = None  # judged by their rows, as missing_runs does (it says so)
        if keys_of[cache] is None:
            continue
        keys = [k for k, _ in keys_of[cache]]
        run_id = str(json.loads(spec_path.read_text(encoding="utf-8")).get("run_id", folder.name))
        done = RunDir(folder).read_status().get("evals") or {}
        out[run_id] = {str(done[k]) for k in keys if k in done}
    return out


def named(missing: Sequence[MissingRun]) -> str:
    """``a, b, c and 2 more``: the runs' ids for notes."""
    ids = [m.run_id for m in missing]
    more = f" and {len(ids) - _NAMED} more" if len(ids) > _NAMED else ""
    return ", ".join(ids[:_NAMED]) + more


_WHAT_TO_DO = (
    "Evaluate them: `flawn sweep launch EXPERIMENT` reruns the sweep's failed, interrupted and "
    "stale runs (`flawn sweep status EXPERIMENT` lists them), `flawn eval run --run-dir RUN "
    "[--suite S --mode M]` evaluates one run"
)


def check_missing(
    missing: Sequence[MissingRun],
    axis: str,
    baseline: Any,
    baseline_evaluated: bool,
    allow_missing: bool,
) -> None:
    """Refuses an analysis that would drop runs silently.

    Args:
        missing: From :func:`missing_runs`.
        axis: The condition axis.
        baseline: The baseline's value on it.
        baseline_evaluated: Whether some run of the baseline has a current evaluation.
        allow_missing: Go on without the missing runs (they are then listed
            in the report), as long as the baseline has rows.

    Raises:
        MissingEvaluations: Naming the runs and what to do; its own message
            when the baseline is among them.
    """
    if not missing:
        return
    lines = "\n".join(f"  - {m.describe()}" for m in missing)
    of_baseline = [m for m in missing if m.value(axis) == str(baseline)]
    if of_baseline and not (allow_missing and baseline_evaluated):
        if baseline_evaluated:
            head = f"{len(of_baseline)} run(s) of the baseline ({axis}={baseline}) have"
            then = "; or pass --allow-missing to analyse the runs that have one."
        else:
            head = f"the baseline ({axis}={baseline}) has"
            then = "; nothing can be compared with the baseline before it is evaluated."
        raise MissingEvaluations(
            f"{head} no current evaluation ({len(missing)} run(s) lack one in all):\n"
            f"{lines}\n{_WHAT_TO_DO}{then}",
            missing,
        )
    if not allow_missing:
        raise MissingEvaluations(
            f"{len(missing)} run(s) have no current evaluation and would be left out of the "
            f"analysis:\n{lines}\n{_WHAT_TO_DO}; or pass --allow-missing to analyse without them "
            "(they are then listed in the report and the table notes).",
            missing,
        )
