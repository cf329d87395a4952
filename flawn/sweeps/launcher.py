"""Launching a planned sweep: each run in its own worker process, failures isolated.

A launch writes every run's ``spec.json``, records the plan in the sweep's
manifest, and starts a worker (:mod:`flawn.sweeps.worker`) for each run that
is ``planned``, ``failed``, ``interrupted`` or ``stale``; finished runs are
left alone and runs still alive in another launch are not touched. Up to
``parallel`` workers run at once. A failing run is recorded (error in
``run.json`` and the manifest, output in ``logs/attempt-N.log``) and the
others go on. Workers die with the launcher, so a killed sweep leaves
``interrupted`` runs that the next launch resumes from their checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence

from flawn.runs.manifest import Manifest, evals_done, run_state
from flawn.runs.run_dir import RunDir
from flawn.sweeps.planning import PlannedRun, SweepPlan

#: Statuses a launch (re)runs.
TO_RUN = ("planned", "failed", "interrupted", "stale")


@dataclasses.dataclass
class LaunchOutcome:
    """What a launch did.

    Attributes:
        plan: The sweep plan.
        started: Run ids a worker was started for.
        skipped: ``{run_id: status}`` of runs left alone (finished, or running elsewhere).
        results: ``{run_id: final status}`` of the started runs.
    """

    plan: SweepPlan
    started: list[str]
    skipped: dict[str, str]
    results: dict[str, str]

    @property
    def failed(self) -> list[str]:
        """Run ids that did not finish in this launch."""
        return [r for r, s in self.results.items() if s != "finished"]


def expected_evals(plan: SweepPlan) -> list[str]:
    """The request keys of the sweep's evaluations (see :func:`flawn.evals.run.request_key`)."""
    from flawn.evals.run import request_key

    return [request_key(e) for e in plan.evals]


def prepare(plan: SweepPlan) -> str:
    """Writes specs, the eval list and the manifest; returns the eval list's path."""
    plan.sweep_dir.mkdir(parents=True, exist_ok=True)
    evals_path = plan.sweep_dir / "evals.json"
    evals_path.write_text(
        json.dumps([dataclasses.asdict(e) for e in plan.evals], indent=2) + "\n", encoding="utf-8"
    )
    for run in plan.runs:
        run_dir = plan.run_dir(run)
        stored = run_dir.read_spec()
        if stored is None or stored.get("run_id") != run.spec.run_id:
            run_dir.write_spec(run.spec.to_json())
    Manifest(plan.sweep_dir).record_plan(
        plan.sweep.name,
        plan.experiment,
        {
            r.spec.run_id: {"name": r.spec.name, "axes": dict(r.spec.axes), "backend": plan.backend}
            for r in plan.runs
        },
        baseline=dict(plan.sweep.baseline),
    )
    return os.fspath(evals_path)


def write_run_files(plan: SweepPlan, echo=print) -> list[RunDir]:
    """Writes what every run needs before it trains, training nothing (``sweep plan --write``).

    The specs, the evaluation list and the manifest (as a launch does), then
    each run's backend files: for ``t5x`` its ``t5x/`` folder with gin files,
    ``launch.sh`` and ``pod.sh``, so every run can go to a pod at once.

    Raises:
        FlawnError: Naming every run whose files could not be written (the others are).
    """
    from flawn.errors import FlawnError
    from flawn.runs.backend import get_backend

    prepare(plan)
    backend = get_backend(plan.backend)
    written, problems = [], []
    for run in plan.runs:
        run_dir = plan.run_dir(run)
        try:
            backend.prepare(run.spec, run_dir)
        except FlawnError as err:
            problems.append(f"{run.spec.name} ({run.spec.run_id}): {err}")
            continue
        written.append(run_dir)
        files = run_dir.t5x_dir if run_dir.t5x_dir.exists() else run_dir.spec_path
        echo(f"[{run.spec.run_id}] {run.spec.name}: {files}")
    if problems:
        raise FlawnError(
            f"{len(problems)} run(s) of {plan.sweep.name} were not prepared:\n  "
            + "\n  ".join(problems)
        )
    return written


