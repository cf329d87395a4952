"""``flawn demo`` and ``flawn sweep plan|launch|status|report``."""

from __future__ import annotations

import argparse
import os

from flawn.errors import FlawnError
from flawn.runtime import import_heavy_stack

DEMO_EXPERIMENT = "experiments/demo.gin"


def _plan(args: argparse.Namespace, gin_files: list[str], bindings: list[str], strict=True):
    if gin_files:
        raise FlawnError("flawn sweep takes the experiment file as its argument, not --gin_file")
    if getattr(args, "verify_data", False):
        from flawn.runs.fingerprint import verify_data

        verify_data()
    import_heavy_stack()
    from flawn.sweeps.planning import plan_sweep

    return plan_sweep(
        args.experiment,
        bindings,
        args.output_dir,
        backend=getattr(args, "backend", None),
        only=getattr(args, "only", None) or (),
        strict=strict,
    )


def _print_report(plan) -> None:
    from flawn.analysis.sweep_report import analyze_sweep, write_sweep_report
    from flawn.runs.manifest import Manifest

    condition, baseline = plan.sweep.condition_axis, plan.sweep.baseline_value
    run_dirs = [os.fspath(plan.run_dir(r).path) for r in plan.runs]
    analysis = analyze_sweep(
        run_dirs, condition, baseline, os.path.join(plan.sweep_dir, "analysis")
    )
    if analysis is not None:
        print("\n" + analysis.markdown)
    report = write_sweep_report(plan.sweep_dir, plan.sweep.name, analysis, Manifest(plan.sweep_dir))
    from flawn.runs.backend import get_backend

    print("\nWhere things are:")
    print(f"  report:        {report}")
    if analysis is not None:
        print(
            f"  analysis:      {analysis.files['report'][0]}  (tables/, plots/, cards/, *.parquet)"
        )
    print(f"  manifest:      {Manifest(plan.sweep_dir).path}")
    for run in plan.runs:
        run_dir = plan.run_dir(run)
        # Where the backend that trained it put them (a run keeps its id on either backend).
        backend = get_backend(run_dir.read_status().get("backend") or plan.backend)
        print(f"  run {run.spec.name}:")
        print(f"    run folder:  {run_dir.path}  (spec.json, run.json, stages/, eval/, logs/)")
        print(f"    checkpoints: {backend.checkpoint_location(run_dir)} ({backend.name} backend)")
        wandb_runs = run_dir.wandb_runs()
        if wandb_runs:
            offline = any(p.name.startswith("offline-run-") for p in wandb_runs)
            note = f"  (offline: `wandb sync {run_dir.wandb_dir}/offline-run-*`)" if offline else ""
            print(f"    W&B files:   {run_dir.wandb_dir} ({len(wandb_runs)} W&B run(s)){note}")


