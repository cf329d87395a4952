"""Exact and near-duplicate removal, keeping the first occurrence.

"First" is the order examples reach the filter: sources in mixture order,
records in file order (see :func:`flawn.quality.sources.mixture_sources`).

* Exact: two examples are duplicates when their prompts have the same tokens
  and so do their answers (:func:`flawn.quality.text.content_key`): case,
  punctuation, whitespace and Unicode width aside.
* Near: MinHash over word shingles (``shingle`` consecutive tokens) with
  seeded permutations, indexed by LSH bands; an LSH candidate is confirmed
  only when the MinHash estimate of the Jaccard similarity with a kept
  example reaches the threshold, so a removal always names a kept twin.
  MinHash and LSH are ``rensa``'s (Rust): on the 2-core project machine it
  sketched and indexed about 4x more examples per second than ``datasketch``
  (``bench/data_clean.py``).
"""

from __future__ import annotations

import array
import functools

import numpy as np

from flawn.errors import FlawnError
from flawn.quality.config import DedupConfig


@functools.cache
def lsh_bands(threshold: float, num_perm: int) -> int:
    """The number of LSH bands for a Jaccard threshold.

    Among the divisors ``b`` of ``num_perm`` (``r = num_perm / b`` rows per
    band), the one minimising ``0.1 * false-positive area + 0.9 *
    false-negative area``: the candidate probability ``1 - (1 - s^r)^b``
    integrated below the threshold, and its complement integrated above it.
    Candidates are verified against the threshold, so a false positive costs
    only one similarity estimate while a false negative is a duplicate kept;
    hence the weights (for 0.8 and 128 permutations: 16 bands of 8 rows).

    Raises:
        ValueError: If ``num_perm`` has no divisor of at least 2.
    """
    similarity = np.linspace(0.0, 1.0, 2001)
    best, best_error = None, float("inf")
    for bands in range(2, num_perm + 1):
        if num_perm % bands:
            continue
        rows = num_perm // bands
        candidate = 1.0 - (1.0 - similarity**rows) ** bands
        below = similarity <= threshold
        error = 0.1 * np.trapezoid(candidate[below], similarity[below]) + 0.9 * np.trapezoid(
            1.0 - candidate[~below], similarity[~below]
        )
        if error < best_error:
            best, best_error = bands, error
    if best is None:
        raise ValueError(f"num_perm={num_perm} has no divisor >= 2 to make LSH bands")
    return best


def shingles(tokens: list[str], size: int) -> list[str]:
    """The ``size``-token shingles of a token list; a shorter list is one shingle."""
    if len(tokens) <= size:
        return [" ".join(tokens)]
    # zip over shifted views (it stops at the shortest): twice as fast as joining slices.
    return list(map(" ".join, zip(*(tokens[i:] for i in range(size)), strict=False)))


class ExactDeduplicator:
    """Removes examples whose :attr:`~flawn.quality.example.Example.key` was seen before.

    Attributes:
        last_twin_source: Source index of the kept twin of the last removed example.
    """

    def __init__(self):
        self._first_source: dict[bytes, int] = {}
        self.last_twin_source = -1

    def __call__(self, example) -> str | None:
        """``None`` to keep the example, else ``exact_duplicate``."""
        twin = self._first_source.get(example.key)
        if twin is None:
            self._first_source[example.key] = example.source
            return None
        self.last_twin_source = twin
        return "exact_duplicate"


class NearDeduplicator:
    """Removes examples at least ``threshold`` similar to a kept one (MinHash LSH).

    Attributes:
        config: The settings.
        bands: LSH bands used.
        last_twin_source: Source index of the kept twin of the last removed example.
        last_similarity: Estimated Jaccard similarity with that twin.
    """

    def __init__(self, config: DedupConfig):
        try:
            from rensa import RMinHash, RMinHashLSH
        except ImportError as err:
            raise FlawnError(
                "near-duplicate removal needs rensa; install it with `pip install rensa==0.5.0`"
            ) from err
        self.config = config
        self.bands = config.bands or lsh_bands(config.threshold, config.num_perm)
        self._minhash = RMinHash
        self._index = RMinHashLSH(config.threshold, config.num_perm, self.bands)
        self._kept: list = []
        self._sources = array.array("i")
        self.last_twin_source = -1
        self.last_similarity = 0.0

    def sketch(self, tokens: list[str]):
        """The MinHash of a token list's shingles."""
        minhash = self._minhash(self.config.num_perm, self.config.seed)
        minhash.update(shingles(tokens, self.config.shingle))
        return minhash

    def __call__(self, example) -> str | None:
        """``None`` to keep the example, else ``near_duplicate``."""
        tokens = example.tokens
        if not tokens:  # no words: similarity is undefined, leave it to the exact check
            return None
        minhash = self.sketch(tokens)
        # Sorted keys: the earliest kept twin is named, whatever order the index returns.
        for key in sorted(self._index.query(minhash)):
            similarity = minhash.jaccard(self._kept[key])
            if similarity >= self.config.threshold:
                self.last_twin_source = self._sources[key]
                self.last_similarity = similarity
                return "near_duplicate"
        self._index.insert(len(self._kept), minhash)
        self._kept.append(minhash)
        self._sources.append(example.source)
        return None
