"""An index of benchmark n-grams, queried a batch of training examples at a time.

Tokens are the units of :mod:`flawn.quality.units` (words; Chinese cut into
words by jieba). Each benchmark token gets a 63-bit value from a stable hash;
a window of tokens hashes to the polynomial ``sum(value[i] * B**(L-1-i))``
modulo 2**64, computed for all windows of a batch at once with numpy. A
training token that occurs in no benchmark item has value 0 and no window
containing it is looked up, which is what keeps the check cheap. Matches are
not re-verified: with 64-bit hashes a chance match has odds of about 1e-11
per training n-gram.

Indexed windows of one text:

* every ``ngram``-token window of a text with at least ``ngram`` tokens;
* the whole text when it has fewer than ``ngram`` but at least ``min_tokens``
  tokens (so short LegalBench items still count when copied verbatim);
* nothing for shorter texts (answers such as ``Yes``).

Two kinds of window say nothing about which item a training example copied,
and are dropped:

* **template**: found in at least ``template_share`` of one task's items (and
  in at least ``template_min_items`` of them), e.g. LawBench's instruction;
* **stop list**: found in more than ``stop_texts`` distinct texts of all
  benchmarks together, e.g. a statute that many LawBench items quote, or a
  stock governing-law clause of LegalBench's contract tasks. Texts, not
  items, are counted: LegalBench labels one supply-chain statement for ten
  tasks, and that statement is one text, not stock phrasing.

:meth:`NgramIndex.shared` counts, per training example and item, the distinct
windows they share; :attr:`NgramIndex.item_ngrams` is each item's number of
windows, so that a caller can judge by count and by coverage
(:class:`~flawn.quality.contamination.Decontaminator`).
"""

from __future__ import annotations

