"""Character-level ChERRANT: the F0.5 that LawBench reports for document proofreading (2-1).

LawBench scores task 2-1 with ChERRANT, the Chinese port of ERRANT. For each
item the source sentence, the model's correction and the gold correction are
split into characters; each correction is aligned to the source with a
weighted edit distance; the alignment becomes span edits in M2 form; and the
model's edits are compared with the gold edits, counted over the whole corpus,
as an F0.5. Upstream shells out to two scripts that write M2 files; this
module runs the same steps in process and keeps every rule that moves the
number:

* all whitespace is removed from each sentence, and the two corrections (not
  the source) go through OpenCC's traditional-to-simplified conversion;
* a substitution costs ``Cilin class distance / 6`` + ``0`` for characters
  that share a pinyin reading or a confusion set (``0.5`` otherwise, and for
  any non-CJK token) + ``0``, ``0.25`` or ``0.499`` for punctuation/punctuation,
  other/other and mixed pairs; insertions and deletions cost 1; a block of
  ``k + 1`` tokens that is a permutation costs ``k``;
* every cheapest alignment is expanded (only the first one when the lengths
  differ by more than 10 tokens) and every distinct edit list it yields is
  written under annotator 0, so an edit that several cheapest alignments share
  is counted once per alignment, for the model and for the gold alike;
* a correction equal to the source, or the text ``没有错误``, has no edits; a
  gold ``无法标注`` makes the item unannotatable and it counts nothing;
* a correction that is empty once whitespace is removed is replaced by ``无``,
  as upstream does for any item whose annotation fails;
* the corpus F0.5 is rounded to 4 decimals.

Upstream also replaces a correction by ``无`` when annotating it takes more
than 10 seconds of wall-clock time, and the official 2-1 numbers depend on
it: a rambling model output can have billions of cheapest alignments, which
upstream walks one by one. No deterministic program can reproduce a clock, so
flawn estimates upstream's time from the work its loops do (table cells,
transposition look-back steps and alignments walked, each weighted by its
measured cost) and falls back to ``无`` above :data:`WORK_LIMIT`. The weights
were fitted to upstream's own CPU times on the 2,000 official sentence pairs,
and the limit sits where the official results put it: between the slowest
output upstream finished and the fastest it gave up on (on the machine the
weights were measured on, 6.0 and 6.5 seconds of estimated CPU time). With it
both official 2-1 numbers are reproduced; ``work_limit=None`` scores every
output in full, which is machine-independent and what
``CORRECTED_SCORERS["2-1"]`` does. A limited :func:`score_corpus` also
reports the full-annotation F0.5 (:attr:`ChERRANTResult.full_annotation_f05`),
annotating again, without the limit, only the items it replaced.

flawn itself never walks alignments one by one: it enumerates the distinct
sequences of merged spans, which are few (the 10**12 alignments of one
official output collapse to 3), so either setting takes seconds.

The Cilin thesaurus and the confusion sets ship in ``data/`` (see
``data/NOTICE.md``); the pinyin readings come from ``pypinyin`` and the
conversion from ``OpenCC``, at the versions LawBench pins.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import gzip
import itertools
import math
import pathlib
import string
from collections.abc import Iterator, Sequence

from flawn.errors import FlawnError

_DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"

#: Estimated nanoseconds of upstream's annotation of one sentence pair above which
#: the correction is treated as timed out and replaced by ``无`` (see the module
#: docstring); calibrated so that the official 2-1 results are reproduced.
WORK_LIMIT = 6_263_000_000
#: Measured cost of upstream's loops, in nanoseconds: one table cell; one token of
#: one transposition look-back step (each step rebuilds both token lists); one
#: token of one alignment walked (its depth-first search, merge and comparison).
NS_PER_CELL, NS_PER_LOOKBACK_TOKEN, NS_PER_ALIGNMENT_TOKEN = 7_500, 30, 370

#: The token ChERRANT keeps whole when splitting into characters.
MISSING_COMPONENT = "[缺失成分]"
#: A correction that means "the sentence has no error".
NO_ERROR = "没有错误"
#: A gold correction that means "this item cannot be annotated".
NOT_ANNOTATABLE = "无法标注"
#: What a correction becomes when its annotation fails or times out upstream.
FALLBACK_CORRECTION = "无"

# The two punctuation strings ChERRANT tests against. They differ (the aligner's
# lacks '.', the merger's lacks '〰〾〿﹏'), neither holds '。' or '《', and the
# merger tests whole spans as substrings, so they are kept verbatim, in order.
_ALIGN_PUNCTUATION = (
    "！？｡＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛"
    "〜〝〞〟〰〾〿–—‘'‛“”„‟…‧﹏" + string.punctuation
)
_MERGE_PUNCTUATION = string.punctuation + (
    "！？｡＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛"
    "〜〝〞〟–—‘'‛“”„‟…‧."
)

_INF = float("inf")

#: One alignment step or edit: (operation, src_start, src_end, tgt_start, tgt_end).
Step = tuple[str, int, int, int, int]
#: Edits of one sentence keyed by (start, end, correction), with their categories.
EditTable = dict[tuple[int, int, str], list[str]]


class AlignmentBudgetExceeded(Exception):
    """Annotating one sentence pair would take upstream longer than its time limit."""


@functools.cache
def _cilin_classes() -> dict[str, tuple[str, str, str]]:
    """Word -> (major, middle, minor) semantic class from the Cilin thesaurus.

    A word listed under several codes keeps the last one, as upstream reads it.
    """
    with gzip.open(_DATA_DIR / "cilin.txt.gz", "rt", encoding="gbk") as f:
        text = f.read()
    classes: dict[str, tuple[str, str, str]] = {}
    for line in text.strip().split("\n"):
        code, *words = line.split(" ")
        for word in words:
            classes[word] = (code[0], code[1], code[2:4])
    return classes


@functools.cache
def _confusion_sets() -> dict[str, frozenset[str]]:
    """Character -> the characters it is commonly confused with."""
    sets: dict[str, frozenset[str]] = {}
    with gzip.open(_DATA_DIR / "confusion_dict.txt.gz", "rt", encoding="utf-8") as f:
        for line in f:
            key, *values = line.rstrip("\n").split(" ")
            sets[key] = frozenset(values)
    return sets


@functools.cache
def _simplifier():
    import opencc

    return opencc.OpenCC("t2s")


@functools.lru_cache(maxsize=65536)
def _readings(token: str) -> frozenset[str]:
    """The token's toneless pinyin readings (all of them, for heteronyms)."""
    from pypinyin import Style, pinyin

    return frozenset(pinyin(token, style=Style.NORMAL, heteronym=True)[0])


