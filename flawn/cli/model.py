"""``flawn model list|info|export|extend-vocab``: sizes, parameters, FLOPs; export; vocabularies."""

from __future__ import annotations

import argparse


def _cmd_list(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    import pandas as pd

    from flawn.models.flops import count_parameters
    from flawn.models.sizes import SIZES

    rows = []
    for size in SIZES.values():
        vocab = size.vocab_size or args.vocab
        rows.append(
            {
                "size": size.name,
                **dict(size.shape),
                "vocab": vocab,
                "parameters": f"{count_parameters(size.shape, vocab).total:,}",
                "partitions (pod)": size.num_partitions,
                "": size.description,
            }
        )
    print(pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True))
    return 0


def _cmd_info(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    from flawn.models.info import describe_size

    print(describe_size(args.size, args.vocab, args.inputs, args.targets, args.batch_size))
    return 0


def _size(text: str) -> int:
    """Bytes from ``5GB``, ``500MB``, ``2000000`` (decimal units, as Hugging Face's shards)."""
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "B": 1}
    upper = text.strip().upper()
    unit = next((u for u in units if upper.endswith(u)), None)
    number, factor = (upper[: -len(unit)], units[unit]) if unit else (upper, 1)
    try:
        value = int(float(number) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 5GB, 500MB)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"a shard size must be positive, got {text!r}")
    return value