def states(plan: SweepPlan) -> dict[str, str]:
    """Every planned run's status now."""
    keys = expected_evals(plan)
    return {r.spec.run_id: run_state(plan.run_dir(r), keys) for r in plan.runs}


def _worker_command(run_dir: RunDir, evals_path: str, force_eval: bool, backend: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "flawn.sweeps.worker",
        os.fspath(run_dir.path),
        "--evals",
        evals_path,
        "--backend",
        backend,
        "--die-with-parent",
        *(["--force-eval"] if force_eval else []),
    ]


def launch(
    plan: SweepPlan,
    parallel: int = 1,
    force: bool = False,
    echo=print,
) -> LaunchOutcome:
    """Runs every run of the plan that needs it; see the module docstring.

    Args:
        plan: The resolved sweep (from :func:`flawn.sweeps.planning.plan_sweep`).
        parallel: Workers at once. With 1, a worker's output streams to this
            terminal; with more, it goes only to the run's log.
        force: Also rerun finished runs: their finished stages are kept (delete
            a run folder to retrain it) and their evaluations are made again.
        echo: Where progress lines go.

    Returns:
        What was started, skipped and how each started run ended.
    """
    if parallel < 1:
        raise ValueError(f"parallel must be >= 1, got {parallel}")
    evals_path = prepare(plan)
    manifest = Manifest(plan.sweep_dir)
    current = states(plan)
    manifest.update(**{run_id: {"status": s} for run_id, s in current.items()})
    queue: list[PlannedRun] = []
    skipped: dict[str, str] = {}
    for run in plan.runs:
        state = current[run.spec.run_id]
        if state in TO_RUN or (force and state == "finished"):
            queue.append(run)
        else:
            skipped[run.spec.run_id] = state
    total = len(plan.runs)
    for run_id, state in skipped.items():
        name = next(r.spec.name for r in plan.runs if r.spec.run_id == run_id)
        reason = "finished earlier" if state == "finished" else "running in another process"
        echo(f"[{run_id}] {name}: {reason}, skipping")
    echo(
        f"sweep {plan.sweep.name}: {len(queue)} of {total} run(s) to run on backend "
        f"{plan.backend}, {parallel} at a time; folder {plan.sweep_dir}"
    )
    env = dict(os.environ)
    env.setdefault("FLAWN_PROJECT_ROOT", os.fspath(_project_root()))
    running: dict[str, tuple[subprocess.Popen, PlannedRun, float]] = {}
    results: dict[str, str] = {}
    keys = expected_evals(plan)
    pending = list(queue)
    try:
        while pending or running:
            while pending and len(running) < parallel:
                run = pending.pop(0)
                run_dir = plan.run_dir(run)
                done = len(results) + len(running) + 1
                echo(
                    f"[{run.spec.run_id}] ({done}/{len(queue)}) {run.spec.name}: "
                    f"{current[run.spec.run_id]} -> starting ({run_dir.path})"
                )
                quiet = parallel > 1
                process = subprocess.Popen(
                    _worker_command(run_dir, evals_path, force_eval=force, backend=plan.backend),
                    env=env,
                    stdout=subprocess.DEVNULL if quiet else None,
                    stderr=subprocess.DEVNULL if quiet else None,
                )
                running[run.spec.run_id] = (process, run, time.time())
            time.sleep(0.2)
            for run_id, (process, run, started) in list(running.items()):
                code = process.poll()
                if code is None:
                    continue
                del running[run_id]
                run_dir = plan.run_dir(run)
                state = run_state(run_dir, keys)
                if code != 0 and state in ("running", "finished"):
                    state = "failed"  # died without recording why (e.g. killed by the OOM killer)
                    run_dir.mark_failed(f"worker exited with code {code}")
                results[run_id] = state
                manifest.refresh({r.spec.run_id: keys for r in plan.runs})
                seconds = time.time() - started
                if state == "finished":
                    echo(f"[{run_id}] {run.spec.name}: finished in {seconds:,.0f} s")
                else:
                    status = run_dir.read_status()
                    log = run_dir.latest_log()
                    echo(
                        f"[{run_id}] {run.spec.name}: {state.upper()} after {seconds:,.0f} s: "
                        f"{status.get('error') or f'exit code {code}'}"
                        + (f"\n    log: {log}" if log else "")
                    )
    finally:
        for process, _, _ in running.values():
            process.terminate()
        manifest.refresh({r.spec.run_id: keys for r in plan.runs})
    return LaunchOutcome(plan, [r.spec.run_id for r in queue], skipped, results)


