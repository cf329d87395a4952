"""The length filter: bounds on words and characters of prompt and answer."""

from __future__ import annotations

from flawn.quality.config import LengthConfig


class LengthFilter:
    """Judges examples against a :class:`~flawn.quality.config.LengthConfig`.

    The reason for a removal is the first bound violated, in the order of the
    config's fields (``min_words``, ``max_words``, ``min_prompt_words``, ...).
    """

    def __init__(self, config: LengthConfig):
        self.config = config
        # Only the bounds that are set are checked, in field order.
        self._checks = [
            (name, value)
            for name, value in (
                ("min_words", config.min_words),
                ("max_words", config.max_words),
                ("min_prompt_words", config.min_prompt_words),
                ("max_prompt_words", config.max_prompt_words),
                ("min_answer_words", config.min_answer_words),
                ("max_answer_words", config.max_answer_words),
                ("min_chars", config.min_chars),
                ("max_chars", config.max_chars),
            )
            if value is not None
        ]

    @staticmethod
    def _measure(example, what: str) -> int:
        if what == "words":
            return len(example.prompt_tokens) + len(example.answer_tokens)
        if what == "prompt_words":
            return len(example.prompt_tokens)
        if what == "answer_words":
            return len(example.answer_tokens)
        return len(example.prompt) + len(example.answer)

    def __call__(self, example) -> str | None:
        """``None`` to keep the example, else the name of the bound it violates."""
        for name, bound in self._checks:
            size = self._measure(example, name[4:])
            if (name.startswith("min_") and size < bound) or (
                name.startswith("max_") and size > bound
            ):
                return name
        return None