def _all_cjk(token: str) -> bool:
    return all("\u4e00" <= ch <= "\u9fff" for ch in token)


@dataclasses.dataclass(frozen=True)
class _TokenInfo:
    """What the substitution cost needs to know about one token."""

    semantic_class: tuple[str, str, str] | None
    punctuation: bool
    cjk: bool
    readings: frozenset[str]
    confusable: frozenset[str]


@functools.lru_cache(maxsize=65536)
def _token_info(token: str) -> _TokenInfo:
    cjk = _all_cjk(token)
    return _TokenInfo(
        semantic_class=_cilin_classes().get(token),
        # A substring test, as upstream's `token in punct`.
        punctuation=token in _ALIGN_PUNCTUATION,
        cjk=cjk,
        readings=_readings(token) if cjk else frozenset(),
        confusable=_confusion_sets().get(token, frozenset()) if cjk else frozenset(),
    )


def _substitution_costs(sources: Sequence[str], targets: Sequence[str]):
    """Costs of replacing each token of ``sources`` by each (different) token of ``targets``.

    ``Cilin distance / 6 + character cost + punctuation cost``, summed in
    upstream's order so that ties between alignments break the same way:

    * Cilin: 0 for the same class, ``2 * (3 - shared levels)`` otherwise, 4
      when either token is not in the thesaurus;
    * character: 0 for CJK characters that share a pinyin reading or are in
      each other's confusion set, 0.5 otherwise and for any non-CJK token
      (CJK tokens are single characters: the only multi-character token,
      ``[缺失成分]``, is not CJK);
    * punctuation: 0 if both are punctuation, 0.25 if neither is, 0.499 if one is.

    Returns:
        A float64 array of shape ``(len(sources), len(targets))``; entries for
        equal tokens are meaningless (equal tokens match at no cost).
    """
    import numpy as np

    src_info = [_token_info(t) for t in sources]
    tgt_info = [_token_info(t) for t in targets]
    # Semantic classes as small integers (-1: not in the thesaurus).
    level_ids: dict[str, int] = {}

    def class_codes(infos: list[_TokenInfo]):
        return np.array(
            [
                [level_ids.setdefault(level, len(level_ids)) for level in info.semantic_class]
                if info.semantic_class is not None
                else [-1, -1, -1]
                for info in infos
            ],
            dtype=np.int64,
        ).reshape(len(infos), 3)

    src_class, tgt_class = class_codes(src_info), class_codes(tgt_info)
    shared_levels = (src_class[:, None, :] == tgt_class[None, :, :]).sum(axis=2)
    known = (src_class[:, None, 0] >= 0) & (tgt_class[None, :, 0] >= 0)
    semantic = np.where(known, np.where(shared_levels == 3, 0, 2 * (3 - shared_levels)), 4)

    related = np.zeros((len(sources), len(targets)), dtype=bool)
    target_index: dict[str, list[int]] = collections.defaultdict(list)
    for j, token in enumerate(targets):
        target_index[token].append(j)
    source_index: dict[str, list[int]] = collections.defaultdict(list)
    for i, token in enumerate(sources):
        source_index[token].append(i)
    reading_targets: dict[str, list[int]] = collections.defaultdict(list)
    for j, info in enumerate(tgt_info):
        for reading in info.readings:
            reading_targets[reading].append(j)
    for i, info in enumerate(src_info):
        if not info.cjk:
            continue
        for reading in info.readings:
            related[i, reading_targets.get(reading, [])] = True
        for token in info.confusable & target_index.keys():
            related[i, target_index[token]] = True
    for j, info in enumerate(tgt_info):
        if info.cjk:
            for token in info.confusable & source_index.keys():
                related[source_index[token], j] = True
    cjk = np.array([i.cjk for i in src_info])[:, None] & np.array([i.cjk for i in tgt_info])
    character = np.where(cjk & related, 0.0, 0.5)

    src_punct = np.array([info.punctuation for info in src_info])[:, None]
    tgt_punct = np.array([info.punctuation for info in tgt_info])[None, :]
    punctuation = np.where(
        src_punct & tgt_punct, 0.0, np.where(~src_punct & ~tgt_punct, 0.25, 0.499)
    )
    return semantic / 6.0 + character + punctuation


