"""``flawn data list|plan|inspect|cache`` and ``flawn samples write|catalog-shards``."""

from __future__ import annotations

import argparse

from flawn.errors import FlawnError
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
