"""Text normalisation and tokens: the one definition every quality filter shares.

Every filter sees text the same way, so that "a word" and "a duplicate" mean
the same thing in the length filter and the deduplicator (the decontamination
check cuts Chinese into words instead, see :mod:`flawn.quality.units`):

* **normalised text**: Unicode NFKC, case-folded, runs of whitespace collapsed
  to one space, stripped;
* **tokens** of normalised text: each run of letters and digits is one token,
  and each CJK character (Han, kana, Hangul) is a token of its own, since
  Chinese and Japanese do not separate words by spaces. Punctuation and
  symbols are not tokens.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Han (incl. extension A and compatibility), kana, Hangul syllables.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}_]+")
_SPACE = re.compile(r"\s+")


# CJK and full-width punctuation (never part of a token). Chinese text is rarely in NFKC only
# because of it, and blanking it first is five times cheaper than normalising the text.
_WIDE_PUNCTUATION = re.compile(
    "["
    + "".join(
        re.escape(chr(cp))
        for start, end in ((0x3000, 0x303F), (0xFF01, 0xFF20), (0xFF3B, 0xFF40), (0xFF5B, 0xFF65))
        for cp in range(start, end + 1)
        if not re.match(r"\w", chr(cp))
    )
    + "]"
)


def _nfkc(text: str) -> str:
    # The check is much cheaper than normalising, and most text is already in NFKC.
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text
    text = _WIDE_PUNCTUATION.sub(" ", text)
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def normalize(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed and stripped."""
    return _SPACE.sub(" ", _nfkc(text).casefold()).strip()


_ASCII_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """The tokens of ``text`` after :func:`normalize` (see the module docstring)."""
    if text.isascii():  # the same tokens, twice as fast as the Unicode pattern
        return _ASCII_TOKEN.findall(text.lower())
    return _TOKEN.findall(_nfkc(text).casefold())


def is_cjk_token(token: str) -> bool:
    """Whether a token is a single CJK character."""
    return len(token) == 1 and bool(re.match(rf"[{_CJK}]", token))


def content_key(*parts: str | list[str]) -> bytes:
    """A 16-byte digest of the parts' tokens, the parts kept apart by a separator.

    Two examples get the same key exactly when their prompts have the same
    tokens and so do their answers: case, punctuation, whitespace and Unicode
    width do not make two examples different. That is what an exact duplicate
    means here. A part may be given as its (already computed) token list.
    """
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        tokens = tokenize(part) if isinstance(part, str) else part
        digest.update(" ".join(tokens).encode("utf-8"))
        digest.update(b"\x1f")
    return digest.digest()