def _substitution_cost(a: str, b: str) -> float:
    """Cost of replacing token ``a`` by a different token ``b`` (always below 2)."""
    return float(_substitution_costs([a], [b])[0, 0])


def tokenize(sentence: str) -> list[str]:
    """Splits a whitespace-free sentence into characters, keeping ``[缺失成分]`` whole."""
    tokens: list[str] = []
    for i, piece in enumerate(sentence.split(MISSING_COMPONENT)):
        if i:
            tokens.append(MISSING_COMPONENT)
        tokens.extend(piece)
    return tokens


class _Work:
    """Upstream's estimated time for one sentence pair, in nanoseconds, against a limit.

    Upstream's time goes to three loops (see the ``NS_PER_*`` weights):
    filling the table, the transposition look-back, and walking the cheapest
    alignments. Exceeding ``limit`` raises :class:`AlignmentBudgetExceeded`.
    """

    def __init__(self, limit: int | None):
        self.limit = math.inf if limit is None else limit
        self.used = 0

    def add(self, nanoseconds: int) -> None:
        self.used += nanoseconds
        if self.used > self.limit:
            raise AlignmentBudgetExceeded(f"estimated {self.used} ns > {self.limit} ns")


def _same_sum_before(src_ids, tgt_ids):
    """For each prefix pair (a, b): the largest a' < a on its diagonal whose blocks may permute.

    Every token gets a random 64-bit value; the blocks ``src[a':a]`` and
    ``tgt[b':b]`` (with ``a - b == a' - b'``) hold the same tokens only if the
    prefix sums differ by the same amount at both ends, so the candidates are
    the earlier prefix pairs of the diagonal with an equal difference (-1 if
    none). Candidates are verified exactly before use.
    """
    import numpy as np

    n, m = len(src_ids), len(tgt_ids)
    rng = np.random.default_rng(0)
    vocab_size = int(max(src_ids.max(initial=0), tgt_ids.max(initial=0))) + 1
    values = rng.integers(0, np.iinfo(np.uint64).max, size=vocab_size, dtype=np.uint64)
    zero = np.zeros(1, dtype=np.uint64)
    ps = np.concatenate([zero, np.cumsum(values[src_ids], dtype=np.uint64)])
    pt = np.concatenate([zero, np.cumsum(values[tgt_ids], dtype=np.uint64)])
    with np.errstate(over="ignore"):
        key = (ps[:, None] - pt[None, :]).ravel()
    a = np.repeat(np.arange(n + 1), m + 1)
    diagonal = a - np.tile(np.arange(m + 1), n + 1)
    order = np.lexsort((a, key, diagonal))
    same = (diagonal[order][1:] == diagonal[order][:-1]) & (key[order][1:] == key[order][:-1])
    before = np.full((n + 1) * (m + 1), -1, dtype=np.int64)
    before[order[1:][same]] = a[order][:-1][same]
    return before.reshape(n + 1, m + 1)


_MATCH, _TRANSPOSE, _SUBSTITUTE, _INSERT, _DELETE = 16, 8, 4, 2, 1


@functools.lru_cache(maxsize=4096)
def _labels(code: int, k: int) -> tuple[str, ...]:
    """The operation names of a cell's bit code, in upstream's order (T, S, I, D)."""
    if code & _MATCH:
        return ("M",)
    names = []
    if code & _TRANSPOSE:
        names.append(f"T{k + 1}")
    if code & _SUBSTITUTE:
        names.append("S")
    if code & _INSERT:
        names.append("I")
    if code & _DELETE:
        names.append("D")
    return tuple(names)


class _Operations:
    """The cheapest operations of every cell of the table, decoded on demand."""

    def __init__(self, codes: list[list[int]], blocks: list[list[int]]):
        self.codes = codes
        self.blocks = blocks
        self.n = len(codes) - 1
        self.m = len(codes[0]) - 1

    def at(self, i: int, j: int) -> tuple[str, ...]:
        """Operation names of cell (i, j) in upstream's order (T, S, I, D), or ``("M",)``."""
        if i == 0:
            return ("I",) if j else ()
        if j == 0:
            return ("D",)
        return _labels(self.codes[i][j], self.blocks[i][j])


