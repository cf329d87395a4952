"""``flawn eval run|score|legalbench score|lawbench score``."""

from __future__ import annotations

import argparse

from flawn.runtime import import_heavy_stack


def _cmd_run(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    import_heavy_stack()
    import pandas as pd

    from flawn.analysis import format_table, score_table
    from flawn.evals.run import evaluate_checkpoint
    from flawn.runs.spec import EvalSpec

    spec = EvalSpec(
        suite=args.suite,
        mode=args.mode,
        split=args.split,
        tasks=tuple(args.tasks) if args.tasks else None,
        max_decode_length=args.max_decode_length or (64 if args.suite == "lawbench" else 16),
        overflow=args.overflow,
        shot=args.shot if args.suite == "lawbench" else None,
        limit=args.limit,
        corrected=args.corrected,
        legalbench_dir=args.legalbench_dir,
        data=args.data,
        allow_partial=args.allow_partial,
    )
    outcome, wandb_dir = evaluate_checkpoint(args.checkpoint, spec, args.step, force=args.force)
    verb = "reused (already evaluated with these settings)" if outcome.reused else "written"
    print(f"{spec.describe()}; checkpoint step {outcome.step}")
    print(f"rows {verb}: {outcome.directory}")
    if wandb_dir:
        print(f"W&B files: {wandb_dir}")
    if spec.limit:
        print(f"PARTIAL: only the first {spec.limit} items of each task were scored")
    print(format_table(score_table(pd.DataFrame(outcome.rows))))
    if spec.suite == "lawbench":
        from flawn.evals.lawbench.scorers import TOLERANCE_NOTE

        print(f"\n{TOLERANCE_NOTE}")
    return 0


def _cmd_legalbench_score(args: argparse.Namespace, gin_files: list[str], bindings: list[str]):
    from flawn.evals.legalbench.predictions import score_predictions
    from flawn.evals.legalbench.tasks import load_legalbench

    split = None
    if args.legalbench_dir:
        split = load_legalbench(
            args.legalbench_dir,
            args.data,
            args.split,
            [args.task],
            allow_partial=args.allow_partial,
        )[0]
    print(
        score_predictions(
            args.task,
            args.predictions,
            split=split,
            metric=args.metric,
            allow_partial=args.allow_partial,
        )
    )
    return 0


def _cmd_lawbench_score(args: argparse.Namespace, gin_files: list[str], bindings: list[str]):
    from flawn.evals.lawbench import score_and_report

    print(score_and_report(args.pred_dir, json_path=args.json))
    return 0


def _cmd_score(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    import_heavy_stack()
    import json

    import pandas as pd

    from flawn.errors import FlawnError
    from flawn.evals.t5x_predictions import score_t5x_files

    if bool(args.files) == bool(args.run_dir):
        raise FlawnError(
            "flawn eval score takes either t5x.infer files or --run-dir RUN (a t5x run folder)"
        )
    from flawn.evals.lawbench.scorers import TOLERANCE_NOTE

    if args.run_dir:
        from flawn.t5x.score import score_run

        lawbench = False
        for scored in score_run(args.run_dir, args.predictions_root, args.force):
            verb = "reused" if scored.reused else "written"
            print(f"{scored.eval_id}: {len(scored.rows)} task(s) {verb}")
            print(
                pd.DataFrame(scored.rows)[["task", "metric", "score", "n"]].to_markdown(
                    index=False, floatfmt=".4f"
                )
            )
            lawbench = lawbench or any(r["suite"].startswith("lawbench") for r in scored.rows)
        if lawbench:
            print(f"\n{TOLERANCE_NOTE}")
        return 0

    results = score_t5x_files(args.files)
    print(pd.DataFrame(results).to_markdown(index=False, floatfmt=".4f"))
    if any(r["task"].startswith("lawbench.") for r in results):
        print(f"\n{TOLERANCE_NOTE}")
    if args.json:
        by_task = {r["task"]: {k: v for k, v in r.items() if k != "task"} for r in results}
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(by_task, out, indent=2)
        print(f"written: {args.json}")
    return 0


def add_parsers(sub) -> None:
    """Adds ``eval`` to the ``flawn`` command."""
    evaluate = sub.add_parser("eval", help="evaluate a trained run, or score prediction files")
    actions = evaluate.add_subparsers(dest="eval_kind", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="evaluate a run's checkpoint on a suite; writes tidy rows into the run folder",
        description="Restore a run's model through its backend and evaluate it. Rows go to "
        "<run>/eval/<suite>.<mode>-<id>/ (examples.jsonl, tasks.jsonl, summary.json, eval.json); "
        "the id hashes the settings, the checkpoint step and the suite's files, so other "
        "settings are a new evaluation and the same settings reuse the rows. Long prompts lose "
        "their earliest demonstrations, then the description, never the test item.",
    )
    run.add_argument(
        "--run-dir",
        "--checkpoint",
        dest="checkpoint",
        required=True,
        help="a run folder (flawn sweep) or train folder (flawn train)",
    )
    run.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    run.add_argument(
        "--suite",
        default="sample",
        help="'sample' (bundled), 'legalbench' (official, with --legalbench-dir), 'lawbench', "
        "or a folder with tasks.tsv and tasks/<name>/",
    )
    run.add_argument("--tasks", nargs="*", help="only these tasks")
    run.add_argument("--split", default="test")
    run.add_argument(
        "--mode",
        choices=("generation", "rank_classification"),
        default="generation",
        help="greedy generation cut at the first newline, or the highest "
        "log-likelihood label of the task's closed label set",
    )
    run.add_argument(
        "--overflow",
        choices=("cut_item_start", "skip"),
        default="cut_item_start",
        help="when the test item alone is too long: keep its end, or skip it (counted)",
    )
    run.add_argument(
        "--max-decode-length",
        type=int,
        help="most tokens generated (default: 16 for LegalBench, 64 for LawBench)",
    )
    run.add_argument(
        "--shot", choices=("zero_shot", "one_shot"), default="zero_shot", help="LawBench setting"
    )
    run.add_argument(
        "--limit", type=int, help="score only the first N items of each task (reported as partial)"
    )
    run.add_argument(
        "--corrected",
        action="store_true",
        help="LawBench: the corrected scorers instead of the official ones",
    )
    run.add_argument("--legalbench-dir", help="LegalBench checkout (tasks/<name>/base_prompt.txt)")
    run.add_argument("--data", help="official task TSVs (<task>/test.tsv) or a parquet export")
    run.add_argument(
        "--allow-partial",
        action="store_true",
        help="score tasks with fewer rows than the official split (said in reports)",
    )
    run.add_argument("--force", action="store_true", help="evaluate again even if rows exist")
    run.set_defaults(handler=_cmd_run)

    legalbench = actions.add_parser("legalbench", help="LegalBench tools")
    legalbench_actions = legalbench.add_subparsers(
        dest="legalbench_kind", metavar="ACTION", required=True
    )
    score = legalbench_actions.add_parser(
        "score", help="score a JSONL of {index, prediction, answer} rows with the task's metric"
    )
    score.add_argument("task", help="LegalBench task name, e.g. abercrombie")
    score.add_argument("predictions", help="JSONL file with index, prediction, answer per row")
    score.add_argument("--metric", help="a named alternative, e.g. f1_micro_substring_corrected")
    score.add_argument("--legalbench-dir", help="check ids and answers against the official split")
    score.add_argument(
        "--data", help="official task TSVs or parquet export (with --legalbench-dir)"
    )
    score.add_argument("--split", default="test")
    score.add_argument(
        "--allow-partial",
        action="store_true",
        help="score fewer rows than the official split (the report says so)",
    )
    score.set_defaults(handler=_cmd_legalbench_score)

    score_files = actions.add_parser(
        "score",
        help="score t5x.infer prediction files through the tasks' seqio metrics",
        description="Score files written by t5x.infer (<task>-predict.jsonl-NNNNN-of-NNNNN) with "
        "each task's own postprocessing and metric functions, as T5X's evaluator would; host "
        "shards of one task are merged. Works for legalbench.* and lawbench.* tasks and any "
        "flawn task with metrics.",
    )
    score_files.add_argument("files", nargs="*", help="t5x.infer output files")
    score_files.add_argument("--json", help="also write {task: {n, metric: value}} here")
    score_files.add_argument(
        "--run-dir",
        help="instead of files: score a t5x run's predictions into its tidy rows "
        "(<run>/eval/<eval_id>/, the rows the local backend writes)",
    )
    score_files.add_argument(
        "--predictions-root", help="with --run-dir: t5x.infer output, one folder per evaluation"
    )
    score_files.add_argument(
        "--force", action="store_true", help="with --run-dir: score again even if done"
    )
    score_files.set_defaults(handler=_cmd_score)

    lawbench = actions.add_parser("lawbench", help="LawBench tools")
    lawbench_actions = lawbench.add_subparsers(
        dest="lawbench_kind", metavar="ACTION", required=True
    )
    lb_score = lawbench_actions.add_parser(
        "score",
        help="score a folder of LawBench predictions (<task_id>.json) with the official scorers",
        description="Score a folder in LawBench's own prediction format (one <task_id>.json per "
        "task, {id: {origin_prompt, prediction, refr}}) with the official answer extraction and "
        "metrics, on LawBench's 0-1 scale, with abstention rates.",
    )
    lb_score.add_argument("pred_dir", help="folder of <task_id>.json prediction files")
    lb_score.add_argument("--json", help="also write {task_id: {score, abstention_rate}} here")
    lb_score.set_defaults(handler=_cmd_lawbench_score)
