"""``flawn train``: one training job from gin files, T5X-style flags."""

from __future__ import annotations

import argparse

from flawn.errors import FlawnError
from flawn.runtime import import_heavy_stack


def _cmd_train(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    if not gin_files:
        raise FlawnError("flawn train needs at least one --gin_file (a model file and a run file)")
    import_heavy_stack()
    from flawn.train.standalone import train_from_gin

    result = train_from_gin(gin_files, bindings)
    print(f"trained to step {result.step}: loss {result.first_loss:.4f} -> {result.final_loss:.4f}")
    print(f"checkpoints: {result.checkpoint_dir}")
    if result.wandb_dir:
        print(f"W&B files:   {result.wandb_dir}")
    return 0


def add_parsers(sub) -> None:
    """Adds ``train`` to the ``flawn`` command."""
    train = sub.add_parser(
        "train",
        help="train one model from gin files (T5X-style flags)",
        description="Train with the local JAX backend. Give a model file and a run file with "
        "--gin_file, and set the run file's required macros with --gin.MACRO=VALUE "
        "(strings need no quotes). Resumes from MODEL_DIR's last checkpoint. The folder is "
        "relocatable: its config.gin does not store MODEL_DIR.",
    )
    train.set_defaults(handler=_cmd_train)