def _align(src: Sequence[str], tgt: Sequence[str], work: _Work) -> _Operations:
    """Fills the weighted edit-distance table; returns each cell's cheapest operations.

    The operations of a cell are listed in upstream's order: transposition,
    substitution, insertion, deletion (or a lone match). A transposition ends
    at the first (smallest) block, walking back along the diagonal only while
    the table's cost keeps changing, whose two sides hold the same tokens.
    Each row is computed with numpy except the insertion chain, which runs
    left to right in plain floats so that every value is the float upstream
    computes.
    """
    import numpy as np

    n, m = len(src), len(tgt)
    width = n + m
    work.add(NS_PER_CELL * (n + 1) * (m + 1))
    vocab: dict[str, int] = {}
    src_ids = np.array([vocab.setdefault(t, len(vocab)) for t in src], dtype=np.int64)
    tgt_ids = np.array([vocab.setdefault(t, len(vocab)) for t in tgt], dtype=np.int64)
    tokens = list(vocab)
    src_vocab, tgt_vocab = np.unique(src_ids), np.unique(tgt_ids)
    pair_cost = np.zeros((len(tokens), len(tokens)))
    pair_cost[np.ix_(src_vocab, tgt_vocab)] = _substitution_costs(
        [tokens[t] for t in src_vocab.tolist()], [tokens[t] for t in tgt_vocab.tolist()]
    )
    substitution_cost = pair_cost[src_ids[:, None], tgt_ids[None, :]]
    equal = src_ids[:, None] == tgt_ids[None, :]

    cost = np.zeros((n + 1, m + 1))
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    codes = np.zeros((n + 1, m + 1), dtype=np.int64)
    blocks = np.zeros((n + 1, m + 1), dtype=np.int64)
    # run[a, b]: how many diagonal steps back from (a, b) the cost keeps changing.
    run = np.zeros((n + 1, m + 1), dtype=np.int64)
    before = _same_sum_before(src_ids, tgt_ids)
    has_before = before[1:, 1:] >= 0
    before_lists = before.tolist()
    for i in range(n):
        above = cost[i]
        if i:
            changed = above[1:] != cost[i - 1, :-1]
            run[i, 1:] = np.where(changed, run[i - 1, :-1] + 1, 0)
        reach = run[i, :m]
        deletion = above[1:] + 1
        substitution = above[:-1] + substitution_cost[i]
        transposition = np.full(m, _INF)
        mismatch = ~equal[i]
        steps = int(reach[mismatch].sum())
        for j in np.flatnonzero(mismatch & has_before[i]).tolist():
            # Upstream walks back k = 1, 2, ... while the diagonal cost changes
            # (at most reach[j] steps) and stops at the first permuted block.
            limit = int(reach[j])
            diagonal = i - j
            start = before_lists[i + 1][j + 1]
            while start >= 0 and i - start <= limit:
                if start <= i - 1 and _is_permutation(src, tgt, start, i + 1, diagonal):
                    k = i - start
                    transposition[j] = cost[start, start - diagonal] + k
                    blocks[i + 1, j + 1] = k
                    steps += k - limit
                    break
                start = before_lists[start][start - diagonal]
        work.add(NS_PER_LOOKBACK_TOKEN * width * steps)
        candidate = np.where(
            equal[i], above[:-1], np.minimum(np.minimum(transposition, substitution), deletion)
        ).tolist()
        # The insertion chain runs left to right, in plain floats, as upstream's loop.
        matches = equal[i].tolist()
        values = [float(i + 1)]
        previous = values[0]
        for j in range(m):
            if matches[j]:
                previous = candidate[j]
            else:
                insertion = previous + 1
                previous = candidate[j] if candidate[j] <= insertion else insertion
            values.append(previous)
        row = cost[i + 1]
        row[:] = values
        best = row[1:]
        insertion = row[:-1] + 1
        code = (
            (transposition == best) * _TRANSPOSE
            + (substitution == best) * _SUBSTITUTE
            + (insertion == best) * _INSERT
            + (deletion == best) * _DELETE
        )
        codes[i + 1, 1:] = np.where(equal[i], _MATCH, code)
    return _Operations(codes.tolist(), blocks.tolist())


def _is_permutation(src: Sequence[str], tgt: Sequence[str], a: int, b: int, diagonal: int) -> bool:
    """Whether ``src[a:b]`` and the block of ``tgt`` on the same diagonal are permutations."""
    return collections.Counter(src[a:b]) == collections.Counter(tgt[a - diagonal : b - diagonal])


def _predecessor(op: str, i: int, j: int) -> tuple[int, int]:
    if op in ("M", "S"):
        return i - 1, j - 1
    if op == "D":
        return i - 1, j
    if op == "I":
        return i, j - 1
    k = int(op[1:])
    return i - k, j - k


