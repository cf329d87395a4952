"""The web page of ``flawn serve``: ask one checkpoint, or two side by side.

The page is built from :class:`~flawn.inference.generator.Generator` objects,
so tests build it in-process. It has text boxes, settings controls and read-only
answer boxes, and nothing else: no file upload or download component, and
answers are shown as plain text, never rendered as HTML. Questions longer than
``max_input_chars`` are refused with a message on the page. Hosting it
(offline, bound to localhost, with a queue) is :mod:`flawn.inference.server`'s job.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from flawn.errors import FlawnError
from flawn.inference.generator import Generator
from flawn.inference.settings import STRATEGIES, GenerationSettings

# Gradio phones home (a version check, usage analytics) unless told not to; the
# variables must be set before it is imported. Nothing here may reach the network.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # after the environment above

#: Default limit on question plus context, in characters.
DEFAULT_MAX_INPUT_CHARS = 4000

#: The element ids tests and users' scripts can find.
STATUS_ID = "flawn-status"
QUESTION_ID = "flawn-question"
ASK_ID = "flawn-ask"


def answer_id(index: int) -> str:
    """The element id of the answer box of checkpoint ``index`` (0-based)."""
    return f"flawn-answer-{index}"


def refusal(question: str, context: str, max_input_chars: int) -> str | None:
    """The message refusing an over-long or empty question, or ``None`` if it is fine."""
    if not question.strip():
        return "Type a question first."
    size = len(question) + len(context)
    if size > max_input_chars:
        return (
            f"Refused: the question and context have {size:,} characters; this server accepts "
            f"at most {max_input_chars:,} (flawn serve --max-input-chars). Shorten the input."
        )
    return None


def ask_all(
    generators: Sequence[Generator],
    question: str,
    context: str,
    settings: GenerationSettings,
    max_input_chars: int,
) -> tuple[str, list[str]]:
    """Asks every checkpoint the same question.

    Returns:
        ``(status, answers)``: a message for the page (empty when all went
        well) and one answer per checkpoint (empty when refused).

    Raises:
        FlawnError: If the template cannot take the question (the page shows it).
    """
    refused = refusal(question, context, max_input_chars)
    if refused:
        return refused, ["" for _ in generators]
    answers, notes = [], []
    for generator in generators:
        answer = generator.ask(question, settings, context)
        answers.append(answer.text)
        if answer.truncated:
            notes.append(
                f"{generator.label}: the prompt was cut to its last "
                f"{generator.input_length(settings)} tokens."
            )
    return " ".join(notes), answers


def _settings_controls(defaults: GenerationSettings) -> list:
    """The settings widgets, in :func:`_settings_from` order."""
    with gr.Accordion("Generation settings", open=False):
        with gr.Row():
            strategy = gr.Radio(
                list(STRATEGIES),
                value=defaults.strategy,
                label="Strategy",
                info="greedy: most likely token; sample: draw tokens; beam: beam search",
            )
            max_new_tokens = gr.Slider(
                1, 512, value=defaults.max_new_tokens, step=1, label="Max new tokens"
            )
        with gr.Row():
            temperature = gr.Slider(
                0.0, 2.0, value=defaults.temperature, step=0.05, label="Temperature (sample)"
            )
            top_p = gr.Slider(0.01, 1.0, value=defaults.top_p, step=0.01, label="Top-p (sample)")
            top_k = gr.Number(
                value=defaults.top_k, precision=0, minimum=0, label="Top-k (sample; 0 = all)"
            )
            seed = gr.Number(value=defaults.seed, precision=0, minimum=0, label="Seed (sample)")
        with gr.Row():
            num_beams = gr.Slider(1, 16, value=defaults.num_beams, step=1, label="Beams (beam)")
            length_penalty = gr.Slider(
                0.0, 2.0, value=defaults.length_penalty, step=0.1, label="Length penalty (beam)"
            )
    return [strategy, max_new_tokens, temperature, top_p, top_k, seed, num_beams, length_penalty]


def _settings_from(values: Sequence, max_input_tokens: int | None) -> GenerationSettings:
    strategy, max_new, temperature, top_p, top_k, seed, beams, penalty = values
    return GenerationSettings(
        strategy=strategy,
        max_new_tokens=int(max_new),
        temperature=float(temperature),
        top_p=float(top_p),
        top_k=int(top_k or 0),
        seed=int(seed or 0),
        num_beams=int(beams),
        length_penalty=float(penalty),
        max_input_tokens=max_input_tokens,
    )


def build_app(
    generators: Sequence[Generator],
    max_input_chars: int = DEFAULT_MAX_INPUT_CHARS,
    defaults: GenerationSettings | None = None,
    max_queue: int = 32,
) -> gr.Blocks:
    """The Gradio page asking each checkpoint (one, or two side by side).

    Args:
        generators: The loaded checkpoints, shown left to right.
        max_input_chars: Longest question plus context accepted.
        defaults: The settings the controls start at.
        max_queue: Requests that may wait; more are turned away with a
            "queue is full" message instead of piling up.

    Returns:
        The app, with its queue set up: one generation runs at a time, so
        concurrent users wait their turn instead of competing for the device.
    """
    if not generators:
        raise FlawnError("flawn serve needs at least one --checkpoint")
    defaults = defaults or GenerationSettings()
    with gr.Blocks(title="flawn", analytics_enabled=False) as demo:
        gr.Markdown(
            "## flawn: ask a checkpoint\n"
            + "\n".join(f"- **{chr(65 + i)}**: {g.label}" for i, g in enumerate(generators))
        )
        question = gr.Textbox(
            label="Question",
            lines=3,
            placeholder="e.g. Which article of the GDPR lets a person correct wrong data?",
            elem_id=QUESTION_ID,
        )
        context = gr.Textbox(label="Context (optional)", lines=2, elem_id="flawn-context")
        controls = _settings_controls(defaults)
        with gr.Row():
            ask = gr.Button("Ask", variant="primary", elem_id=ASK_ID)
            clear = gr.ClearButton(value="Clear")
        status = gr.Markdown(elem_id=STATUS_ID)
        with gr.Row():
            answers = [
                gr.Textbox(
                    label=f"{chr(65 + i)}: {g.label}",
                    lines=6,
                    interactive=False,
                    elem_id=answer_id(i),
                )
                for i, g in enumerate(generators)
            ]
        clear.add([question, context, status, *answers])

        def on_ask(question_text, context_text, *values):
            try:
                settings = _settings_from(values, defaults.max_input_tokens)
                message, texts = ask_all(
                    generators, question_text or "", context_text or "", settings, max_input_chars
                )
            except FlawnError as err:  # a bad setting or template: say so on the page
                return [f"Not answered: {err}", *["" for _ in generators]]
            return [message, *texts]

        wiring = dict(inputs=[question, context, *controls], outputs=[status, *answers])
        ask.click(on_ask, api_name="ask", **wiring)
        question.submit(on_ask, api_visibility="undocumented", **wiring)
    demo.queue(default_concurrency_limit=1, max_size=max_queue)
    return demo
