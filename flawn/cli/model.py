"""``flawn model list|info|export``: the size table, parameters and FLOPs; checkpoint export."""

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
        "scores) next to 6ND, and memory for parameters plus AdamW state.",
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