def _choices(ops: _Operations, first_only: bool):
    if first_only:
        return lambda i, j: ops.at(i, j)[:1]
    return ops.at


def _count_alignments(ops: _Operations, first_only: bool) -> int:
    """How many cheapest alignments upstream's depth-first search walks."""
    choices = _choices(ops, first_only)
    reachable = {(ops.n, ops.m)}
    frontier = [(ops.n, ops.m)]
    while frontier:
        i, j = frontier.pop()
        for op in choices(i, j):
            cell = _predecessor(op, i, j)
            if cell not in reachable:
                reachable.add(cell)
                frontier.append(cell)
    paths = {(0, 0): 1}
    for i, j in sorted(reachable):
        if i or j:
            paths[i, j] = sum(paths[_predecessor(op, i, j)] for op in choices(i, j))
    return paths[ops.n, ops.m]


def _cheapest_alignments(ops: _Operations, first_only: bool) -> Iterator[list[Step]]:
    """Yields every cheapest alignment, in the order of upstream's depth-first search.

    With ``first_only`` only the first operation of each cell is followed, so
    there is a single alignment.
    """
    choices = _choices(ops, first_only)
    # Depth-first from the end; a partial path is a linked list (step, rest).
    stack: list[tuple[int, int, tuple | None]] = [(ops.n, ops.m, None)]
    while stack:
        i, j, path = stack.pop()
        if i + j == 0:
            steps: list[Step] = []
            while path is not None:
                step, path = path
                steps.append(step)
            yield steps
            continue
        for op in reversed(choices(i, j)):
            p, q = _predecessor(op, i, j)
            stack.append((p, q, ((op, p, i, q, j), path)))


def _grouped_alignments(ops: _Operations) -> Iterator[list[Step]]:
    """Yields the distinct grouped forms (see :func:`_group`) of all cheapest alignments.

    Walking every alignment is wasteful: the merger only sees maximal runs of
    matches (merged into one span), single transpositions, and maximal runs of
    other operations, and a run of the latter merges into one span fixed by
    its two end cells: a deletion span in one column, an insertion span in
    one row, a substitution span otherwise. (A deletion next to an insertion
    is never cheapest, since one substitution always costs less than 2, so
    such a run never stays unmerged.) So alignments are enumerated as
    sequences of these segments, each sequence once.
    """
    n, m = ops.n, ops.m
    run_ends: dict[tuple[int, int], list[tuple[int, int]]] = {}

    def is_match(i: int, j: int) -> bool:
        return bool(i and j and ops.codes[i][j] & _MATCH)

    def has_transposition(i: int, j: int) -> bool:
        return any(op[0] == "T" for op in ops.at(i, j))

    def ends_of_run(cell: tuple[int, int]) -> list[tuple[int, int]]:
        """Cells where a run of D/I/S steps taken back from ``cell`` can stop."""
        if cell not in run_ends:
            ends, seen, frontier = [], {cell}, [cell]
            while frontier:
                current = frontier.pop()
                for op in ops.at(*current):
                    if op[0] == "T":
                        continue
                    previous = _predecessor(op, *current)
                    if previous in seen:
                        continue
                    seen.add(previous)
                    if previous == (0, 0) or is_match(*previous):
                        ends.append(previous)  # the run must stop here
                        continue
                    if has_transposition(*previous):
                        ends.append(previous)  # it may stop here, before a transposition
                    frontier.append(previous)
            run_ends[cell] = sorted(ends)
        return run_ends[cell]

    # Depth-first from the end: (cell, class of the segment after it, segments as a
    # linked list in forward order).
    stack: list[tuple[tuple[int, int], str, tuple | None]] = [((n, m), "", None)]
    while stack:
        (i, j), after, segments = stack.pop()
        if i == 0 and j == 0:
            edits: list[Step] = []
            while segments is not None:
                segment, segments = segments
                edits.append(segment)
            yield edits
            continue
        if is_match(i, j):
            a, b = i, j
            while is_match(a, b):
                a, b = a - 1, b - 1
            stack.append(((a, b), "M", (("M", a, i, b, j), segments)))
            continue
        for op in ops.at(i, j):
            if op[0] == "T":
                a, b = _predecessor(op, i, j)
                stack.append(((a, b), "T", ((op, a, i, b, j), segments)))
        if after != "X":  # runs are maximal: two runs never touch
            for a, b in ends_of_run((i, j)):
                tag = "D" if b == j else "I" if a == i else "S"
                stack.append(((a, b), "X", ((tag, a, i, b, j), segments)))


def _span(steps: Sequence[Step], tag: str) -> Step:
    return (tag, steps[0][1], steps[-1][2], steps[0][3], steps[-1][4])


def _merge_run(run: list[Step]) -> list[Step]:
    """Merges a run of non-transposition steps into span edits (character level)."""
    if len(run) <= 1:
        return run
    kinds = {step[0] for step in run}
    if kinds in ({"D"}, {"I"}, {"S"}, {"M"}):
        return [_span(run, kinds.pop())]
    if kinds == {"D", "I"}:
        return run
    return [_span(run, "S")]


