"""The prompt templates inference can be asked to use, by name or by file.

A model answers best when asked the way it was trained. flawn's tasks join an
instruction and its input with a blank line (``plain``, the default); models
tuned on Alpaca-style data expect the Alpaca prompt (``alpaca``, the text of
LaWGPT's and Alpaca-LoRA's ``alpaca.json``). Any template file in that JSON
format works too, e.g. LaWGPT's ``templates/law_template.json``.
"""

from __future__ import annotations

import os

from flawn.errors import ConfigError
from flawn.sources.alpaca import PLAIN_TEMPLATE, PromptTemplate, load_prompt_template

ALPACA_TEMPLATE = PromptTemplate(
    prompt_input=(
        "Below is an instruction that describes a task, paired with an input that provides "
        "further context. Write a response that appropriately completes the request.\n\n"
        "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
    ),
    prompt_no_input=(
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
    ),
    response_split="### Response:",
    description="Template used by Alpaca-LoRA.",
)

#: Templates known by name.
TEMPLATES: dict[str, PromptTemplate] = {"plain": PLAIN_TEMPLATE, "alpaca": ALPACA_TEMPLATE}

#: The template used when none is named: how flawn's own tasks build inputs.
DEFAULT_TEMPLATE = "plain"


def resolve_template(name_or_path: str | os.PathLike | None) -> tuple[str, PromptTemplate]:
    """A template by name (``plain``, ``alpaca``) or from a template JSON file.

    Returns:
        ``(label, template)``: the name, or the file's path, and the template.

    Raises:
        ConfigError: If it is neither a known name nor an existing file.
        FlawnError: If the file is not a valid template (naming what is wrong).
    """
    if name_or_path is None:
        return DEFAULT_TEMPLATE, TEMPLATES[DEFAULT_TEMPLATE]
    text = os.fspath(name_or_path)
    if text in TEMPLATES:
        return text, TEMPLATES[text]
    if os.path.isfile(text):
        return text, load_prompt_template(text)
    raise ConfigError(
        f"template {text!r} is neither a known name ({', '.join(TEMPLATES)}) nor a file; "
        "pass a name or the path of a template JSON file with prompt_input and prompt_no_input "
        "(e.g. LaWGPT's templates/law_template.json)"
    )


def render_prompt(template: PromptTemplate, instruction: str, input: str = "") -> str:
    """The model input for an instruction and its optional input.

    Raises:
        ConfigError: If the record has an input the template has no slot for.
    """
    try:
        return template.render(instruction, input)
    except ValueError as err:
        raise ConfigError(str(err)) from err
