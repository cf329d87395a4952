"""``flawn data list|plan|inspect|cache|clean`` and ``flawn samples write|catalog-shards``."""

from __future__ import annotations

import argparse

from flawn.errors import FlawnError
from flawn.quality.config import MIN_COVERAGE, MIN_SHARED, STOP_TEXTS
from flawn.runtime import import_heavy_stack


def _cmd_samples_write(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    from flawn import paths
    from flawn.samples.writer import write_samples

    out = args.out or str(paths.SAMPLE_DATA_DIR)
    manifest = write_samples(out, seed=args.seed)
    shards = len(manifest["lawinstruct"])
    print(
        f"wrote {shards} LawInstruct shards, {len(manifest['flan'])} Flan file(s), "
        f"{len(manifest['legalbench'])} LegalBench-format tasks and the vocabulary to {out}"
    )
    return 0


def _cmd_data_list(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    import_heavy_stack()
    import seqio

    from flawn.mixtures import get_mixture_spec, mixture_names
    from flawn.tasks.metadata import task_metadata

    print("tasks:")
    for name in sorted(seqio.TaskRegistry.names()):
        task = seqio.get_mixture_or_task(name)
        count = task.num_input_examples("train") if "train" in task.splits else None
        try:
            metadata = task_metadata(name)
            detail = f"{metadata.kind}, " + ", ".join(
                f"{k}={metadata.fields[k]}"
                for k in ("jurisdiction", "task_type", "prompt_language")
                if k in metadata.fields
            )
        except FlawnError:
            detail = "registered outside flawn"
        print(f"  {name}  ({count if count is not None else '?'} train examples; {detail})")
    print("mixtures:")
    for name in mixture_names():
        spec = get_mixture_spec(name)
        parts = ", ".join(f"{c}: {r.describe()}" for c, r in spec.components)
        print(f"  {name}  [{parts}]  - {spec.description} ({spec.defined_at})")
    return 0


def _cmd_data_plan(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    import_heavy_stack()
    from flawn import gin_utils
    from flawn.mixtures.plan import plan_mixture

    if gin_files or bindings:  # e.g. instruction formatting or a bad-record policy
        gin_utils.parse(gin_files, bindings)
    plan = plan_mixture(
        args.mixture,
        args.steps,
        args.batch_size,
        {"inputs": args.inputs, "targets": args.targets},
        pack=not args.no_pack,
        sample=args.sample,
    )
    print(plan.to_json() if args.format == "json" else plan.format_table())
    return 0


def _cmd_data_inspect(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    import_heavy_stack()
    import seqio

    from flawn import gin_utils
    from flawn.tasks.metadata import task_metadata

    if gin_files or bindings:
        gin_utils.parse(gin_files, bindings)
    task = seqio.get_mixture_or_task(args.task)
    if isinstance(task, seqio.Mixture):
        raise FlawnError(
            f"{args.task} is a mixture; inspect one of its tasks: "
            f"{', '.join(t.name for t in task.tasks)}"
        )
    metadata = task_metadata(args.task)
    print(
        f"{args.task}  ({metadata.kind}; {task.num_input_examples(args.split)} {args.split} "
        f"examples; source {task.source!r})"
    )
    lengths = {"inputs": args.inputs, "targets": args.targets}
    dataset = task.get_dataset(lengths, split=args.split, shuffle=False, seed=0)
    for number, example in enumerate(dataset.take(args.n).as_numpy_iterator(), start=1):
        print(f"\n--- example {number} ---")
        for key in ("inputs", "targets"):
            if key not in example:
                continue
            text = example.get(f"{key}_pretokenized")
            shown = (
                text.decode()
                if text is not None
                else task.output_features[key].vocabulary.decode(example[key].tolist())
            )
            print(f"{key} ({len(example[key])} tokens): {shown}")
        meta = {
            k: v.decode()
            for k, v in sorted(example.items())
            if isinstance(v, bytes) and not k.endswith("_pretokenized")
        }
        print(f"metadata: {meta}")
    return 0


def _cmd_data_cache(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    import_heavy_stack()
    from flawn import gin_utils
    from flawn.tasks.cache import cache_mixture

    if gin_files or bindings:  # formatting choices are frozen into the cache
        gin_utils.parse(gin_files, bindings)
    stats = cache_mixture(args.mixture, args.cache_dir, args.split, args.num_shards)
    for task, counts in stats.items():
        print(f"  {task}: {counts['examples']:,} examples")
    print(
        f"cached {len(stats)} task(s) in {args.cache_dir}; train with "
        f"--gin.TrainConfig.cache_dir={args.cache_dir!r} to read them"
    )
    return 0


def _cmd_data_clean(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    import_heavy_stack()
    from flawn import gin_utils
    from flawn.quality.config import (
        CleanConfig,
        DecontaminationConfig,
        DedupConfig,
        LanguageConfig,
        LengthConfig,
    )
    from flawn.quality.pipeline import clean_mixture

    if gin_files or bindings:  # e.g. --gin.bad_record_policy.policy='skip'
        gin_utils.parse(gin_files, bindings)
    benchmarks = tuple(b for b in (args.decontaminate or "").split(",") if b)
    config = CleanConfig(
        length=LengthConfig(
            min_words=args.min_words,
            max_words=args.max_words,
            min_answer_words=args.min_answer_words,
            max_answer_words=args.max_answer_words,
            min_chars=args.min_chars,
            max_chars=args.max_chars,
        ),
        language=LanguageConfig(
            languages=tuple(c for c in (args.languages or "").split(",") if c),
            field=args.language_field,
        ),
        decontamination=DecontaminationConfig(
            benchmarks=benchmarks,
            ngram=args.ngram,
            stop_texts=args.stop_texts or None,
            min_shared=args.min_shared,
            min_coverage=args.min_coverage,
            remove=not args.keep_contaminated,
            legalbench_dir=args.legalbench_dir,
            legalbench_data=args.legalbench_data,
            lawbench_dir=args.lawbench_dir,
        ),
        dedup=DedupConfig(
            near=not args.exact_only,
            threshold=args.near_threshold,
            num_perm=args.num_perm,
            shingle=args.shingle,
            seed=args.seed,
        )
        if args.dedup
        else None,
        policy=args.policy,
    )
    result = clean_mixture(
        args.mixture, args.out, config, name=args.name, force=args.force, progress=not args.quiet
    )
    report = result.report
    if result.reused:
        print(f"already cleaned with these inputs and settings: {result.folder} (reused)")
    width = max(len(c["source"]) for c in report["counts"])
    print(f"{'source':<{width}}  {'read':>8}  {'kept':>8}  removed")
    for counts in report["counts"]:
        removed = ", ".join(f"{k.split(':', 1)[1]} {v:,}" for k, v in counts["removed"].items())
        print(
            f"{counts['source']:<{width}}  {counts['read']:>8,}  {counts['kept']:>8,}  "
            f"{removed or '-'}"
        )
    contamination = report.get("contamination")
    if contamination:
        for benchmark, tasks in contamination["contaminated_tasks"].items():
            shown = ", ".join(tasks[:10]) + (
                f" (+{len(tasks) - 10} more)" if len(tasks) > 10 else ""
            )
            print(
                f"{benchmark}: {len(tasks)} task(s) overlap the input data{': ' if tasks else ''}"
                f"{shown}"
            )
    from flawn.quality.pipeline import latest_link

    print(
        f"wrote {result.folder} (report.md, report.json); use it as mixture {report['name']!r} "
        f"with FLAWN_MIXTURES_PATH={result.folder} "
        f"(or {latest_link(args.out, args.mixture)}, the newest copy)"
    )
    return 0


def _cmd_samples_catalog_shards(
    args: argparse.Namespace, gin_files: list[str], bindings: list[str]
):
    from flawn.samples.catalog_shards import write_catalog_shards

    written = write_catalog_shards(args.out, scale=args.scale, seed=args.seed)
    print(
        f"wrote {len(written)} synthetic release-format shards ({sum(written.values()):,} records, "
        f"{args.scale:g} of each subset's release count) to {args.out}; use them with "
        f"FLAWN_LAWINSTRUCT_DIR={args.out}"
    )
    return 0


def add_parsers(sub) -> None:
    """Adds ``samples`` and ``data`` to the ``flawn`` command."""
    samples = sub.add_parser("samples", help="bundled sample data")
    samples_sub = samples.add_subparsers(dest="samples_kind", metavar="ACTION", required=True)
    write = samples_sub.add_parser("write", help="regenerate the sample data (deterministic)")
    write.add_argument("--out", help="destination (default: the package's sample_data folder)")
    write.add_argument("--seed", type=int, default=0)
    write.set_defaults(handler=_cmd_samples_write)

    data = sub.add_parser("data", help="inspect registered tasks and mixtures")
    data_sub = data.add_subparsers(dest="data_kind", metavar="ACTION", required=True)
    data_list = data_sub.add_parser("list", help="list tasks and mixtures with their rates")
    data_list.set_defaults(handler=_cmd_data_list)
    plan = data_sub.add_parser(
        "plan",
        help="what a run draws from each source: rate, share, examples, tokens, epochs",
        description="Resolve a mixture for a run length before training: per source the declared "
        "rate (with the path through nested mixtures), its share of examples, the expected "
        "examples and tokens, and the epochs over the source. Examples per packed row are "
        "measured on the real pipeline.",
    )
    plan.add_argument("mixture", help="a registered mixture or task")
    plan.add_argument("--steps", type=int, default=1000, help="training steps (default 1000)")
    plan.add_argument("--batch-size", type=int, default=32, help="rows per step (default 32)")
    plan.add_argument("--inputs", type=int, default=1024, help="input length (default 1024)")
    plan.add_argument("--targets", type=int, default=256, help="target length (default 256)")
    plan.add_argument("--no-pack", action="store_true", help="one example per row")
    plan.add_argument(
        "--sample",
        type=int,
        default=500,
        help="examples per source used to estimate token lengths (default 500)",
    )
    plan.add_argument("--format", choices=("table", "json"), default="table")
    plan.set_defaults(handler=_cmd_data_plan)
    inspect = data_sub.add_parser(
        "inspect", help="show the first examples of a task as the model sees them"
    )
    inspect.add_argument("task", help="a registered task")
    inspect.add_argument("-n", type=int, default=3, help="how many examples (default 3)")
    inspect.add_argument("--split", default="train")
    inspect.add_argument("--inputs", type=int, default=1024, help="input length (default 1024)")
    inspect.add_argument("--targets", type=int, default=256, help="target length (default 256)")
    inspect.set_defaults(handler=_cmd_data_inspect)
    cache = data_sub.add_parser(
        "cache",
        help="preprocess a mixture's tasks once into seqio's cache format",
        description="Run each task's preprocessing up to its cache point and store it in seqio's "
        "cache format (TFRecords + info/stats), read back with use_cached=True. Writes on this "
        "host without Apache Beam (Beam cannot be installed next to the pinned protobuf 7).",
    )
    cache.add_argument("mixture", help="a registered mixture or task")
    cache.add_argument("--cache-dir", required=True, help="the global cache directory to write")
    cache.add_argument("--split", default="train")
    cache.add_argument("--num-shards", type=int, default=1, help="TFRecord files per task")
    cache.set_defaults(handler=_cmd_data_cache)
    clean = data_sub.add_parser(
        "clean",
        help="deduplicate, decontaminate and filter a mixture into a versioned cleaned copy",
        description="Read every source of a mixture (sources in mixture order, records in file "
        "order) and apply, in this order: the bad-record policy, the length filter, the language "
        "filter, decontamination against benchmark n-grams, exact and then near-duplicate "
        "removal. Writes OUT/<mixture>-<hash>/ (the hash covers inputs and settings) with the "
        "kept records in each source's own format, report.json, report.md, contamination.tsv "
        "and mixture.py, which registers the copy as <mixture>.clean when the folder is listed "
        "in FLAWN_MIXTURES_PATH.",
    )
    clean.add_argument("mixture", help="a registered mixture (or task)")
    clean.add_argument(
        "--out", default="cleaned", help="parent folder of the copy (default cleaned/)"
    )
    clean.add_argument("--name", help="name to register the copy as (default <mixture>.clean)")
    clean.add_argument("--force", action="store_true", help="rewrite an existing copy")
    clean.add_argument("--quiet", action="store_true", help="no progress bars")
    clean.add_argument(
        "--policy", choices=("error", "skip"), help="bad-record policy (default: gin's, error)"
    )
    dedup = clean.add_argument_group("deduplication")
    dedup.add_argument("--dedup", action="store_true", help="remove exact and near duplicates")
    dedup.add_argument("--exact-only", action="store_true", help="only exact duplicates")
    dedup.add_argument(
        "--near-threshold", type=float, default=0.8, help="Jaccard threshold (default 0.8)"
    )
    dedup.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (128)")
    dedup.add_argument("--shingle", type=int, default=5, help="words per shingle (default 5)")
    dedup.add_argument("--seed", type=int, default=1, help="MinHash seed (default 1)")
    contamination = clean.add_argument_group("decontamination")
    contamination.add_argument(
        "--decontaminate",
        metavar="BENCHMARKS",
        help="comma-separated: legalbench,lawbench",
    )
    contamination.add_argument(
        "--ngram", type=int, default=13, help="words per n-gram (Chinese cut by jieba) (13)"
    )
    contamination.add_argument(
        "--min-shared",
        type=int,
        default=MIN_SHARED,
        help=f"distinct n-grams an example must share with an item ({MIN_SHARED}) ...",
    )
    contamination.add_argument(
        "--min-coverage",
        type=float,
        default=MIN_COVERAGE,
        help=f"... or share of the item's n-grams it must cover ({MIN_COVERAGE})",
    )
    contamination.add_argument(
        "--stop-texts",
        type=int,
        default=STOP_TEXTS,
        help="n-grams in more distinct benchmark texts than this are stock phrasing and "
        f"not checked ({STOP_TEXTS}; 0: no stop list)",
    )
    contamination.add_argument(
        "--keep-contaminated", action="store_true", help="report overlaps but keep the examples"
    )
    contamination.add_argument(
        "--legalbench-dir", help="LegalBench checkout (default FLAWN_LEGALBENCH_DIR or shared data)"
    )
    contamination.add_argument(
        "--legalbench-data", help="official LegalBench test rows (TSV folders or parquet)"
    )
    contamination.add_argument(
        "--lawbench-dir", help="LawBench data/ folder (default FLAWN_LAWBENCH_DIR or shared data)"
    )
    filters = clean.add_argument_group("length and language")
    filters.add_argument("--min-words", type=int, help="fewest words of prompt + answer")
    filters.add_argument("--max-words", type=int, help="most words of prompt + answer")
    filters.add_argument("--min-answer-words", type=int, help="fewest words of the answer")
    filters.add_argument("--max-answer-words", type=int, help="most words of the answer")
    filters.add_argument("--min-chars", type=int, help="fewest characters of prompt + answer")
    filters.add_argument("--max-chars", type=int, help="most characters of prompt + answer")
    filters.add_argument(
        "--languages", help="keep only these languages, e.g. en,de,fr (fastText lid.176 codes)"
    )
    filters.add_argument(
        "--language-field",
        choices=("text", "prompt", "answer"),
        default="text",
        help="what the language is identified on (default: prompt and answer)",
    )
    clean.set_defaults(handler=_cmd_data_clean)
    shards = samples_sub.add_parser(
        "catalog-shards",
        help="synthetic LawInstruct release shards for all 148 subsets (to plan the paper sweeps)",
        description="Write synthetic shards in the LawInstruct release format, one set per "
        "catalog subset, sized as a fraction of the release counts, so that the lawinstruct.* "
        "mixtures register (FLAWN_LAWINSTRUCT_DIR=OUT) and sweeps over them can be planned here.",
    )
    shards.add_argument("out", help="destination folder")
    shards.add_argument("--scale", type=float, default=1e-4, help="fraction of release counts")
    shards.add_argument("--seed", type=int, default=0)
    shards.set_defaults(handler=_cmd_samples_catalog_shards)
