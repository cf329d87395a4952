"""The ``flawn`` command line: one thin module per command group.

Heavy imports (TensorFlow, JAX, seqio) happen inside the commands that need
them, so ``flawn --help`` and the analysis commands start instantly. No
library logic lives here: each command parses its flags, calls the library
and prints.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback

from flawn import __version__
from flawn.cli import analysis, data, evaluate, infer, model, propose, serve, sweep, train
from flawn.errors import FlawnError, from_pipeline_error

_EPILOG = """\
examples:
  flawn demo                                   the demo sweep: train, evaluate, delta table
  flawn sweep plan experiments/demo.gin        runs, data plans and costs, before anything runs
  flawn sweep launch experiments/demo.gin      run (or resume) every unfinished run
  flawn sweep status experiments/demo.gin      one row per run: status, step, loss, evals, error
  flawn train --gin_file=gin/models/tiny.gin --gin_file=gin/runs/finetune.gin \\
      --gin.MIXTURE_OR_TASK_NAME=demo.general_plus_legal \\
      --gin.TASK_FEATURE_LENGTHS="{'inputs': 144, 'targets': 16}" \\
      --gin.TRAIN_STEPS=200 --gin.BATCH_SIZE=32 --gin.MODEL_DIR=/tmp/flawn_run
  flawn eval run --run-dir /tmp/flawn_run --mode rank_classification
  flawn analyze runs/demo --out runs/demo/analysis   tables with intervals, plots, run cards
  flawn analysis deltas runs/demo --baseline demo.general_only
  flawn propose runs/demo --objective sample.overall --k 4 --out experiments/demo_next.gin
  flawn data plan demo.general_plus_legal --steps 400 --batch-size 32
  flawn model info base --inputs 1024 --targets 256 --batch-size 128
  flawn infer --checkpoint /tmp/flawn_run --input questions.jsonl   predictions JSONL beside it
  flawn serve --checkpoint RUN_A --checkpoint RUN_B    web page asking two runs side by side
"""

_GROUPS = (sweep, train, evaluate, infer, serve, analysis, propose, data, model)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``flawn`` command."""
    parser = argparse.ArgumentParser(
        prog="flawn",
        description="Data-mixture ablation experiments for legal instruction tuning.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"flawn {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress details (INFO level)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in _GROUPS:
        group.add_parsers(sub)
    return parser


_UNKNOWN_PROVIDER = re.compile(r"No Task or Mixture found with name '([^']+)'")


def _report(err: Exception, verbose: bool, cause: Exception | None = None) -> int:
    """One line for the user; the traceback only with ``--verbose``."""
    if verbose:
        traceback.print_exception(cause or err)
    print(f"flawn: error: {err}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``flawn`` console command."""
    from flawn.gin_utils import split_gin_flags

    # The flawn process itself (console script, python -m), not a caller in Python.
    command = argv is None
    argv = sys.argv[1:] if argv is None else argv
    gin_files, bindings, rest = split_gin_flags(argv)
    from flawn.gin_utils import policy_in_gin
    from flawn.sources.policy import POLICY_ENV

    # Sources registered at start-up are counted under the policy the run binds.
    experiments = [a for a in rest if a.endswith(".gin")]
    policy = policy_in_gin(bindings, [*gin_files, *experiments])
    if policy and not os.environ.get(POLICY_ENV):
        os.environ[POLICY_ENV] = policy
    parser = build_parser()
    args = parser.parse_args(rest)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args, gin_files, bindings)
    except (FlawnError, FileNotFoundError) as err:
        return _end(_report(err, args.verbose), err, command)
    except KeyboardInterrupt:
        print("flawn: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    except Exception as err:  # reported here, see _unexpected
        return _end(_unexpected(err, args.verbose), err, command)


def _end(code: int, err: BaseException, command: bool) -> int:
    """``code``; the ``flawn`` process itself leaves at once after a ``tf.data`` error.

    See :func:`flawn.runtime.exit_after_pipeline_error`; a caller of
    :func:`main` in Python gets the code back as usual.
    """
    if command:
        from flawn.runtime import exit_after_pipeline_error

        exit_after_pipeline_error(code, err)
    return code


def _unexpected(err: Exception, verbose: bool) -> int:
    """Reports an error no command handled, without letting it escape ``main``.

    An exception that escapes is printed by the interpreter, which keeps its
    traceback through shutdown; that hangs when the traceback holds a running
    ``tf.data`` iterator (see :func:`flawn.runtime.exit_after_pipeline_error`).
    """
    converted = from_pipeline_error(err)
    if converted is not None:
        return _report(converted, verbose, cause=err)
    # seqio's "No Task or Mixture found": the same message, with the nearest names.
    match = _UNKNOWN_PROVIDER.search(str(err)) if isinstance(err, ValueError) else None
    if match:
        from flawn.mixtures.validation import check_mixture_name

        try:
            check_mixture_name(match.group(1))
        except FlawnError as named:
            return _report(named, verbose, cause=err)
    traceback.print_exception(err)
    return 1


if __name__ == "__main__":
    sys.exit(main())
