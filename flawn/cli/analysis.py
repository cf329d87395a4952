"""``flawn analysis deltas``: tables from evaluated runs (no TensorFlow or JAX)."""

from __future__ import annotations

import argparse


def _cmd_deltas(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    from flawn.analysis import delta_table, format_table, load_task_scores
    from flawn.analysis.loading import evaluations

    scores = load_task_scores(args.run_dirs, args.suite, args.mode)
    parts = []
    for key, suite, mode, settings in evaluations(scores):
        rows = scores[scores["eval_key"] == key]
        table = delta_table(rows, baseline=args.baseline, by=args.by)
        n_tasks = rows["task"].nunique()
        parts.append(
            f"{suite} · {mode}: {settings}\n\n{format_table(table)}\n\n"
            f"Scores are each task's official metric (mean over runs of a condition); `mean` is "
            f"the unweighted mean over the {n_tasks} task(s)."
        )
    text = "\n\n".join(parts)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        print(f"written to {args.output}")
    return 0


def add_parsers(sub) -> None:
    """Adds ``analysis`` to the ``flawn`` command."""
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