def _project_root():
    from flawn import paths

    return paths.project_root()


def status_rows(plan: SweepPlan) -> list[dict]:
    """One row per run for ``flawn sweep status``."""
    keys = expected_evals(plan)
    manifest = Manifest(plan.sweep_dir)
    if manifest.path.exists():
        manifest.refresh({r.spec.run_id: keys for r in plan.runs})
    rows = []
    for run in plan.runs:
        run_dir = plan.run_dir(run)
        status = run_dir.read_status()
        state = run_state(run_dir, keys)
        total = status.get("total_steps") or sum(s.steps for s in run.spec.stages)
        step = status.get("step") or 0
        seconds = status.get("seconds") or 0.0
        if state == "running" and status.get("started"):
            seconds += time.time() - float(status["started"])
        loss = status.get("loss") if status.get("loss") is not None else status.get("final_loss")
        rows.append(
            {
                "run id": run.spec.run_id,
                "run": run.spec.name,
                "status": state,
                # The backend of the latest attempt: ids do not depend on it.
                "backend": status.get("backend") or "",
                "step": f"{step}/{total}",
                "loss": "" if loss is None else f"{float(loss):.4f}",
                "evals": f"{len(evals_done(run_dir, keys))}/{len(keys)}",
                "attempts": status.get("attempts", 0),
                "wall": f"{seconds:,.0f} s" if seconds else "",
                "error": " ".join((status.get("error") or "").split()),
                "log": _log_of(run_dir) if status.get("error") else "",
            }
        )
    return rows


def _log_of(run_dir) -> str:
    found = run_dir.latest_log()
    return os.fspath(found) if found is not None else ""


def error_lines(rows: Sequence[dict], width: int = 100) -> list[str]:
    """The errors of ``status_rows``, whole and wrapped, each with the log holding its traceback."""
    lines = []
    for row in rows:
        if row.get("error"):
            lines.append(f"{row['run id']} {row['run']}:")
            # Paths are never split, so they can be copied from the terminal.
            lines.extend(
                textwrap.wrap(
                    row["error"],
                    width,
                    initial_indent="  ",
                    subsequent_indent="  ",
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
            if row.get("log"):
                lines.append(f"  traceback: {row['log']}")
    return lines


def orphan_rows(plan: SweepPlan) -> list[dict]:
    """Runs in the sweep folder that the experiment no longer has (kept, never rerun).

    A run whose id was made when ids included the backend, or hashed the
    rates as declared rather than as shares, is named with the planned run it
    is the same training as.
    """
    from flawn.runs.backend import backend_names

    planned = {r.spec.run_id for r in plan.runs}
    legacy = {
        r.spec.legacy_run_id(backend): r.spec.run_id
        for r in plan.runs
        for backend in backend_names()
    }
    declared = {r.spec.declared_rates_run_id(): r.spec.run_id for r in plan.runs}
    out = []
    for run_id, entry in Manifest(plan.sweep_dir).runs().items():
        if run_id not in planned:
            row = {"run id": run_id, "run": entry.get("name", ""), "status": entry.get("status")}
            if run_id in legacy:
                row["note"] = f"now {legacy[run_id]}: its id was made when ids included the backend"
            elif run_id in declared:
                row["note"] = (
                    f"now {declared[run_id]}: its id was made when ids hashed rates as declared"
                )
            out.append(row)
    return out


def summary_counts(rows: Sequence[dict]) -> str:
    """``3 finished, 1 failed`` for status lines."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
