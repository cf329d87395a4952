"""``flawn model list|info|export|import-t5x|extend-vocab``: sizes, FLOPs, conversions."""

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


def _cmd_import_t5x(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    from flawn.errors import FlawnError
    from flawn.runtime import import_heavy_stack

    if args.like and (args.size or args.mixture or gin_files or bindings):
        raise FlawnError(
            "--like copies that folder's config as it is; give either --like or --size and "
            "--mixture (with --gin flags)"
        )
    if not args.like and not (args.size and args.mixture):
        raise FlawnError(
            "say which flawn model the checkpoint is: --size SIZE --mixture NAME (the mixture's "
            "vocabulary sets the embedding rows), or --like FOLDER (a flawn run or train folder "
            "of the same model)"
        )
    from flawn.t5x.checkpoints import require_t5x_checkpoint

    source = require_t5x_checkpoint(args.checkpoint)  # before the slow imports
    # The mixture's vocabulary and the configurables in config.gin come from registered tasks.
    import_heavy_stack()
    from flawn.t5x.checkpoints import import_config_text, import_t5x_checkpoint, read_t5x_step
    from flawn.train.checkpoints import train_dir_of

    if args.like:
        like = train_dir_of(args.like)
        if not like.config_path.exists():
            raise FlawnError(f"--like {args.like}: no config.gin (not a flawn run or train folder)")
        text = like.config_text()
    else:
        text = import_config_text(
            args.size,
            args.mixture,
            {"inputs": args.inputs, "targets": args.targets},
            args.train_steps or max(read_t5x_step(source) or 0, 1),
            args.batch_size,
            tuple(gin_files),
            tuple(bindings),
        )
    summary = import_t5x_checkpoint(source, args.out, text)
    model = summary["model"]
    print(f"imported T5X checkpoint {summary['source']} (step {summary['step']})")
    print(
        f"  as a flawn train folder: {summary['path']} (emb {model.emb_dim}, "
        f"{model.num_encoder_layers}+{model.num_decoder_layers} layers, "
        f"mixture {summary['mixture']}; optimizer state starts fresh)"
    )
    print(f"  generate:  flawn infer --checkpoint {summary['path']} --input QUESTIONS.jsonl")
    print(f"  evaluate:  flawn eval run --run-dir {summary['path']}")
    print(f"  start from it: --gin.INIT={summary['path']!r} (or a sweep's init axis)")
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
    imported = actions.add_parser(
        "import-t5x",
        help="write a T5X checkpoint as a flawn train folder (infer, eval, a stage's init)",
        description="Converts a T5X checkpoint_<step> folder (T5X's msgpack+TensorStore layout "
        "or its orbax layout; read without T5X) into a new flawn train folder OUT: config.gin "
        "and checkpoints/<step>/ with the parameters and a fresh optimizer state. Say which "
        "model it is with --size and --mixture (config.gin is then what flawn train writes "
        "for gin/models/<size>.gin and gin/runs/finetune.gin; more --gin_file and --gin.KEY=VALUE "
        "flags apply last), or with --like, a flawn run or train folder whose config.gin is "
        "copied. The parameters must match that model exactly (names and shapes; the mixture's "
        "vocabulary sets the embedding rows), else nothing is written. The reverse is "
        "flawn model export --format t5x.",
    )
    imported.add_argument("checkpoint", help="a T5X checkpoint_<step> folder (local or gs://)")
    imported.add_argument("--out", required=True, help="the train folder to create (new or empty)")
    imported.add_argument("--size", help="the model size, e.g. xl (see flawn model list)")
    imported.add_argument(
        "--mixture", help="the seqio mixture or task the model reads, e.g. demo.general_plus_legal"
    )
    imported.add_argument(
        "--like", help="instead of --size/--mixture: a flawn run or train folder of the same model"
    )
    imported.add_argument("--inputs", type=int, default=1024, help="input length (default 1024)")
    imported.add_argument("--targets", type=int, default=256, help="target length (default 256)")
    imported.add_argument(
        "--batch-size", type=int, default=128, help="BATCH_SIZE for further training (default 128)"
    )
    imported.add_argument(
        "--train-steps",
        type=int,
        help="TRAIN_STEPS for further training with flawn train (default: the checkpoint's step)",
    )
    imported.set_defaults(handler=_cmd_import_t5x)
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