def _levenshtein(a: str, b: str) -> int:
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(a, b)


def _group(alignment: list[Step]) -> list[Step]:
    """The merger's first pass: runs of matches and of other steps become spans."""
    edits: list[Step] = []
    for kind, group in itertools.groupby(
        alignment, lambda step: step[0][0] if step[0][0] in ("M", "T") else ""
    ):
        run = list(group)
        edits.extend(run if kind == "T" else _merge_run(run))
    return edits


def _merge(alignment: list[Step], src: Sequence[str], tgt: Sequence[str]) -> list[Step]:
    """Turns one alignment into span edits, as ChERRANT's merger does at character level."""
    return _refine(_group(alignment), src, tgt)


def _refine(edits: list[Step], src: Sequence[str], tgt: Sequence[str]) -> list[Step]:
    """The merger's second pass: word-order patterns, dropped matches, trimmed spans."""

    def src_text(edit: Step) -> str:
        return "".join(src[edit[1] : edit[2]])

    def tgt_text(edit: Step) -> str:
        return "".join(tgt[edit[3] : edit[4]])

    def as_transposition(first: Step, last: Step) -> Step:
        return _span((first, last), "T" + str(last[2] - first[1]))

    # Recognise word-order errors split into S M S or D M I / I M D triples.
    kept: list[Step] = []
    i = 0
    while i < len(edits):
        e1 = edits[i][0][0]
        if i < len(edits) - 2:
            e2, e3 = edits[i + 1][0][0], edits[i + 2][0][0]
            first, last = edits[i], edits[i + 2]
            if e1 == "S" and e2 == "M" and e3 == "S":
                w1, w2, w3, w4 = src_text(first), tgt_text(first), src_text(last), tgt_text(last)
                if min(len(w1), len(w2), len(w3), len(w4)) == 1:
                    swapped = w1 == w4 and w2 == w3
                else:
                    swapped = _levenshtein(w1, w4) <= 1 and _levenshtein(w2, w3) <= 1
                if swapped:
                    kept.append(as_transposition(first, last))
                    i += 3
                else:
                    kept.append(first)
                    i += 1
                continue
            if (e1, e3) in (("D", "I"), ("I", "D")) and e2 in ("M", "T"):
                deleted = src_text(first) if e1 == "D" else src_text(last)
                inserted = tgt_text(last) if e1 == "D" else tgt_text(first)
                a, b = (deleted, inserted) if len(deleted) >= len(inserted) else (inserted, deleted)
                moved = False
                if (
                    a not in _MERGE_PUNCTUATION
                    and b not in _MERGE_PUNCTUATION
                    and len(a) - len(b) <= 1
                ):
                    if len(b) == 1:
                        moved = a == b
                    else:
                        moved = _levenshtein(a, b) <= 1 or (len(a) == len(b) and b in a + a)
                if moved:
                    kept.append(as_transposition(first, last))
                    i += 3
                else:
                    kept.append(first)
                    i += 1
                continue
        if e1 != "M":
            kept.append(edits[i])
        i += 1
    return [trimmed for edit in kept if (trimmed := _trim(edit, src, tgt)) is not None]


def _trim(edit: Step, src: Sequence[str], tgt: Sequence[str]) -> Step | None:
    """Drops a no-op edit and trims a substitution's shared head and tail tokens."""
    op, s1, s2, t1, t2 = edit
    source_span = "".join(src[s1:s2])
    target_span = "".join(tgt[t1:t2])
    if source_span == target_span:
        return None
    if op != "S":
        return edit
    trimmed = False
    # Shared head: the longest run of source tokens the target span starts with,
    # kept only if it ends on a target token boundary.
    head, head_end = "", s1
    for p in range(s1, s2):
        if not target_span.startswith(head + src[p]):
            break
        head += src[p]
        head_end = p + 1
    new_s1, new_t1 = s1, t1
    if head:
        text = ""
        for q in range(t1, t2):
            text += tgt[q]
            if text == head:
                new_s1, new_t1 = head_end, q + 1
                trimmed = True
                break
            if len(text) > len(head):
                break
    # Shared tail, tested against the whole target span, as upstream does.
    tail, tail_start = "", s2
    new_s2, new_t2 = s2, t2
    for p in reversed(range(new_s1, s2)):
        if not target_span.endswith(src[p] + tail):
            break
        tail = src[p] + tail
        tail_start = p
    if tail:
        text = ""
        for q in reversed(range(new_t1, t2)):
            text = tgt[q] + text
            if text == tail:
                new_s2, new_t2 = tail_start, q
                trimmed = True
                break
            if len(text) > len(tail):
                break
    if not trimmed:
        return edit
    if new_s1 == new_s2:
        return ("I", new_s1, new_s2, new_t1, new_t2)
    if new_t1 == new_t2:
        return ("D", new_s1, new_s2, new_t1, new_t2)
    return ("S", new_s1, new_s2, new_t1, new_t2)


