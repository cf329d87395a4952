"""The interactive question loop of ``flawn infer`` without ``--input``."""

from __future__ import annotations

import sys
from typing import TextIO

from flawn.inference.generator import Generator
from flawn.inference.settings import GenerationSettings

#: Lines that end the loop (as does end of input).
QUIT_WORDS = ("exit", "quit")


def run_console(
    generator: Generator,
    settings: GenerationSettings,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    interactive: bool | None = None,
) -> int:
    """Answers one question per line until end of input, ``exit`` or ``quit``.

    Only answers go to ``stdout``, one per line, so the loop can be fed by a
    pipe and its output read back; the ``> `` prompt is shown only at a
    terminal, and notes (a truncated prompt) go to ``stderr``.

    Args:
        generator: The loaded checkpoint.
        settings: How to decode.
        stdin: Where questions come from (default: ``sys.stdin``).
        stdout: Where answers go (default: ``sys.stdout``).
        stderr: Where notes go (default: ``sys.stderr``).
        interactive: Show the prompt (default: whether ``stdin`` is a terminal).

    Returns:
        The number of questions answered.
    """
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    if interactive is None:
        interactive = stdin.isatty()
    answered = 0
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        question = line.strip()
        if not question:
            continue
        if question.lower() in QUIT_WORDS:
            break
        answer = generator.ask(question, settings)
        if answer.truncated:
            stderr.write(
                f"(the question was cut to its last {generator.input_length(settings)} tokens)\n"
            )
        stdout.write(answer.text + "\n")
        stdout.flush()
        answered += 1
    return answered
