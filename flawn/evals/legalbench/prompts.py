"""Prompt templates split into their parts, and fitting prompts to the encoder length.

A LegalBench ``base_prompt.txt`` is a task description, a few worked
demonstrations, then the test item, whose ``{{column}}`` slots are filled
from the example::

    A mark is generic if ...                    <- description
                                                   (blank line)
    Q: The mark "Ivory" for ... A: generic      <- demonstration
    ...
    Q: {{text}} What is the type of mark?       <- test item (to the end)
    A:

How the parts are found (:func:`split_template`):

* the **test item** runs from the start of the first line holding a slot to
  the end of the template;
* the text before it is cut into blocks at blank lines; the item's *label*
  is what its first line has before the slot (``Q:``, ``Facts:``,
  ``Provision:``). The first block that starts with that label begins the
  **demonstrations**; each block starting with the label begins a new one,
  and a block that does not is part of the demonstration before it;
* everything before the first demonstration is the **description** (when the
  item line starts with the slot itself, there is no label and the whole
  prefix is description).

On all 162 LegalBench templates this yields description blocks followed by
demonstration blocks, never interleaved.

Truncation policy (:func:`fit_prompt`): when the tokenized prompt (plus EOS)
is longer than the encoder length, whole demonstrations are dropped, earliest
first; if all are gone and it is still too long, the description is dropped.
The test item is never cut while anything else is left. If the test item
alone does not fit, the ``overflow`` policy decides:

* ``"cut_item_start"`` (default): keep the *last* ``max_length`` tokens, so
  the item loses its beginning and keeps its question and answer cue; the
  example is scored and counted as ``item_cut``;
* ``"skip"``: the example is not scored; it is counted as skipped, and every
  report states the count.

This module does not import TensorFlow or JAX; tokenization is passed in.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence

SLOT = re.compile(r"\{\{(\w+)\}\}")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")

#: Overflow policies for a test item that alone exceeds the encoder length.
OVERFLOW_POLICIES = ("cut_item_start", "skip")

#: T5's end-of-sequence id, appended to every encoder input.
EOS_ID = 1


@dataclasses.dataclass(frozen=True)
class TemplateParts:
    """A template cut into description, demonstrations and test item.

    Concatenating ``description``, the ``demonstrations`` and ``item`` gives
    back the template exactly (separators stay with the text before them).

    Attributes:
        description: Text before the first demonstration (may be empty).
        demonstrations: The worked examples, in template order.
        item: The test item template, with its slots, to the end.
    """

    description: str
    demonstrations: tuple[str, ...]
    item: str

    def render(self, fields: Mapping[str, str], drop: int = 0, keep_description=True) -> str:
        """Fills the template, leaving out the first ``drop`` demonstrations.

        Args:
            fields: The example's columns.
            drop: How many of the earliest demonstrations to leave out.
            keep_description: Whether to keep the description.

        Returns:
            The prompt text.
        """
        head = self.description if keep_description else ""
        return head + "".join(self.demonstrations[drop:]) + fill(self.item, fields)


def fill(template: str, fields: Mapping[str, str]) -> str:
    """Replaces every ``{{column}}`` slot with the example's value.

    Raises:
        KeyError: If a slot has no value in ``fields``.
    """
    return SLOT.sub(lambda m: fields[m.group(1)], template)


def split_template(base_prompt: str) -> TemplateParts:
    """Cuts a template into description, demonstrations and test item.

    See the module docstring for the rule.

    Raises:
        ValueError: If the template has no slot.
    """
    first = SLOT.search(base_prompt)
    if first is None:
        raise ValueError("the template has no {{column}} slot")
    item_start = base_prompt.rfind("\n", 0, first.start()) + 1
    label = base_prompt[item_start : first.start()].strip()
    prefix = base_prompt[:item_start]

    # Blocks of the prefix, each keeping the blank lines that follow it.
    blocks, start = [], 0
    for gap in _BLANK_LINES.finditer(prefix):
        blocks.append(prefix[start : gap.end()])
        start = gap.end()
    if start < len(prefix):
        blocks.append(prefix[start:])

    description: list[str] = []
    demonstrations: list[str] = []
    for block in blocks:
        if label and block.lstrip().startswith(label):
            demonstrations.append(block)
        elif demonstrations:
            demonstrations[-1] += block
        else:
            description.append(block)
    return TemplateParts("".join(description), tuple(demonstrations), base_prompt[item_start:])


@dataclasses.dataclass(frozen=True)
class FittedPrompt:
    """A prompt made to fit the encoder.

    Attributes:
        text: The prompt text that was encoded (before any cut of the item).
        ids: Its token ids, EOS last, at most ``max_length`` long; empty if skipped.
        demonstrations_dropped: How many demonstrations were left out.
        description_dropped: Whether the description was left out.
        item_cut: Whether the test item lost its start (``cut_item_start``).
        skipped: Whether the example is not scored (``skip``).
    """

    text: str
    ids: tuple[int, ...]
    demonstrations_dropped: int = 0
    description_dropped: bool = False
    item_cut: bool = False
    skipped: bool = False

    @property
    def truncated(self) -> bool:
        """Whether anything at all was left out of the full prompt."""
        return bool(
            self.demonstrations_dropped or self.description_dropped or self.item_cut or self.skipped
        )

    @property
    def truncation(self) -> str:
        """The most severe truncation step taken.

        One of ``none``, ``demonstrations``, ``description``, ``item_cut`` or ``skipped``.
        """
        if self.skipped:
            return "skipped"
        if self.item_cut:
            return "item_cut"
        if self.description_dropped:
            return "description"
        return "demonstrations" if self.demonstrations_dropped else "none"


def fit_prompt(
    parts: TemplateParts,
    fields: Mapping[str, str],
    encode: Callable[[str], Sequence[int]],
    max_length: int,
    overflow: str = "cut_item_start",
) -> FittedPrompt:
    """Encodes an example's prompt within ``max_length`` tokens (EOS included).

    Applies the truncation policy of the module docstring: drop whole
    demonstrations earliest first, then the description, and only then deal
    with the test item by ``overflow``. Every candidate is tokenized in full,
    so the check is exact for any tokenizer.

    Args:
        parts: The task's template parts.
        fields: The example's columns.
        encode: Text -> token ids (without EOS), e.g. ``vocabulary.encode``.
        max_length: The encoder length.
        overflow: ``"cut_item_start"`` or ``"skip"``.

    Returns:
        The fitted prompt.

    Raises:
        ValueError: For an unknown ``overflow`` or a ``max_length`` below 2.
    """
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, got {overflow!r}")
    if max_length < 2:
        raise ValueError(f"max_length must be at least 2, got {max_length}")

    def encoded(text: str) -> list[int]:
        return [*encode(text), EOS_ID]

    n_demos = len(parts.demonstrations)
    candidates = [(drop, True) for drop in range(n_demos + 1)]
    if parts.description:
        candidates.append((n_demos, False))
    text, ids = "", []
    for drop, keep_description in candidates:
        text = parts.render(fields, drop, keep_description)
        ids = encoded(text)
        if len(ids) <= max_length:
            return FittedPrompt(text, tuple(ids), drop, not keep_description)
    # Only the test item is left, and it does not fit.
    description_dropped = bool(parts.description)
    if overflow == "skip":
        return FittedPrompt(text, (), n_demos, description_dropped, skipped=True)
    return FittedPrompt(text, tuple(ids[-max_length:]), n_demos, description_dropped, item_cut=True)


#: The truncation policy, as every report states it.
TRUNCATION_POLICY = (
    "prompts longer than the encoder input lose whole few-shot demonstrations, earliest first, "
    "then the task description; the test item is never cut while anything else is left. A test "
    "item that alone does not fit is {overflow}."
)
_OVERFLOW_TEXT = {
    "cut_item_start": "cut from its start (its question and answer cue are kept) and counted as "
    "item_cut",
    "skip": "not scored and counted as skipped",
}


def truncation_policy(overflow: str = "cut_item_start") -> str:
    """The truncation policy in words, for reports."""
    return TRUNCATION_POLICY.format(overflow=_OVERFLOW_TEXT[overflow])
