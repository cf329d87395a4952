"""One run of a sweep, in its own process: train through the backend, evaluate, record.

``python -m flawn.sweeps.worker RUN_DIR --evals EVALS.json`` is what ``flawn
sweep launch`` starts for each run, so that a crash, an out-of-memory kill
or a bad configuration in one run never takes the others down. Everything
the run prints is also written to ``logs/attempt-N.log``; its status,
heartbeat, progress and error go to ``run.json``. A failed run prints one
line naming the error and its log; the traceback is in the log only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from flawn.runs.backend import get_backend
from flawn.runs.run_dir import RunDir
from flawn.runs.spec import EvalSpec, RunSpec


class _Tee:
    """Writes to a stream and a log file; progress-bar refreshes (carriage returns) skip the log."""

    def __init__(self, stream, log):
        self._stream = stream
        self._log = log

    def write(self, text: str) -> int:
        self._stream.write(text)
        if "\r" not in text:
            self._log.write(text)
            self._log.flush()
        return len(text)

    def flush(self) -> None:
        self._stream.flush()
        self._log.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _progress_hook(run_dir: RunDir, spec: RunSpec):
    total = sum(s.steps for s in spec.stages)
    offsets = {}
    done = 0
    for stage in spec.stages:
        offsets[stage.name] = done
        done += stage.steps

    def hook(stage: str, step: int, stage_total: int, metrics: Mapping[str, float]) -> None:
        del stage_total
        run_dir.heartbeat(
            stage=stage,
            step=offsets[stage] + step,
            total_steps=total,
            loss=float(metrics.get("loss", float("nan"))),
        )

    return hook


def run_one(
    run_dir: RunDir,
    evals: Sequence[EvalSpec],
    backend_name: str | None = None,
    tee_log: bool = True,
    force_eval: bool = False,
) -> dict[str, Any]:
    """Trains and evaluates one run, recording its status; the run folder must hold its spec.

    Args:
        run_dir: The run folder (with ``spec.json``).
        evals: The evaluations to make (finished ones are reused).
        backend_name: Overrides the spec's backend (the launch's ``--backend``:
            a run keeps its id on either backend).
        tee_log: Copy everything printed to ``logs/attempt-N.log``.
        force_eval: Evaluate again even where finished rows exist.

    Returns:
        The final status record.

    Raises:
        Exception: Whatever the run raised, after recording it as ``failed``.
    """
    from flawn.evals.run import evaluate_run, log_eval_to_wandb, request_key, run_info

    spec = RunSpec.from_json(run_dir.read_spec())
    # pod.sh trained it: its checkpoints are in Cloud Storage, so it is only evaluated here
    # (T5X's predictor asks for `pod.sh fetch`), never trained again on this host.
    on_pod = bool(run_dir.read_status().get("trained_on_pod"))
    backend = get_backend("t5x" if on_pod else (backend_name or spec.backend))
    status = run_dir.mark_started(backend.name)
    attempt = status["attempts"]
    log_file = None
    saved = sys.stdout, sys.stderr
    if tee_log:
        path = run_dir.log_path(attempt)
        path.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(os.fspath(path), "a", encoding="utf-8")  # noqa: SIM115
        sys.stdout, sys.stderr = _Tee(sys.stdout, log_file), _Tee(sys.stderr, log_file)
    try:
        print(f"== run {spec.run_id} {spec.name}: attempt {attempt} on backend {backend.name}")
        # Mixtures the experiment defined by weights exist only where someone registers them.
        spec.register_mixtures()
        if not on_pod:  # (reading a T5X checkpoint needs no T5X)
            backend.validate(spec)
        run_dir.write_requested_evals([dataclasses.asdict(e) for e in evals])
        if on_pod:
            print(f"== {spec.name}: trained on a TPU pod by pod.sh; evaluating only")
        else:
            backend.train(spec, run_dir, progress=[_progress_hook(run_dir, spec)])
        predictor = None
        done = dict(run_dir.read_status().get("evals") or {})
        info = run_info(run_dir)
        for eval_spec in evals:
            key = request_key(eval_spec)
            if key in done and run_dir.has_eval(done[key]) and not force_eval:
                continue
            predictor = predictor or backend.predictor(run_dir)
            outcome = evaluate_run(run_dir, eval_spec, predictor, info, force=force_eval)
            done[key] = outcome.eval_id
            run_dir.update_status(evals=done)
            log_eval_to_wandb(run_dir, outcome)
            print(
                f"== {spec.name}: {eval_spec.describe()}: "
                f"{len(outcome.rows)} task(s) -> {outcome.directory}"
            )
        summary = run_dir.final_stage().read_json("train_summary.json") or {}
        run_dir.mark_finished(
            final_loss=summary.get("final_loss"),
            step=sum(s.steps for s in spec.stages),
            total_steps=sum(s.steps for s in spec.stages),
            evals=done,
        )
        print(f"== run {spec.run_id} {spec.name}: finished")
    except KeyboardInterrupt:
        run_dir.update_status(status="interrupted", pid=None, ended=time.time())
        raise
    except BaseException as err:
        details = traceback.format_exc()
        run_dir.mark_failed(f"{type(err).__name__}: {err}", details)
        if log_file is None:
            traceback.print_exc()
        else:
            # The console gets one line; the traceback (with orbax's records, if any) is
            # for whoever opens the log it names.
            log_file.write(details)
            log_file.flush()
            print(
                f"== run {spec.run_id} {spec.name}: failed: {type(err).__name__}: "
                f"{str(err).strip()} (traceback in {run_dir.log_path(attempt)})",
                file=saved[1],
                flush=True,
            )
            log_file.write(f"== run {spec.run_id} {spec.name}: failed\n")
        raise
    finally:
        sys.stdout, sys.stderr = saved
        if log_file is not None:
            log_file.close()
    return run_dir.read_status()


def _set_parent_death_signal() -> None:
    """Dies with the launcher (Linux): a killed sweep must not leave runs training unseen."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the launcher died before prctl took effect
            os._exit(137)
    except (OSError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m flawn.sweeps.worker RUN_DIR --evals FILE``."""
    parser = argparse.ArgumentParser(prog="python -m flawn.sweeps.worker", description=__doc__)
    parser.add_argument("run_dir", help="the run folder (with spec.json)")
    parser.add_argument("--evals", help="JSON file with a list of EvalSpec dicts")
    parser.add_argument("--die-with-parent", action="store_true")
    parser.add_argument("--force-eval", action="store_true", help="evaluate again")
    parser.add_argument("--backend", help="train with this backend (default: the spec's)")
    args = parser.parse_args(argv)
    if args.die_with_parent:
        _set_parent_death_signal()
    from flawn.runtime import import_heavy_stack

    import_heavy_stack()
    evals = []
    if args.evals:
        with open(args.evals, encoding="utf-8") as f:
            evals = [EvalSpec.from_json(e) for e in json.load(f)]
    try:
        run_one(RunDir(args.run_dir), evals, args.backend, force_eval=args.force_eval)
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # (recorded in run.json and the log already)
        if argv is None:  # the worker process itself: never hang tearing a pipeline down
            from flawn.runtime import exit_after_pipeline_error

            exit_after_pipeline_error(1, err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