def _cmd_launch(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    from flawn.sweeps.launcher import launch

    plan = _plan(args, gin_files, bindings)
    outcome = launch(plan, parallel=args.parallel, force=args.force)
    _print_report(plan)
    if outcome.failed:
        print(
            f"\n{len(outcome.failed)} run(s) did not finish: {', '.join(outcome.failed)}; "
            f"see `{_same_sweep('status', args, bindings)}`; launching again reruns only those"
        )
        return 1
    return 0


def _same_sweep(action: str, args: argparse.Namespace, bindings: list[str]) -> str:
    """``flawn sweep ACTION`` on the sweep just handled: its output folder and bindings.

    Bindings can change run ids and the output folder is where runs are looked
    up; the backend is neither, so it is left out.
    """
    import shlex

    words = ["flawn", "sweep", action, args.experiment]
    if os.path.normpath(args.output_dir) != "runs":
        words += ["--output-dir", args.output_dir]
    words += [f"--gin_bindings={b}" for b in bindings]
    return shlex.join(words)


def _cmd_demo(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    args.experiment = DEMO_EXPERIMENT
    args.only = None
    args.backend = None
    args.parallel = 1
    return _cmd_launch(args, gin_files, bindings)


def _cmd_plan(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    from flawn.sweeps.planning import format_plan, plan_as_json

    plan = _plan(args, gin_files, bindings, strict=False)
    if args.format == "json":
        print(plan_as_json(plan, args.target, args.mfu, with_data=not args.no_data))
    else:
        print(format_plan(plan, args.target, args.mfu, with_data=not args.no_data))
    if args.write:
        import sys

        from flawn.sweeps.launcher import write_run_files

        # With --format json, stdout stays JSON.
        out = sys.stderr if args.format == "json" else sys.stdout
        print(f"\nWriting the run folders of {plan.sweep_dir} (nothing is trained):", file=out)
        written = write_run_files(plan, echo=lambda line: print(f"  {line}", file=out))
        print(
            f"{len(written)} run(s) ready on backend {plan.backend}; "
            f"`{_same_sweep('status', args, bindings)}` shows where they stand",
            file=out,
        )
    return 0


def _cmd_status(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    import json

    import pandas as pd

    from flawn.sweeps.launcher import error_lines, orphan_rows, status_rows, summary_counts

    plan = _plan(args, gin_files, bindings, strict=False)
    rows = status_rows(plan)
    orphans = orphan_rows(plan)
    if args.format == "json":
        print(json.dumps({"runs": rows, "not_in_experiment": orphans}, indent=2))
        return 0
    print(f"sweep {plan.sweep.name} ({plan.sweep_dir}): {summary_counts(rows)}\n")
    table = [{k: v for k, v in row.items() if k not in ("error", "log")} for row in rows]
    print(pd.DataFrame(table).to_markdown(index=False, disable_numparse=True))
    errors = error_lines(rows)
    if errors:
        print("\nErrors (whole; the tracebacks are in the logs named):")
        print("\n".join(errors))
    if orphans:
        print(f"\nIn the folder but no longer in {args.experiment} (kept, never rerun):")
        print(pd.DataFrame(orphans).to_markdown(index=False))
    return 0


def _cmd_report(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    _print_report(_plan(args, gin_files, bindings, strict=False))
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", help="experiment gin file, e.g. experiments/demo.gin")
    parser.add_argument(
        "--output-dir", default="runs", help="root of sweep folders (default: runs)"
    )
    parser.add_argument(
        "--verify-data",
        action="store_true",
        help="hash every data file again for the run ids instead of trusting the digest cache",
    )


def add_parsers(sub) -> None:
    """Adds ``demo`` and ``sweep`` to the ``flawn`` command."""
    demo = sub.add_parser(
        "demo",
        help="run the demo sweep (experiments/demo.gin) and print the delta table",
        description="Train two tiny T5s on two mixtures of the bundled sample data, evaluate "
        "them on the sample LegalBench-format tasks and print the delta table. Finished runs "
        "are reused; --force evaluates them again.",
    )
    demo.add_argument("--output-dir", default="runs", help="root of run folders (default: runs)")
    demo.add_argument(
        "--force", action="store_true", help="evaluate finished runs again (training is kept)"
    )
    demo.set_defaults(handler=_cmd_demo)

    sweep = sub.add_parser(
        "sweep",
        help="plan, launch, watch and report a sweep (an experiments/*.gin file)",
        description="An experiment file binds a Sweep: axes (mixtures, sizes, regimes, seeds, "
        "any gin binding), evaluations and a backend. Extra --gin.KEY=VALUE flags bind it, e.g. "
        "--gin.Sweep.seeds=[0,1].",
    )
    actions = sweep.add_subparsers(dest="sweep_action", metavar="ACTION", required=True)

    plan = actions.add_parser(
        "plan",
        help="every run, its resolved data plan and its cost, before anything runs",
        description="Resolve and check every run (names of mixtures, sizes, regimes and "
        "suites, with the nearest names suggested), then print each run's stages, tokens, "
        "exact encoder-decoder FLOPs and accelerator-hours on a target, and the data plan of "
        "each distinct stage.",
    )
    _common(plan)
    plan.add_argument("--backend", help="override the experiment's backend (local or t5x)")
    plan.add_argument(
        "--target",
        default="tpu_v4",
        help="accelerator for hours: host (measured), tpu_v4, tpu_v5e, tpu_v5p, a100, h100",
    )
    plan.add_argument("--mfu", type=float, default=0.4, help="assumed model FLOPs utilisation")
    plan.add_argument("--no-data", action="store_true", help="skip the data plans (faster)")
    plan.add_argument("--format", choices=("table", "json"), default="table")
    plan.add_argument(
        "--write",
        action="store_true",
        help="also write every run's folder without training: spec.json, the manifest and the "
        "backend's files (t5x: t5x/ with launch.sh and pod.sh)",
    )
    plan.set_defaults(handler=_cmd_plan)

    launch = actions.add_parser(
        "launch",
        help="run every run that is planned, failed, interrupted or stale",
        description="Each run trains and evaluates in its own process; a failing run is "
        "recorded and the others go on. Launching again reruns only failed, interrupted and "
        "stale runs (interrupted runs resume from their last checkpoint).",
    )
    _common(launch)
    launch.add_argument("--backend", help="local (this host) or t5x (T5X, e.g. on a TPU pod)")
    launch.add_argument("--parallel", type=int, default=1, help="runs at once (default 1)")
    launch.add_argument("--only", nargs="+", help="only runs whose id starts with / name contains")
    launch.add_argument(
        "--force", action="store_true", help="evaluate finished runs again (training is kept)"
    )
    launch.set_defaults(handler=_cmd_launch)

    status = actions.add_parser(
        "status", help="one row per run: status, step, loss, evaluations, wall time, error"
    )
    _common(status)
    status.add_argument("--format", choices=("table", "json"), default="table")
    status.set_defaults(handler=_cmd_status)

    report = actions.add_parser(
        "report", help="rewrite and print the sweep's delta tables from the finished runs"
    )
    _common(report)
    report.set_defaults(handler=_cmd_report)
