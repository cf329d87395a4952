"""Ancestral sampling for the T5 model: temperature, top-k and top-p (nucleus).

Every row draws from its own key, so a prompt's output depends on the seed
and the key it is given, not on which other prompts share its batch.
Temperature, top-k and top-p are traced values: changing them does not
recompile.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from flawn.models.decoding import (
    NEG_INF,
    decode_loop,
)
from flawn.models.t5 import Transformer


def filter_logits(logits: jax.Array, temperature, top_k, top_p) -> jax.Array:
    """Scales logits by the temperature and rules out tokens outside top-k and top-p.

    Top-p keeps the smallest set of most likely tokens whose probability
    (after temperature and top-k) reaches ``top_p``; the most likely token is
    always kept. Tokens tied with the last kept one are kept too.

    Args:
        logits: ``[batch, vocab]`` float32 logits.
        temperature: Divides the logits; ``<= 0`` leaves them unscaled (the
            caller decodes greedily then).
        top_k: Keep only the ``top_k`` most likely tokens; ``0`` keeps all.
        top_p: Nucleus mass in ``(0, 1]``; ``1`` keeps all.

    Returns:
        ``[batch, vocab]`` scaled logits, :data:`NEG_INF` where ruled out.
    """
    vocab = logits.shape[-1]
    scaled = logits / jnp.where(temperature > 0, temperature, 1.0)
    ordered = -jnp.sort(-scaled, axis=-1)  # descending
    ranks = jnp.arange(vocab)
    k = jnp.where(top_k > 0, jnp.minimum(top_k, vocab), vocab)
    in_top_k = ranks[None, :] < k
    probs = jax.nn.softmax(jnp.where(in_top_k, ordered, NEG_INF), axis=-1)
    mass_before = jnp.cumsum(probs, axis=-1) - probs
    keep = in_top_k & ((mass_before < top_p) | (ranks[None, :] == 0))
    # ``keep`` is a prefix of the ranking, so its length locates the smallest kept logit.
    last_kept = jnp.sum(keep, axis=-1, keepdims=True) - 1
    threshold = jnp.take_along_axis(ordered, last_kept, axis=-1)
    return jnp.where(scaled >= threshold, scaled, NEG_INF)


def row_keys(seed: int, first_row: int, rows: int) -> jax.Array:
    """One PRNG key per prompt: ``fold_in(PRNGKey(seed), prompt index)``.

    Keys follow the prompt's position in the whole input, not in its batch,
    so outputs do not change with the batch size.

    Returns:
        ``[rows, 2]`` uint32 keys.
    """
    base = jax.random.PRNGKey(seed)
    indices = jnp.arange(first_row, first_row + rows, dtype=jnp.uint32)
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(base, indices)


@functools.partial(jax.jit, static_argnames=("model", "max_decode_length", "vocab_limit"))
def sample_decode(
    model: Transformer,
    params,
    encoder_input_tokens: jax.Array,
    max_decode_length: int,
    keys: jax.Array,
    temperature=1.0,
    top_k=0,
    top_p=1.0,
    vocab_limit: int | None = None,
) -> jax.Array:
    """Samples until every row has produced EOS or the length is reached.

    A temperature of 0 decodes greedily (:func:`flawn.models.decoding.greedy_decode`
    gives the same ids); so does ``top_k=1``.

    Args:
        model: The Flax module.
        params: Its parameters (``{"params": ...}``).
        encoder_input_tokens: ``[batch, input_length]`` ids, 0-padded.
        max_decode_length: Most tokens to generate per row.
        keys: ``[batch, 2]`` PRNG keys, one per row (see :func:`row_keys`);
            step ``i`` of a row draws with ``fold_in(key, i)``.
        temperature: Softmax temperature (``>= 0``).
        top_k: Keep only the ``top_k`` most likely tokens (``0``: all).
        top_p: Nucleus mass in ``(0, 1]`` (``1``: all).
        vocab_limit: Ids at or above it are never produced (the vocabulary's size).

    Returns:
        ``[batch, max_decode_length]`` generated ids; positions after EOS are 0.
    """
    temperature = jnp.asarray(temperature, jnp.float32)

    def choose(logits, step):
        filtered = filter_logits(logits, temperature, top_k, top_p)
        step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, step)
        sampled = jax.vmap(jax.random.categorical)(step_keys, filtered)
        return jnp.where(temperature > 0, sampled, jnp.argmax(logits, axis=-1))

    return decode_loop(model, params, encoder_input_tokens, max_decode_length, vocab_limit, choose)