def _category(edit: Step, tgt: Sequence[str]) -> tuple[str, str]:
    """ChERRANT's character-level category and correction text (tokens joined by spaces)."""
    op = edit[0][0]
    correction = " ".join(tgt[edit[3] : edit[4]])
    if op == "T":
        return "W", correction
    if op == "D":
        return "R", "-NONE-"
    if op == "I":
        return "M", correction
    return "S", correction


def _m2_line(start: int, end: int, category: str, correction: str) -> str:
    return f"A {start} {end}|||{category}|||{correction}|||REQUIRED|||-NONE-|||0"


def _read_m2_line(line: str) -> tuple[int, int, str, str]:
    """Parses an ``A`` line as ChERRANT's scorer does (a ``|`` in a correction can be lost)."""
    fields = line[2:].split("|||")
    start, end = (int(x) for x in fields[0].split()[:2])
    return start, end, fields[1], fields[2].replace(" ", "")


def annotate(source: str, correction: str, work_limit: int | None = WORK_LIMIT) -> list[str]:
    """ChERRANT's M2 ``A`` lines for one correction of a source sentence.

    Args:
        source: The source sentence, whitespace already removed.
        correction: The corrected sentence, whitespace removed and simplified.
        work_limit: Estimated upstream nanoseconds allowed (see
            :data:`WORK_LIMIT`); None for no limit.

    Returns:
        The edit lines of every distinct edit list over the cheapest
        alignments (a single noop or NA line when the correction is
        unchanged, ``没有错误`` or ``无法标注``). The edit lists may come in
        another order than upstream's, which changes no count.

    Raises:
        AlignmentBudgetExceeded: If upstream's estimated time exceeds ``work_limit``.
    """
    if correction == NO_ERROR or source == correction:
        return [_m2_line(-1, -1, "noop", "-NONE-")]
    if correction == NOT_ANNOTATABLE:
        return [_m2_line(-1, -1, "NA", "-NONE-")]
    src, tgt = tokenize(source), tokenize(correction)
    work = _Work(work_limit)
    ops = _align(src, tgt, work)
    # Upstream follows only the first operation of each cell when the lengths
    # differ by more than 10 tokens.
    first_only = abs(len(src) - len(tgt)) > 10
    work.add(NS_PER_ALIGNMENT_TOKEN * _count_alignments(ops, first_only) * (len(src) + len(tgt)))
    if first_only:
        grouped = (_group(alignment) for alignment in _cheapest_alignments(ops, True))
    else:
        grouped = _grouped_alignments(ops)
    seen: set[tuple[Step, ...]] = set()
    lines: list[str] = []
    for first_pass in grouped:
        edits = tuple(_refine(first_pass, src, tgt))
        if edits in seen:
            continue
        seen.add(edits)
        for edit in edits:
            category, text = _category(edit, tgt)
            lines.append(_m2_line(edit[1], edit[2], category, text))
    return lines


def edit_table(lines: Sequence[str]) -> EditTable:
    """Groups M2 edit lines by (start, end, correction); no edits means one noop."""
    table: EditTable = {}
    for line in lines:
        start, end, category, text = _read_m2_line(line)
        table.setdefault((start, end, text), []).append(category)
    if not table:
        table[(-1, -1, "-NONE-")] = ["noop"]
    return table


@dataclasses.dataclass(frozen=True)
class EditCounts:
    """True positive, false positive and false negative edits.

    Attributes:
        tp: Model edits that match a gold edit (counted as often as the gold lists it).
        fp: Model edits with no matching gold edit.
        fn: Gold edits the model did not make.
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: EditCounts) -> EditCounts:
        return EditCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


def compare(hypothesis: EditTable, reference: EditTable) -> EditCounts:
    """Counts matches between one sentence's model and gold edit tables."""
    if len(reference) == 1 and next(iter(reference.values()))[0] == "NA":
        return EditCounts()
    tp = fp = fn = 0
    for key, categories in hypothesis.items():
        if categories[0] == "noop":
            continue
        if key in reference:
            tp += len(reference[key])
        else:
            fp += len(categories)
    for key, categories in reference.items():
        if categories[0] != "noop" and key not in hypothesis:
            fn += len(categories)
    return EditCounts(tp, fp, fn)


def f_beta(
    counts: EditCounts, beta: float = 0.5, digits: int | None = 4
) -> tuple[float, float, float]:
    """Precision, recall and F-beta, each rounded to ``digits`` decimals as ChERRANT prints them.

    Precision (recall) is 1 when there are no false positives (negatives);
    ``digits=None`` leaves the values unrounded.
    """
    tp, fp, fn = counts.tp, counts.fp, counts.fn
    precision = tp / (tp + fp) if fp else 1.0
    recall = tp / (tp + fn) if fn else 1.0
    b2 = beta**2
    f = (1 + b2) * precision * recall / (b2 * precision + recall) if precision + recall else 0.0
    if digits is None:
        return precision, recall, f
    return round(precision, digits), round(recall, digits), round(f, digits)


