"""``flawn model list|info``: the size table, parameters and FLOPs of a model size."""

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
