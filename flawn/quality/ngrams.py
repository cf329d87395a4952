"""An index of benchmark n-grams, queried a batch of training examples at a time.

Tokens are those of :mod:`flawn.quality.text` (words; single CJK characters).
Each benchmark token gets a 63-bit value from a stable hash; a window of
tokens hashes to the polynomial ``sum(value[i] * B**(L-1-i))`` modulo 2**64,
computed for all windows of a batch at once with numpy. A training token that
occurs in no benchmark item has value 0 and no window containing it is looked
up, which is what keeps the check cheap. Matches are not re-verified: with
64-bit hashes a chance match has odds of about 1e-11 per training n-gram.

Indexed windows of one text:

* every ``ngram``-token window of a text with at least ``ngram`` tokens;
* the whole text when it has fewer than ``ngram`` but at least ``min_tokens``
  tokens (so short LegalBench items still count when copied verbatim);
* nothing for shorter texts (answers such as ``Yes``).

Windows found in at least ``template_share`` of a task's items (and at least
``template_min_items`` of them) are the task's template, not item content,
and are dropped (see :class:`~flawn.quality.config.DecontaminationConfig`).
"""

from __future__ import annotations

import collections
import hashlib
import itertools
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from flawn.quality.benchmarks import BenchmarkItem
from flawn.quality.text import tokenize

_BASE = np.uint64(0x9E3779B97F4A7C15)
_MASK63 = (1 << 63) - 1


def _token_value(token: str) -> int:
    value = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "big")
    return (value & _MASK63) or 1  # 0 marks "in no benchmark item"


def window_hashes(values: np.ndarray, length: int) -> np.ndarray:
    """Polynomial hashes of every ``length``-token window of ``values`` (uint64, wrapping).

    Returns:
        ``len(values) - length + 1`` hashes (none if ``values`` is shorter).
    """
    count = len(values) - length + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    hashes = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(length):
            hashes = hashes * _BASE + values[offset : offset + count]
    return hashes


class NgramIndex:
    """Benchmark n-grams -> the items they occur in.

    Attributes:
        items: The indexed items; matches refer to positions in this list.
        ngram: Tokens per n-gram.
        min_tokens: Shortest text matched as a whole.
        template_dropped: Per ``benchmark/task``, the distinct windows dropped as template.
        unchecked_items: Per ``benchmark/task``, items with no window at all
            (every text shorter than ``min_tokens``).
    """

    def __init__(
        self,
        items: Sequence[BenchmarkItem],
        ngram: int = 13,
        min_tokens: int = 8,
        template_share: float = 0.5,
        template_min_items: int = 3,
        progress: bool = True,
    ):
        self.items = list(items)
        self.ngram = ngram
        self.min_tokens = min_tokens
        self._values: dict[str, int] = {}
        # length -> (sorted hashes, item index of each)
        self._tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.template_dropped: collections.Counter = collections.Counter()
        self.unchecked_items: collections.Counter = collections.Counter()

        per_task: dict[str, list[int]] = {}
        for index, item in enumerate(self.items):
            per_task.setdefault(f"{item.benchmark}/{item.task}", []).append(index)
        rows: dict[int, list[tuple[np.ndarray, np.ndarray]]] = collections.defaultdict(list)
        for task, indices in tqdm(
            per_task.items(), desc="indexing benchmark n-grams", unit="task", disable=not progress
        ):
            task_rows = collections.defaultdict(list)
            for index in indices:
                windows = self._item_windows(self.items[index])
                if not windows:
                    self.unchecked_items[task] += 1
                for length, hashes in windows.items():
                    task_rows[length].append((hashes, np.full(len(hashes), index, np.int32)))
            for length, parts in task_rows.items():
                hashes = np.concatenate([h for h, _ in parts])
                owners = np.concatenate([o for _, o in parts])
                # Each item's windows are distinct, so a hash's count is its number of items.
                unique, counts = np.unique(hashes, return_counts=True)
                template = unique[
                    (counts >= template_min_items) & (counts >= template_share * len(indices))
                ]
                self.template_dropped[task] += len(template)
                keep = ~np.isin(hashes, template)
                rows[length].append((hashes[keep], owners[keep]))
        for length, parts in rows.items():
            hashes = np.concatenate([h for h, _ in parts])
            owners = np.concatenate([o for _, o in parts])
            order = np.argsort(hashes, kind="stable")
            self._tables[length] = (hashes[order], owners[order])

    def _value(self, token: str) -> int:
        value = self._values.get(token)
        if value is None:
            value = self._values[token] = _token_value(token)
        return value

    def _item_windows(self, item: BenchmarkItem) -> dict[int, np.ndarray]:
        windows: dict[int, list[np.ndarray]] = collections.defaultdict(list)
        for text in item.texts:
            tokens = tokenize(text)
            if len(tokens) < self.min_tokens:
                continue
            found = list(map(self._values.get, tokens))
            for position, value in enumerate(found):
                if value is None:
                    found[position] = self._value(tokens[position])
            values = np.array(found, dtype=np.uint64)
            length = min(len(tokens), self.ngram)
            windows[length].append(np.unique(window_hashes(values, length)))
        return {length: np.unique(np.concatenate(parts)) for length, parts in windows.items()}

    @property
    def size(self) -> int:
        """Indexed (window, item) pairs."""
        return sum(len(hashes) for hashes, _ in self._tables.values())

    def query(self, token_lists: Sequence[Sequence[str]]) -> list[set[int]]:
        """The items each token list shares a window with.

        Args:
            token_lists: Tokens of each training example of a batch.

        Returns:
            One set of item indices (into :attr:`items`) per token list.
        """
        found: list[set[int]] = [set() for _ in token_lists]
        if not self._tables or not token_lists:
            return found
        get = self._values.get
        lengths = [len(tokens) for tokens in token_lists]
        flat = list(map(get, itertools.chain.from_iterable(token_lists), itertools.repeat(0)))
        values = np.array(flat, dtype=np.uint64)
        if not values.size:
            return found
        owner = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths)
        unknown = np.concatenate([[0], np.cumsum(values == 0)])
        for length, (hashes, items) in self._tables.items():
            if len(values) < length:
                continue
            window = window_hashes(values, length)
            starts = np.arange(len(window))
            valid = (owner[starts] == owner[starts + length - 1]) & (
                unknown[starts + length] == unknown[starts]
            )
            starts, window = starts[valid], window[valid]
            if not len(window):
                continue
            left = np.searchsorted(hashes, window, side="left")
            hit = left < len(hashes)
            hit[hit] = hashes[left[hit]] == window[hit]
            if not hit.any():
                continue
            right = np.searchsorted(hashes, window[hit], side="right")
            for doc, lo, hi in zip(owner[starts[hit]], left[hit], right, strict=True):
                found[doc].update(items[lo:hi].tolist())
        return found
