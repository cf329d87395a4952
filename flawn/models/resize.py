"""Fitting a checkpoint's embedding and output layer to an extended vocabulary.

T5 1.1 and Flan-T5 have an input embedding ``token_embedder/embedding``
(``[rows, emb_dim]``) and an untied output layer
``decoder/logits_dense/kernel`` (``[emb_dim, rows]``); ``rows`` is the
vocabulary's size rounded up to a multiple of 128 (T5: 32,100 ids, 32,128
rows). When a vocabulary gains ``N`` pieces before its sentinels
(:mod:`flawn.tokenizer.extension`), both are resized the same way:

* rows of ids below the first sentinel are copied unchanged;
* the sentinels' rows move up by ``N``, to their new ids;
* each new id's row is the mean of the rows of the old pieces the base
  tokenizer splits the new piece into (the output layer's column likewise),
  so the new piece starts out meaning roughly what its parts meant;
* the rows past the vocabulary (padding, never a target) are copied from the
  old padding rows as far as they go, and any further ones are the mean of
  all the old vocabulary's rows.

Why the outputs do not change on text without new pieces: the old ids' rows
and columns are the old ones at their new ids, so every old id's logit is
what it was. A new id's logit is the mean of its sub-pieces' logits (the
output layer is linear), never above the largest of them, and an extra
padding row's logit is the mean of all old logits: neither can outscore the
old model's choice, so greedy decoding picks the same tokens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from flawn.errors import FlawnError

#: Where the input embedding and the output layer are in a flawn / T5X parameter tree.
EMBEDDING = ("token_embedder", "embedding")
OUTPUT = ("decoder", "logits_dense", "kernel")

#: Rows are the vocabulary's ids rounded up to a multiple of this (T5X's convention).
ROW_MULTIPLE = 128


def padded_rows(ids: int) -> int:
    """Rows for a vocabulary of ``ids`` ids: rounded up to a multiple of 128."""
    return -(-ids // ROW_MULTIPLE) * ROW_MULTIPLE


@dataclasses.dataclass(frozen=True)
class VocabularyResize:
    """How ids of an old vocabulary map onto a vocabulary with new pieces.

    Attributes:
        old_size: Ids of the old vocabulary (pieces and sentinels).
        first_moved: The first old id that moves (the first sentinel); the
            new pieces take ids ``first_moved .. first_moved + N - 1``.
        sources: For each new piece, the old ids whose rows are averaged
            into its row.
    """

    old_size: int
    first_moved: int
    sources: tuple[tuple[int, ...], ...]

    def __post_init__(self):
        if not 0 <= self.first_moved <= self.old_size:
            raise ValueError(
                f"VocabularyResize.first_moved={self.first_moved} is outside 0..{self.old_size}"
            )
        for number, ids in enumerate(self.sources):
            if not ids or any(not 0 <= i < self.old_size for i in ids):
                raise ValueError(
                    f"VocabularyResize.sources[{number}] = {list(ids)} must be old ids "
                    f"(0..{self.old_size - 1}), at least one"
                )

    @property
    def added(self) -> int:
        """New ids."""
        return len(self.sources)

    @property
    def new_size(self) -> int:
        """Ids of the new vocabulary."""
        return self.old_size + self.added

    def new_ids(self) -> np.ndarray:
        """``new_ids()[old_id]``: where each old id is in the new vocabulary."""
        old = np.arange(self.old_size)
        return np.where(old < self.first_moved, old, old + self.added)


def resize_rows(array: np.ndarray, plan: VocabularyResize, rows: int) -> np.ndarray:
    """Resizes the first axis of ``[rows, ...]`` (an embedding) to ``rows`` rows.

    Raises:
        FlawnError: If ``array`` has fewer rows than the old vocabulary has
            ids, or ``rows`` is fewer than the new vocabulary's ids.
    """
    array = np.asarray(array)
    have = array.shape[0]
    if have < plan.old_size:
        raise FlawnError(
            f"the checkpoint has {have} vocabulary rows, fewer than the base vocabulary's "
            f"{plan.old_size} ids: it was not trained with that vocabulary"
        )
    if rows < plan.new_size:
        raise FlawnError(f"{rows} rows cannot hold the extended vocabulary's {plan.new_size} ids")
    old = array[: plan.old_size].astype(np.float64)
    out = np.empty((rows, *array.shape[1:]), dtype=np.float64)
    out[plan.new_ids()] = old
    for offset, ids in enumerate(plan.sources):
        out[plan.first_moved + offset] = old[list(ids)].mean(axis=0)
    padding = array[plan.old_size :].astype(np.float64)
    kept = min(len(padding), rows - plan.new_size)
    out[plan.new_size : plan.new_size + kept] = padding[:kept]
    out[plan.new_size + kept :] = old.mean(axis=0)
    return out.astype(array.dtype)


def _get(tree: Mapping[str, Any], path: Sequence[str]):
    for key in path:
        if not isinstance(tree, Mapping) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _replaced(tree: Mapping[str, Any], path: Sequence[str], value) -> dict:
    """A shallow copy of ``tree`` with ``path`` set to ``value`` (other leaves shared)."""
    out = dict(tree)
    out[path[0]] = value if len(path) == 1 else _replaced(tree[path[0]], path[1:], value)
    return out


def resize_params(
    params: Mapping[str, Any], plan: VocabularyResize, rows: int | None = None
) -> dict:
    """Returns ``params`` with the embedding and output layer fitted to the new vocabulary.

    Args:
        params: flawn / T5X parameters (the tree under ``"params"``).
        plan: How old ids map to new ones (from
            :meth:`flawn.tokenizer.extension.VocabularyExtension.resize_plan`).
        rows: Rows of the result (default: the new vocabulary's ids rounded
            up to a multiple of 128, what flawn's models size themselves to).

    Returns:
        A new tree; every other parameter is the same array as in ``params``.

    Raises:
        FlawnError: If the tree has no ``token_embedder/embedding``, or its
            rows do not fit the plan.
    """
    rows = padded_rows(plan.new_size) if rows is None else rows
    embedding = _get(params, EMBEDDING)
    if embedding is None:
        raise FlawnError(
            "the parameters have no token_embedder/embedding; is this a T5 checkpoint?"
        )
    out = _replaced(params, EMBEDDING, resize_rows(embedding, plan, rows))
    kernel = _get(params, OUTPUT)
    if kernel is not None:  # T5 1.1's untied head; T5 1.0 ties it to the embedding
        if np.shape(kernel)[-1] != np.shape(embedding)[0]:
            raise FlawnError(
                f"decoder/logits_dense/kernel has {np.shape(kernel)[-1]} columns but the "
                f"embedding has {np.shape(embedding)[0]} rows"
            )
        resized = resize_rows(np.asarray(kernel).T, plan, rows).T
        out = _replaced(out, OUTPUT, np.ascontiguousarray(resized))
    return out
