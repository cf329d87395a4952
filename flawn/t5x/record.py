"""What ``pod.sh`` records in ``run.json``, so ``flawn sweep status`` shows pod-trained runs.

``pod.sh`` runs on the machine that holds the run folders and drives the pod
slice's workers over ``gcloud ... ssh``; no flawn worker runs there, so it
calls ``python -m flawn.t5x.record RUN_DIR EVENT`` around its phases and
``run.json`` gets the fields the sweep worker writes (through the same
:class:`~flawn.runs.RunDir` methods):

* ``start --phase P --pid PID``: a new attempt on backend ``t5x``, ``running``
  while ``pod.sh`` (``PID``, on this host) lives, ``interrupted`` once it is gone;
* ``watch --log FILE``: copies T5X's output (stdin) to the terminal and to
  ``FILE``, recording the run's step and loss as T5X reports them;
* ``failed --phase P --code N --log FILE``: ``failed``, the error naming the
  phase, the exit code, the step reached and the log's last error line;
* ``done --phase P``: ``finished``, training done (``flawn sweep status``
  says ``stale`` until every requested evaluation is scored; ``flawn sweep
  launch`` then only evaluates it, never training it again on its host).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from collections.abc import Sequence

from flawn.runs.run_dir import RunDir
from flawn.t5x.layout import T5XLayout
from flawn.t5x.plan import RunPlan

BACKEND = "t5x"
#: Lines of the log kept in ``run.json``'s traceback field.
TAIL_LINES = 40
#: Output lines refresh the heartbeat at most this often (besides every progress line).
HEARTBEAT_EVERY_S = 60.0

_ERROR_LINE = re.compile(r"(Error|Exception|error:|FAILED|Killed|cannot)", re.IGNORECASE)


def _plan(run_dir: RunDir) -> RunPlan:
    return RunPlan.from_json(T5XLayout(run_dir.t5x_dir).read_plan())


def total_steps(plan: RunPlan) -> int:
    """The run's steps as flawn counts them (every stage's, from 0)."""
    return sum(stage.steps for stage in plan.stages)


def start(run_dir: RunDir, phase: str, pid: int) -> None:
    """Records a new attempt by ``pod.sh`` (process ``pid`` on this host)."""
    plan = _plan(run_dir)
    fields = {"phase": phase, "total_steps": total_steps(plan)}
    if phase in ("all", "train"):
        fields.update(step=0, loss=None, trained_on_pod=False)
    run_dir.mark_started(BACKEND, pid=pid)
    run_dir.update_status(**fields)


def watch(run_dir: RunDir, log_path: str, lines=None, out=None) -> None:
    """Copies T5X's output to ``out`` and the log, recording progress in ``run.json``.

    Recording never stops the copy: a run's output matters more than its status line.
    """
    from flawn.t5x.backend import _Progress

    lines = sys.stdin if lines is None else lines
    out = sys.stdout if out is None else out
    plan = _plan(run_dir)
    offsets, done = {}, 0
    for stage in plan.stages:
        offsets[stage.name] = done
        done += stage.steps

    def hook(stage, step, stage_total, metrics):
        del stage_total
        loss = float(metrics.get("loss", float("nan")))
        run_dir.heartbeat(
            stage=stage,
            step=offsets.get(stage, 0) + step,
            total_steps=done,
            loss=None if math.isnan(loss) else loss,
        )

    progress = _Progress([hook])
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    beat = time.time()
    with open(log_path, "a", encoding="utf-8") as log:
        for line in iter(lines.readline, ""):
            out.write(line)
            out.flush()
            log.write(line)
            log.flush()
            try:
                progress(line)
                if time.time() - beat > HEARTBEAT_EVERY_S:
                    # Any output is a sign of life (seen from hosts other than this one).
                    run_dir.heartbeat()
                    beat = time.time()
            except Exception as err:  # (see the docstring)
                out.write(f"(flawn.t5x.record: could not record progress: {err})\n")


def last_error_line(log_path: str | None) -> str:
    """The log's last line that reads as an error, else its last non-empty line."""
    if not log_path or not os.path.exists(log_path):
        return ""
    with open(log_path, encoding="utf-8", errors="replace") as f:
        lines = [line.strip() for line in f if line.strip()]
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    return (errors or lines or [""])[-1]


def _tail(log_path: str | None) -> str | None:
    if not log_path or not os.path.exists(log_path):
        return None
    with open(log_path, encoding="utf-8", errors="replace") as f:
        return "".join(f.readlines()[-TAIL_LINES:])


def failed(run_dir: RunDir, phase: str, code: int, log_path: str | None) -> str:
    """Records a failed phase; returns the error recorded."""
    status = run_dir.read_status()
    total = status.get("total_steps") or total_steps(_plan(run_dir))
    reason = last_error_line(log_path) or "no output"
    error = (
        f"pod.sh {phase} failed with exit code {code} at step {status.get('step') or 0}/{total}: "
        f"{reason}" + (f" (log: {log_path})" if log_path else "")
    )
    if status.get("status") != "running":  # a failure before `start` (setup on its own)
        run_dir.mark_started(BACKEND)
    run_dir.mark_failed(error, _tail(log_path))
    run_dir.update_status(phase=phase)
    return error


def done(run_dir: RunDir, phase: str) -> None:
    """Records that ``pod.sh`` finished ``phase`` (training is done)."""
    status = run_dir.read_status()
    total = status.get("total_steps") or total_steps(_plan(run_dir))
    run_dir.mark_finished(
        phase=phase,
        step=total,
        total_steps=total,
        final_loss=status.get("loss"),
        # A sweep launch then evaluates it without training it again (flawn.sweeps.worker).
        trained_on_pod=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m flawn.t5x.record RUN_DIR start|watch|failed|done [...]``."""
    parser = argparse.ArgumentParser(prog="python -m flawn.t5x.record", description=__doc__)
    parser.add_argument("run_dir", help="the run folder (holding t5x/plan.json)")
    parser.add_argument("event", choices=("start", "watch", "failed", "done"))
    parser.add_argument("--phase", default="all", help="the pod.sh phase")
    parser.add_argument("--pid", type=int, help="start: the pod.sh process")
    parser.add_argument("--code", type=int, default=1, help="failed: the phase's exit code")
    parser.add_argument("--log", help="watch: where the output goes; failed: where it went")
    args = parser.parse_args(argv)
    run_dir = RunDir(args.run_dir)
    if args.event == "start":
        start(run_dir, args.phase, args.pid or os.getppid())
    elif args.event == "watch":
        if not args.log:
            parser.error("watch needs --log FILE")
        try:
            watch(run_dir, args.log)
        except KeyboardInterrupt:  # Ctrl-C stops pod.sh: run_state then says interrupted
            return 130
    elif args.event == "failed":
        error = failed(run_dir, args.phase, args.code, args.log)
        print(f"== recorded in {run_dir.status_path}: {error}")
    else:
        done(run_dir, args.phase)
    return 0


if __name__ == "__main__":
    sys.exit(main())