import collections
import hashlib
import itertools
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from flawn.quality.benchmarks import BenchmarkItem
from flawn.quality.units import units

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


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``[lo[i], hi[i])``: every position in them, and the range each came from."""
    sizes = hi - lo
    which = np.repeat(np.arange(len(lo)), sizes)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return lo[which] + np.arange(which.size) - starts, which


class NgramIndex:
    """Benchmark n-grams -> the items they occur in.

    Attributes:
        items: The indexed items; matches refer to positions in this list.
        ngram: Tokens per n-gram.
        min_tokens: Shortest text matched as a whole.
        stop_texts: An n-gram in more distinct benchmark texts than this (all
            tasks together) is not indexed (``None``: no stop list).
        item_ngrams: Per item, its distinct indexed windows (template and
            stop-listed ones left out).
        template_dropped: Per ``benchmark/task``, the distinct windows dropped as template.
        stop_dropped: Per ``benchmark/task``, the (window, item) pairs of its
            items dropped by the stop list.
        stop_list: The number of distinct stop-listed windows.
        unchecked_items: Per ``benchmark/task``, items with no window at all
            (every text shorter than ``min_tokens``).
        stoplisted_items: Per ``benchmark/task``, items that had windows but
            whose every window is template or stop-listed (nothing left to match).
    """

    def __init__(
        self,
        items: Sequence[BenchmarkItem],
        ngram: int = 13,
        min_tokens: int = 8,
        template_share: float = 0.5,
        template_min_items: int = 3,
        stop_texts: int | None = None,
        progress: bool = True,
    ):
        self.items = list(items)
        self.ngram = ngram
        self.min_tokens = min_tokens
        self.stop_texts = stop_texts
        self._values: dict[str, int] = {}
        # length -> (sorted hashes, item index of each)
        self._tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.template_dropped: collections.Counter = collections.Counter()
        self.stop_dropped: collections.Counter = collections.Counter()
        self.unchecked_items: collections.Counter = collections.Counter()
        self.stoplisted_items: collections.Counter = collections.Counter()
        self.stop_list = 0

        # Windows of each distinct text (by its units), for the stop list: a passage that
        # several items reuse verbatim (one statement labelled for ten tasks) counts once.
        self._seen_texts: set[int] = set()
        self._distinct: dict[int, list[np.ndarray]] = collections.defaultdict(list)
        per_task: dict[str, list[int]] = {}
        for index in range(len(self.items)):
            per_task.setdefault(self._task(index), []).append(index)
        rows: dict[int, list[tuple[np.ndarray, np.ndarray]]] = collections.defaultdict(list)
        had_windows = np.zeros(len(self.items), dtype=bool)
        for task, indices in tqdm(
            per_task.items(), desc="indexing benchmark n-grams", unit="task", disable=not progress
        ):
            task_rows = collections.defaultdict(list)
            for index in indices:
                windows = self._item_windows(self.items[index])
                if not windows:
                    self.unchecked_items[task] += 1
                had_windows[index] = bool(windows)
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
        item_ngrams = np.zeros(len(self.items), dtype=np.int64)
        for length, parts in rows.items():
            hashes = np.concatenate([h for h, _ in parts])
            owners = np.concatenate([o for _, o in parts])
            if stop_texts is not None and len(hashes):
                unique, counts = np.unique(
                    np.concatenate(self._distinct[length]), return_counts=True
                )
                stop_list = unique[counts > stop_texts]
                self.stop_list += len(stop_list)
                stop = np.isin(hashes, stop_list)
                self.stop_dropped.update(self._task(int(i)) for i in owners[stop])
                hashes, owners = hashes[~stop], owners[~stop]
            order = np.argsort(hashes, kind="stable")
            self._tables[length] = (hashes[order], owners[order])
            item_ngrams += np.bincount(owners, minlength=len(self.items))
        del self._distinct, self._seen_texts
        self.item_ngrams = item_ngrams
        for index in np.flatnonzero(had_windows & (item_ngrams == 0)):
            self.stoplisted_items[self._task(int(index))] += 1

    def _task(self, index: int) -> str:
        item = self.items[index]
        return f"{item.benchmark}/{item.task}"

    def _value(self, token: str) -> int:
        value = self._values.get(token)
        if value is None:
            value = self._values[token] = _token_value(token)
        return value

    def _item_windows(self, item: BenchmarkItem) -> dict[int, np.ndarray]:
        windows: dict[int, list[np.ndarray]] = collections.defaultdict(list)
        for text in item.texts:
            tokens = units(text)
            if len(tokens) < self.min_tokens:
                continue
            found = list(map(self._values.get, tokens))
            for position, value in enumerate(found):
                if value is None:
                    found[position] = self._value(tokens[position])
            values = np.array(found, dtype=np.uint64)
            length = min(len(tokens), self.ngram)
            hashes = np.unique(window_hashes(values, length))
            windows[length].append(hashes)
            key = hash(tuple(tokens))
            if key not in self._seen_texts:
                self._seen_texts.add(key)
                self._distinct[length].append(hashes)
        return {length: np.unique(np.concatenate(parts)) for length, parts in windows.items()}

    @property
    def size(self) -> int:
        """Indexed (window, item) pairs."""
        return sum(len(hashes) for hashes, _ in self._tables.values())

    def shared(self, token_lists: Sequence[Sequence[str]]) -> list[dict[int, int]]:
        """Per token list, the items it shares windows with and how many distinct windows.

        Args:
            token_lists: Units (:func:`flawn.quality.units.units`) of each
                training example of a batch.

        Returns:
            One ``{item index: distinct shared windows}`` per token list (item
            indices into :attr:`items`).
        """
        found: list[collections.Counter] = [collections.Counter() for _ in token_lists]
        if not self._tables or not token_lists:
            return [dict(c) for c in found]
        get = self._values.get
        lengths = [len(tokens) for tokens in token_lists]
        flat = list(map(get, itertools.chain.from_iterable(token_lists), itertools.repeat(0)))
        values = np.array(flat, dtype=np.uint64)
        if not values.size:
            return [dict(c) for c in found]
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
            positions, which = _expand(left[hit], right)
            docs = owner[starts[hit]][which]
            # A window repeated in one example counts once: (example, table row) pairs.
            pairs = np.unique(docs * len(hashes) + positions)
            docs, rows = pairs // len(hashes), pairs % len(hashes)
            keys, counts = np.unique(docs * len(self.items) + items[rows], return_counts=True)
            for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
                found[key // len(self.items)][key % len(self.items)] += count
        return [dict(c) for c in found]
