"""``flawn analyze`` and ``flawn analysis deltas``: tables from evaluated runs (no TF or JAX)."""

from __future__ import annotations

import argparse

from flawn.errors import FlawnError


def _cmd_deltas(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    from flawn.analysis import delta_table, format_table, load_task_scores
    from flawn.analysis.loading import evaluations

    scores = load_task_scores(args.run_dirs, args.suite, args.mode)
    parts = []
    for key, suite, mode, settings in evaluations(scores):
        rows = scores[scores["eval_key"] == key]
        try:
            table = delta_table(rows, baseline=args.baseline, by=args.by)
        except KeyError as err:
            raise FlawnError(err.args[0]) from err
        n_tasks = rows["task"].nunique()
        parts.append(
            f"{suite} · {mode}: {settings}\n\n{format_table(table)}\n\n"
            f"Scores are each task's official metric (mean over runs of a condition); `mean` is "
            f"the unweighted mean over the tasks every condition has ({n_tasks} task(s) in "
            "all). For the benchmark's categories with intervals: `flawn analyze`."
        )
    text = "\n\n".join(parts)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        print(f"written to {args.output}")
    return 0


def _cmd_analyze(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    import sys

    from flawn.analysis.analyze import analyze
    from flawn.analysis.coverage import named

    try:
        result = analyze(
            args.sources,
            args.out,
            baseline=args.baseline,
            condition=args.condition,
            suite=args.suite,
            mode=args.mode,
            n_resamples=args.resamples,
            level=args.level,
            seed=args.seed,
            plots=not args.no_plots,
            cards=not args.no_cards,
            contamination=args.contamination or (),
            allow_missing=args.allow_missing,
            predict_size=args.predict_size,
        )
    except (ValueError, KeyError) as err:
        raise FlawnError(err.args[0] if err.args else str(err)) from err
    if result.missing:
        print(
            f"warning: {len(result.missing)} run(s) without a current evaluation left out "
            f"(--allow-missing): {named(result.missing)}; listed in the report",
            file=sys.stderr,
        )
    print(result.markdown)
    print(f"\nreport: {result.files['report'][0]}")
    for kind in ("tables", "plots", "cards", "data"):
        if result.files[kind]:
            print(f"{kind}: {len(result.files[kind])} file(s) under {args.out}")
    return 0


def add_parsers(sub) -> None:
    """Adds ``analyze`` and ``analysis`` to the ``flawn`` command."""
    analyze = sub.add_parser(
        "analyze",
        help="paper tables with paired bootstrap intervals, tests, plots and run cards",
        description="Compares every condition of one or many sweeps with a baseline, per "
        "evaluation (suite, scoring mode, settings) and group of runs (same size, regime and "
        "other axes), aggregated by each benchmark's rule (flawn/evals/*/aggregation.toml). "
        "Writes report.md, tables/*.md|.tex, plots/*.png|.pdf, cards/*.md and tidy parquet "
        "files into --out.",
    )
    analyze.add_argument(
        "sources",
        nargs="+",
        metavar="SWEEP",
        help="sweep folders, run folders or W&B runs-table exports (.csv/.parquet); other "
        "files (e.g. report.md from a glob) are ignored",
    )
    analyze.add_argument(
        "--baseline",
        help="VALUE of the condition axis, or AXIS=VALUE (default: the sweep's declared baseline)",
    )
    analyze.add_argument("--condition", help="the condition axis (default: mixture)")
    analyze.add_argument("--suite", help="only this suite (e.g. legalbench, lawbench.zero_shot)")
    analyze.add_argument(
        "--mode", choices=("generation", "rank_classification"), help="only this scoring mode"
    )
    analyze.add_argument("--out", required=True, help="output folder")
    analyze.add_argument(
        "--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)"
    )
    analyze.add_argument(
        "--level", type=float, default=0.95, help="confidence level (default 0.95)"
    )
    analyze.add_argument("--seed", type=int, default=0, help="resampling seed (default 0)")
    analyze.add_argument("--no-plots", action="store_true", help="skip the plots")
    analyze.add_argument("--no-cards", action="store_true", help="skip the run cards")
    analyze.add_argument(
        "--contamination",
        action="append",
        metavar="REPORT",
        help="a `flawn data clean` report (folder or report.json): its overlapping benchmark "
        "tasks leave the held-out view (repeatable)",
    )
    analyze.add_argument(
        "--allow-missing",
        action="store_true",
        help="analyse without the runs that lack a current evaluation (those `flawn sweep "
        "status` calls stale, failed, planned, ...) and list them in the report, instead of "
        "stopping; the baseline still needs one",
    )
    analyze.add_argument(
        "--predict-size",
        metavar="NAME",
        help="size whose delta the size extrapolation predicts when a condition was run at two "
        "sizes or more (default: the next size up in `flawn model list`)",
    )
    analyze.set_defaults(handler=_cmd_analyze)

    analysis = sub.add_parser("analysis", help="tables from evaluated runs (no TensorFlow/JAX)")
    tables = analysis.add_subparsers(dest="analysis_kind", metavar="TABLE", required=True)
    deltas = tables.add_parser(
        "deltas",
        help="per-task scores and deltas against a baseline, one table per evaluation",
        description="One table per evaluation (suite, scoring mode and settings); rows scored "
        "differently are never averaged together.",
    )
    deltas.add_argument("run_dirs", nargs="+", help="run folders, or sweep folders (all runs)")
    deltas.add_argument("--baseline", required=True, help="value of --by that is the baseline")
    deltas.add_argument(
        "--by", default="mixture", help="column naming conditions (default: mixture)"
    )
    deltas.add_argument("--suite", help="only this suite (e.g. sample, lawbench.zero_shot)")
    deltas.add_argument(
        "--mode", choices=("generation", "rank_classification"), help="only this scoring mode"
    )
    deltas.add_argument("--output", help="also write the Markdown tables here")
    deltas.set_defaults(handler=_cmd_deltas)
