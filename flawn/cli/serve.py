"""``flawn serve``: a web page to ask one checkpoint, or several side by side."""

from __future__ import annotations

import argparse
import sys

from flawn.cli.infer import add_generation_flags, settings_from_args
from flawn.errors import FlawnError

#: Most checkpoints one page shows side by side.
MAX_CHECKPOINTS = 4

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _steps(args: argparse.Namespace) -> list[int | None]:
    steps = args.step or []
    if len(steps) not in (0, 1, len(args.checkpoint)):
        raise FlawnError(
            f"give --step once (for every checkpoint) or once per --checkpoint "
            f"({len(args.checkpoint)}), not {len(steps)} times"
        )
    if len(steps) == 1:
        steps = steps * len(args.checkpoint)
    return steps or [None] * len(args.checkpoint)


def _cmd_serve(args: argparse.Namespace, gin_files: list[str], bindings: list[str]) -> int:
    if len(args.checkpoint) > MAX_CHECKPOINTS:
        raise FlawnError(f"flawn serve shows at most {MAX_CHECKPOINTS} checkpoints side by side")
    if args.max_input_chars < 1:
        raise FlawnError(f"--max-input-chars must be at least 1, got {args.max_input_chars}")
    steps = _steps(args)
    defaults = settings_from_args(args)
    try:
        from flawn.inference import server, web
    except ImportError as err:
        raise FlawnError(
            f"flawn serve needs Gradio ({err.name} is missing): pip install -e '.[web]'"
        ) from err
    from flawn.inference.generator import Generator
    from flawn.inference.templates import resolve_template

    template_name, template = resolve_template(args.template)
    generators = [
        Generator.load(path, step, template, template_name)
        for path, step in zip(args.checkpoint, steps, strict=True)
    ]
    demo = web.build_app(generators, args.max_input_chars, defaults, args.max_queue)
    host = server.WebServer(demo, args.host, args.port)
    if args.host not in _LOOPBACK:
        print(
            f"warning: --host {args.host} makes the page reachable from other machines; "
            "it has no login",
            file=sys.stderr,
        )
    for generator in generators:
        print(f"serving {generator.label}")
    try:
        host.serve_forever(lambda url: print(f"open {url} (Ctrl-C stops)", flush=True))
    except KeyboardInterrupt:
        print("flawn serve: stopped")
    return 0


def add_parsers(sub) -> None:
    """Adds ``serve`` to the ``flawn`` command."""
    serve = sub.add_parser(
        "serve",
        help="a web page to ask a checkpoint, or two side by side (needs the web extra)",
        description="Serve a Gradio page on this machine to ask one checkpoint, or the same "
        "question to two (e.g. two mixtures of a sweep) side by side, with the generation "
        "settings as controls. It binds to 127.0.0.1 unless --host says otherwise, makes no "
        "network calls, has no file upload or download, and answers one question at a time "
        "(others wait in a queue). Needs Gradio: pip install -e '.[web]'.",
        epilog="examples:\n"
        "  flawn serve --checkpoint /tmp/flawn_run\n"
        "  flawn serve --checkpoint runs/demo/<run_a> --checkpoint runs/demo/<run_b> "
        "--port 7861",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        metavar="RUN",
        help="a sweep run folder or a flawn train folder; give it twice to compare two",
    )
    serve.add_argument(
        "--step",
        type=int,
        action="append",
        help="checkpoint step: once for all, or once per --checkpoint (default: the latest)",
    )
    serve.add_argument(
        "--template",
        metavar="NAME|PATH",
        help="prompt template: 'plain' (default), 'alpaca', or a template JSON file",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, this machine)"
    )
    serve.add_argument("--port", type=int, default=7860, help="TCP port (default: 7860)")
    serve.add_argument(
        "--max-input-chars",
        type=int,
        default=4000,
        help="longer questions (with their context) are refused (default: 4000)",
    )
    serve.add_argument(
        "--max-queue",
        type=int,
        default=32,
        help="requests that may wait their turn; more are turned away (default: 32)",
    )
    add_generation_flags(serve)
    serve.set_defaults(handler=_cmd_serve)
