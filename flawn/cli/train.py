"""``flawn train``: one training job from gin files, T5X-style flags."""

from __future__ import annotations

import argparse

from flawn.errors import FlawnError
from flawn.runtime import import_heavy_stack


def _cmd_train(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    if args.run_dir and (gin_files or bindings):
        raise FlawnError(
            "flawn train --run-dir takes no --gin_file or --gin.X: the run's "
            "spec.json holds its configuration"
        )
    if not gin_files and not args.run_dir:
        raise FlawnError(
            "flawn train needs at least one --gin_file (a model file and a run file), "
            "or --run-dir RUN_DIR"
        )
    import_heavy_stack()
    from flawn.train.processes import initialize

    initialize()  # several processes (FLAWN_NUM_PROCESSES, ...): join before JAX starts
    from flawn.train.standalone import (
        regime_file,
        train_from_gin,
        train_regime_from_gin,
        train_run_dir,
    )

    if args.run_dir:
        run_dir = train_run_dir(args.run_dir)
        print(f"run folder: {run_dir.path} (evaluate with flawn eval run --run-dir {run_dir.path})")
        return 0

    if regime_file(gin_files):
        run_dir = train_regime_from_gin(gin_files, bindings)
        for stage in run_dir.stages():
            print(f"stage {stage.path.name}: checkpoints {stage.checkpoint_dir}")
        print(f"run folder: {run_dir.path} (evaluate with flawn eval run --run-dir {run_dir.path})")
        return 0
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
        "--gin_file, and set the run file's required macros with --gin.MACRO=VALUE (strings "
        "need no quotes). Give a regime (gin/regimes/<regime>.gin) instead of a run file to "
        "train all its stages in order, each from the previous one's last checkpoint; "
        "MODEL_DIR then holds stages/<stage>/. Resumes from the last checkpoint. The folder is "
        "relocatable: its config does not store MODEL_DIR. Several processes (one per host "
        "of a pod slice) train one run together when FLAWN_NUM_PROCESSES, FLAWN_PROCESS_ID and "
        "FLAWN_COORDINATOR_ADDRESS (or FLAWN_MULTIPROCESS=auto on a TPU pod) are set.",
    )
    train.add_argument(
        "--run-dir",
        help="train the stages of a run folder flawn sweep prepared (its spec.json), as each "
        "worker of pod.sh TRAINER=flawn does",
    )
    train.set_defaults(handler=_cmd_train)
