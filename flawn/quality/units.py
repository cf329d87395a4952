"""The units decontamination counts n-grams in: words, with Chinese text segmented by jieba.

:func:`flawn.quality.text.tokenize` makes each CJK character a token, which
suits length bounds and duplicate shingles but not benchmark overlap: a
13-character window of Chinese legal text is about six words, short enough
that stock statutory phrases (``处三年以下有期徒刑或者拘役``) match hundreds of
unrelated LawBench items. Here a run of Han characters is cut into words by
jieba instead, so a 13-gram is 13 words in English and in Chinese alike
(about 20 to 25 characters of Chinese).

Text is normalised as everywhere (:func:`flawn.quality.text.normalize`);
punctuation and whitespace end a run, and each run is segmented on its own,
with jieba's dictionary only (no HMM guessing of unknown words). The words of
a run therefore depend on the run alone, so text copied from a benchmark
item is cut the same way wherever it is pasted, except for the partial runs
at the ends of the copied span. Kana and Hangul stay one token per character
(jieba segments Chinese only).
"""

from __future__ import annotations

import functools
import logging
import re

from flawn.quality.text import _CJK, _nfkc

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A run of Han characters, a single other CJK character, or a run of letters and digits.
_UNIT = re.compile(rf"[{_HAN}]+|[{_CJK}]|[^\W{_CJK}_]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_HAN_CHAR = re.compile(rf"[{_HAN}]")


@functools.cache
def _tokenizer():
    import jieba

    # jieba logs the loading of its dictionary at INFO on every first use.
    jieba.setLogLevel(logging.WARNING)
    # A tokenizer of our own: words added to jieba's global one elsewhere (LawBench's
    # scorers use it) must not change which n-grams a benchmark item has.
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


@functools.lru_cache(maxsize=1 << 18)
def _segment(run: str) -> tuple[str, ...]:
    # Benchmark prompts and training corpora repeat many clauses (instructions, statute
    # text, court boilerplate): the cache makes segmenting them again free.
    return tuple(word for word in _tokenizer().cut(run, HMM=False) if word.strip())


def units(text: str) -> list[str]:
    """The decontamination units of ``text`` (see the module docstring).

    Returns:
        Lower-cased words of letters and digits, jieba words of Han text, and
        single kana or Hangul characters, in text order.
    """
    if text.isascii():
        return _ASCII_WORD.findall(text.lower())
    found: list[str] = []
    for match in _UNIT.finditer(_nfkc(text).casefold()):
        piece = match.group()
        if len(piece) > 1 and _HAN_CHAR.match(piece):
            found.extend(_segment(piece))
        else:
            found.append(piece)
    return found