def _cmd_export(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    from flawn.runtime import import_heavy_stack

    # A flawn run's vocabulary (copied as the tokenizer) comes from its registered mixture.
    import_heavy_stack()
    from flawn.train.checkpoints import export_checkpoint

    summary = export_checkpoint(
        args.source, args.out, args.format, step=args.step, max_shard_bytes=args.max_shard_size
    )
    print(f"exported {summary['source']}")
    print(f"  as {'Hugging Face T5' if args.format == 'hf' else 'T5X'}: {summary['path']}")
    if args.format == "hf":
        config = summary["config"]
        print(
            f"  config.json: T5ForConditionalGeneration, d_model {config['d_model']}, "
            f"{config['num_layers']}+{config['num_decoder_layers']} layers, "
            f"vocab_size {config['vocab_size']}"
        )
        print(f"  tokenizer: {summary['tokenizer']}")
        print(
            "  load it with: transformers.T5ForConditionalGeneration.from_pretrained"
            f"({summary['path']!r})"
        )
    return 0


def _cmd_extend_vocab(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    import os

    from flawn import paths
    from flawn.errors import FlawnError
    from flawn.tokenizer.extension import extend_from_files
    from flawn.tokenizer.lengths import format_lengths, measure_lengths, read_texts

    if bool(args.checkpoint) != bool(args.out_checkpoint):
        raise FlawnError("--checkpoint and --out-checkpoint go together")
    base = args.vocab or os.environ.get("FLAWN_VOCABULARY") or str(paths.SAMPLE_VOCAB)
    extension = extend_from_files(
        base,
        args.out,
        args.terms,
        args.train_corpus or (),
        args.pieces,
        args.kind,
        word_start=args.word_start,
    )
    print(f"extended {base}: {len(extension.added)} new {args.kind} pieces -> {extension.model}")
    for origin, count in sorted(extension.origins.items()):
        print(f"  from {origin}: {count}")
    for reason, count in sorted(extension.skipped.items()):
        print(f"  skipped ({reason}): {count}")
    print(
        f"  ids: {extension.base_size} -> {extension.size} (new pieces "
        f"{extension.first_added}..{extension.first_added + len(extension.added) - 1})"
    )
    sentinels = extension.sentinel_ids()
    if sentinels:
        (old_first, new_first), (old_last, new_last) = sentinels[0], sentinels[-1]
        print(
            f"  sentinels moved: <extra_id_0> {old_first} -> {new_first}, "
            f"<extra_id_{len(sentinels) - 1}> {old_last} -> {new_last}"
        )
    measured = args.measure or args.train_corpus or []
    if measured:
        lengths = [
            measure_lengths(
                read_texts(p), extension.base_model, extension.model, os.path.basename(p)
            )
            for p in measured
        ]
        print("\ntokens before and after the extension:\n")
        print(format_lengths(lengths))
    if args.checkpoint:
        from flawn.train.resized_checkpoint import resize_checkpoint

        summary = resize_checkpoint(args.checkpoint, args.out_checkpoint, extension, args.step)
        print(f"\nresized {summary['source']}")
        print(
            f"  vocabulary rows {summary['rows_before']} -> {summary['rows_after']} "
            f"(new rows: the mean of each piece's rows in the base vocabulary)"
        )
        print(f"  as Hugging Face T5 with the extended spiece.model: {summary['path']}")
        print(
            "  a run that trains with this vocabulary (a regime with the same extension, e.g. "
            f"lawgpt) can start from it: --gin.INIT={summary['path']}"
        )
    return 0


def add_parsers(sub) -> None:
    """Adds ``model`` to the ``flawn`` command."""
    model = sub.add_parser("model", help="model sizes: parameters, FLOPs per step, memory")
    actions = model.add_subparsers(dest="model_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every size of the table both backends read")
    listing.add_argument(
        "--vocab", type=int, default=32128, help="vocabulary rows for the CPU sizes (default 32128)"
    )
    listing.set_defaults(handler=_cmd_list)
    info = actions.add_parser(
        "info",
        help="parameters, exact FLOPs of one training step, and memory of a size",
        description="Parameters by part, the exact FLOPs of one training step (encoder on input "
        "tokens, decoder on target tokens, cross-attention on encoder outputs, attention "
        "scores) next to 6ND, and memory for parameters plus optimizer state (Adafactor as "
        "T5X keeps it, and AdamW).",
    )
    info.add_argument("size", help="a size, e.g. base or flan_t5_xl (see flawn model list)")
    info.add_argument("--vocab", type=int, help="vocabulary rows (default: the size's, or 32128)")
    info.add_argument("--inputs", type=int, default=1024, help="input length (default 1024)")
    info.add_argument("--targets", type=int, default=256, help="target length (default 256)")
    info.add_argument("--batch-size", type=int, default=128, help="rows per step (default 128)")
    info.set_defaults(handler=_cmd_info)
    export = actions.add_parser(
        "export",
        help="write a checkpoint as Hugging Face safetensors + config.json, or as T5X",
        description="Writes a checkpoint's parameters in another format. SOURCE is a flawn run "
        "folder (its final stage) or train folder (the newest readable checkpoint, or --step), "
        "a T5X checkpoint_<step> folder, or a Hugging Face T5 folder. --format hf writes "
        "config.json (T5ForConditionalGeneration, gated-GELU, untied head), "
        "generation_config.json, model.safetensors (or shards and their index) and, for a "
        "flawn run, its SentencePiece vocabulary as spiece.model; --format t5x writes "
        "OUT/checkpoint_<step>/ in T5X's layout. Nothing is downloaded.",
    )
    export.add_argument("source", help="a flawn run/train folder, T5X checkpoint or HF folder")
    export.add_argument(
        "--format", choices=("hf", "t5x"), default="hf", help="what to write (default hf)"
    )
    export.add_argument("--out", required=True, help="the folder to write")
    export.add_argument("--step", type=int, help="a flawn folder's checkpoint (default: newest)")
    export.add_argument(
        "--max-shard-size",
        type=_size,
        help="largest safetensors file of an hf export, e.g. 2GB (default 5GB)",
    )
    export.set_defaults(handler=_cmd_export)
    extend = actions.add_parser(
        "extend-vocab",
        help="add legal terms (LaWGPT) or corpus pieces to a SentencePiece vocabulary",
        description="Appends new pieces to a SentencePiece model, as LaWGPT extends its "
        "tokenizer with legal vocabulary: the terms of a word list (one per line) and/or the "
        "best pieces a small unigram model learns on a corpus that the base lacks. Every old "
        "piece keeps its id; the new pieces come before the sentinels, which move up. Writes "
        "OUT/extended.model, extended.vocab, extension.json and a copy of the base "
        "(base.model); prints how many tokens the --measure files (default: the corpus) take "
        "before and after. With --checkpoint, also writes that checkpoint resized to the new "
        "vocabulary (new rows: the mean of each new piece's rows in the base vocabulary; "
        "sentinel rows moved) as a Hugging Face T5 folder that a stage can start from.",
    )
    extend.add_argument(
        "--vocab",
        help="the base SentencePiece model (default: $FLAWN_VOCABULARY, else the sample one)",
    )
    extend.add_argument("--terms", help="word list, one term per line (LaWGPT's legal_vocab.txt)")
    extend.add_argument(
        "--train-corpus",
        nargs="+",
        metavar="FILE",
        help="JSON/JSONL/text files to learn pieces from (every string field of each record)",
    )
    extend.add_argument("--pieces", type=int, default=0, help="pieces to learn from the corpus")
    extend.add_argument(
        "--kind",
        choices=("user_defined", "normal"),
        default="user_defined",
        help="user_defined: always one piece (default); normal: scored, as LaWGPT adds them",
    )
    extend.add_argument(
        "--word-start",
        action="store_true",
        help="add each term as a word (▁term), for languages written with spaces",
    )
    extend.add_argument("--out", required=True, help="folder for the extended vocabulary")
    extend.add_argument(
        "--measure", nargs="+", metavar="FILE", help="files whose token counts to compare"
    )
    extend.add_argument("--checkpoint", help="a checkpoint in the base vocabulary to resize")
    extend.add_argument("--out-checkpoint", help="folder for the resized checkpoint (HF T5)")
    extend.add_argument("--step", type=int, help="a flawn folder's checkpoint (default: newest)")
    extend.set_defaults(handler=_cmd_extend_vocab)