def prepare(sentence: str, simplify: bool) -> str:
    """Removes all whitespace and, for corrections, converts to simplified characters."""
    text = "".join(sentence.split())
    if simplify and text:
        text = _simplifier().convert(text)
    return text


def correction_edits(
    source: str, correction: str, work_limit: int | None = WORK_LIMIT
) -> tuple[EditTable, bool]:
    """The edit table of one raw correction against its raw source sentence.

    Applies upstream's preparation (whitespace removal, simplification of the
    correction) and its fallback to ``无`` for a correction that is empty or
    whose alignment exceeds the work limit.

    Returns:
        The edit table, and whether the correction was replaced by ``无``.

    Raises:
        FlawnError: If the source sentence is empty.
    """
    src = prepare(source, simplify=False)
    if not src:
        raise FlawnError("the source sentence is empty")
    tgt = prepare(correction, simplify=True)
    if tgt:
        try:
            return edit_table(annotate(src, tgt, work_limit)), False
        except AlignmentBudgetExceeded:
            pass
    # Upstream's second pass annotates the fallback without a time limit.
    return edit_table(annotate(src, FALLBACK_CORRECTION, work_limit=None)), True


@dataclasses.dataclass(frozen=True)
class ChERRANTResult:
    """Corpus-level ChERRANT scores.

    Attributes:
        counts: Total true positive, false positive and false negative edits.
        precision: Rounded to 4 decimals.
        recall: Rounded to 4 decimals.
        f05: F0.5, rounded to 4 decimals (LawBench's score for 2-1).
        f05_unrounded: The same F0.5 before rounding.
        fallbacks: Items whose model correction was replaced by ``无`` (empty,
            or over the work limit).
        reference_fallbacks: Items whose gold correction was replaced by ``无``.
        full_annotation_counts: The counts with every correction annotated in
            full (no work limit); ``None`` means the same as ``counts``.
    """

    counts: EditCounts
    precision: float
    recall: float
    f05: float
    f05_unrounded: float
    fallbacks: tuple[int, ...] = ()
    reference_fallbacks: tuple[int, ...] = ()
    full_annotation_counts: EditCounts | None = None

    @property
    def full_annotation_f05(self) -> float:
        """F0.5 with every correction annotated in full, rounded to 4 decimals as ``f05``.

        Rounded alike, it differs from ``f05`` only through the items the work
        limit replaced by ``无``, so the gap measures the emulated timeout alone.
        """
        counts = self.counts if self.full_annotation_counts is None else self.full_annotation_counts
        return f_beta(counts)[2]


def score_corpus(
    sources: Sequence[str],
    hypotheses: Sequence[str],
    references: Sequence[str],
    work_limit: int | None = WORK_LIMIT,
) -> ChERRANTResult:
    """ChERRANT character-level span-correction F0.5 over a corpus.

    Args:
        sources: Source (erroneous) sentences.
        hypotheses: Model corrections, aligned with ``sources``.
        references: Gold corrections, aligned with ``sources``.
        work_limit: Estimated upstream nanoseconds allowed per sentence pair
            (None: no limit).

    Returns:
        The counts, the rounded precision, recall and F0.5, the items that
        fell back to ``无``, and the counts with every correction annotated
        in full.

    Raises:
        FlawnError: If the lengths differ or an item's source is empty (the
            message names the item).
    """
    if not len(sources) == len(hypotheses) == len(references):
        raise FlawnError(
            f"{len(sources)} sources, {len(hypotheses)} hypotheses and "
            f"{len(references)} references; they must align"
        )
    total = full_total = EditCounts()
    fallbacks, reference_fallbacks = [], []
    for index, (source, hyp, ref) in enumerate(zip(sources, hypotheses, references, strict=True)):
        try:
            hyp_table, hyp_fell_back = correction_edits(source, hyp, work_limit)
            ref_table, ref_fell_back = correction_edits(source, ref, work_limit)
            counts = compare(hyp_table, ref_table)
            total = total + counts
            if work_limit is not None and (hyp_fell_back or ref_fell_back):
                # Only a replaced side can differ without the limit (an empty
                # correction becomes 无 either way), so only it is annotated again.
                if hyp_fell_back:
                    hyp_table = correction_edits(source, hyp, None)[0]
                if ref_fell_back:
                    ref_table = correction_edits(source, ref, None)[0]
                counts = compare(hyp_table, ref_table)
            full_total = full_total + counts
        except FlawnError as err:
            raise FlawnError(f"item {index}: {err}") from err
        if hyp_fell_back:
            fallbacks.append(index)
        if ref_fell_back:
            reference_fallbacks.append(index)
    precision, recall, f05 = f_beta(total)
    return ChERRANTResult(
        counts=total,
        precision=precision,
        recall=recall,
        f05=f05,
        f05_unrounded=f_beta(total, digits=None)[2],
        fallbacks=tuple(fallbacks),
        reference_fallbacks=tuple(reference_fallbacks),
        full_annotation_counts=full_total,
    )
