"""``flawn infer``: answer a file of questions, or questions typed one per line."""

from __future__ import annotations

import argparse
import sys

from flawn.errors import FlawnError


def add_generation_flags(parser: argparse.ArgumentParser) -> None:
    """The decoding flags ``infer`` and ``serve`` share (``None`` = not given)."""
    group = parser.add_argument_group("generation")
    group.add_argument(
        "--strategy",
        choices=("greedy", "sample", "beam"),
        help="decoding strategy (default: greedy; sampling flags imply sample, beam flags beam)",
    )
    group.add_argument(
        "--max-new-tokens", type=int, help="most tokens generated per answer (default: 64)"
    )
    group.add_argument(
        "--max-input-tokens",
        type=int,
        help="longer prompts lose tokens from their start (default: the run's training input "
        "length)",
    )
    group.add_argument(
        "--temperature", type=float, help="sample: below 1 sharpens, 0 is greedy (default: 1)"
    )
    group.add_argument(
        "--top-p", type=float, help="sample: nucleus probability mass in (0, 1] (default: 1)"
    )
    group.add_argument(
        "--top-k", type=int, help="sample: draw from the k most likely tokens (default: 0 = all)"
    )
    group.add_argument(
        "--seed", type=int, help="sample: the same seed gives the same answers (default: 0)"
    )
    group.add_argument("--num-beams", type=int, help="beam: hypotheses kept (default: 4)")
    group.add_argument(
        "--length-penalty",
        type=float,
        help="beam: rank by log p / length**penalty; 0 favours short answers (default: 1)",
    )


def settings_from_args(args: argparse.Namespace):
    """The :class:`~flawn.inference.GenerationSettings` the flags ask for."""
    from flawn.inference.settings import GenerationSettings

    return GenerationSettings.from_options(
        args.strategy,
        max_new_tokens=args.max_new_tokens,
        max_input_tokens=args.max_input_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        seed=args.seed,
        num_beams=args.num_beams,
        length_penalty=args.length_penalty,
    )


def _cmd_infer(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    from flawn.inference.generator import Generator
    from flawn.inference.templates import resolve_template

    settings = settings_from_args(args)
    template_name, template = resolve_template(args.template)
    if args.output and not args.input:
        raise FlawnError("--output needs --input (without it, flawn infer answers typed lines)")
    records = None
    if args.input:  # a bad file fails here, before the model is loaded
        from flawn.inference.records import read_prompt_records

        records = read_prompt_records(args.input, template)
    generator = Generator.load(args.checkpoint, args.step, template, template_name)
    if records is None:
        from flawn.inference.console import run_console

        print(
            f"flawn infer: {generator.label}, {settings.describe()}; one question per line, "
            "'exit' or Ctrl-D to quit",
            file=sys.stderr,
        )
        run_console(generator, settings)
        return 0
    from flawn.inference.batch import write_predictions

    summary = write_predictions(
        generator, records, args.input, settings, args.output, args.batch_size
    )
    print(
        f"{summary.records} predictions from {generator.label}, {settings.describe()}, "
        f"in {summary.seconds:.1f} s: {summary.output}"
    )
    if summary.truncated:
        print(
            f"note: {summary.truncated} prompt(s) had more than "
            f"{generator.input_length(settings)} tokens and lost their start "
            "(their rows say prompt_truncated: true; raise --max-input-tokens)"
        )
    return 0


def add_parsers(sub) -> None:
    """Adds ``infer`` to the ``flawn`` command."""
    infer = sub.add_parser(
        "infer",
        help="answer questions with a trained checkpoint (a file in batches, or typed lines)",
        description="Load a run's model once and answer Alpaca-style records "
        "({instruction, input?, output?}: a JSON array or JSON Lines, such as LaWGPT's "
        "example_infer_data.json) in batches. Each record is written back with its prediction, "
        "the generation settings and the checkpoint's identity, to "
        "<input stem>.predictions.jsonl next to the input unless --output is given. Without "
        "--input, questions are read one per line from stdin and answered on stdout; EOF, "
        "'exit' or 'quit' ends.",
        epilog="examples:\n"
        "  flawn infer --checkpoint runs/demo/<run_id> --input questions.jsonl\n"
        "  flawn infer --checkpoint /tmp/flawn_run --input data.json --template alpaca "
        "--strategy beam --num-beams 4\n"
        "  echo 'Which article of the GDPR grants the right to erasure?' | "
        "flawn infer --checkpoint /tmp/flawn_run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    infer.add_argument(
        "--checkpoint",
        required=True,
        metavar="RUN",
        help="a sweep run folder (runs/<sweep>/<run_id>) or a flawn train folder (MODEL_DIR)",
    )
    infer.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    infer.add_argument("--input", metavar="FILE", help="records to answer (.json or .jsonl)")
    infer.add_argument(
        "--output",
        metavar="FILE",
        help="predictions JSONL (default: <input stem>.predictions.jsonl next to the input)",
    )
    infer.add_argument(
        "--template",
        metavar="NAME|PATH",
        help="prompt template: 'plain' (instruction, blank line, input: how flawn's tasks are "
        "built; the default), 'alpaca', or a template JSON file such as LaWGPT's "
        "templates/law_template.json",
    )
    infer.add_argument(
        "--batch-size", type=int, default=8, help="prompts per model call (default: 8)"
    )
    add_generation_flags(infer)
    infer.set_defaults(handler=_cmd_infer)
