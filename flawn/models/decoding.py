"""Greedy decoding for the T5 model, and the pieces every decoding strategy shares.

Sampling (:mod:`flawn.models.sampling`) and beam search
(:mod:`flawn.models.beam_search`) build on :func:`encode_inputs`,
:func:`init_cache` and :func:`next_token_logits` so that all strategies see
the same logits. Decoding keeps a key/value cache: each step runs the decoder
over one new position, not over the whole output so far.
"""

from __future__ import annotations

import functools

import flax
import jax
import jax.numpy as jnp
from flax import traverse_util

from flawn.models.t5 import Transformer

#: T5's end-of-sequence id.
EOS_ID = 1

#: Score of a token that must not be chosen (finite, so sums of scores never become NaN).
NEG_INF = -1e9


def encode_inputs(model: Transformer, params, encoder_input_tokens: jax.Array):
    """Runs the encoder once.

    Returns:
        ``(encoded, encoder_segment_ids)``: ``[batch, length, emb]`` encodings
        and the ``[batch, length]`` mask of real (non-padding) input positions.
    """
    encoder_segment_ids = (encoder_input_tokens > 0).astype(jnp.int32)
    encoded = model.apply(
        params, encoder_input_tokens, encoder_segment_ids, method=Transformer.encode
    )
    return encoded, encoder_segment_ids


def init_cache(model: Transformer, params, encoded, encoder_segment_ids, max_decode_length: int):
    """Sets up the decoder's key/value cache for outputs of up to ``max_decode_length`` tokens.

    The cache holds, per decoder layer, room for the self-attention keys and
    values of every output position and the cross-attention keys and values
    of ``encoded`` (computed here once instead of at every step), plus the
    index of the next position.

    Args:
        model: The Flax module.
        params: Its parameters (``{"params": ...}``).
        encoded: Encoder output, one row per output row.
        encoder_segment_ids: Its padding mask.
        max_decode_length: Most positions the cache holds.

    Returns:
        The ``"cache"`` collection, for :func:`next_token_logits`.
    """
    placeholder = jnp.zeros((encoded.shape[0], max_decode_length), jnp.int32)
    _, variables = model.apply(
        params,
        encoded,
        encoder_segment_ids,
        placeholder,
        use_cache=True,
        method=Transformer.decode,
        mutable=["cache"],
    )
    return variables["cache"]


def next_token_logits(
    model: Transformer, params, encoded, encoder_segment_ids, tokens: jax.Array, cache
) -> tuple[jax.Array, dict]:
    """The float32 logits of the token that follows ``tokens``, and the updated cache.

    Each call runs the decoder over one position: ``tokens`` is the last
    token of every row (the start token 0 at the first call), and the cache
    holds the keys and values of the positions before it. The logits equal
    those of the teacher-forced :meth:`Transformer.decode` over the whole
    output at that position (up to float rounding; tested). A cache holds
    the ``max_decode_length`` positions it was set up for; calls beyond them
    are not detected (the index is traced under ``jit``), so loops must stop
    there, as every strategy here does.

    Args:
        model: The Flax module.
        params: Its parameters (``{"params": ...}``).
        encoded: Encoder output, one row per output row.
        encoder_segment_ids: Its padding mask.
        tokens: ``[batch]`` ids.
        cache: From :func:`init_cache` or the previous call.

    Returns:
        ``([batch, vocab] logits, cache)``.
    """
    logits, variables = model.apply(
        {**params, "cache": cache},
        encoded,
        encoder_segment_ids,
        tokens[:, None],
        use_cache=True,
        method=Transformer.decode,
        mutable=["cache"],
    )
    return logits[:, 0], variables["cache"]


def take_cache_rows(cache, rows: jax.Array, cross_attention: bool = False):
    """The cache whose row ``i`` is row ``rows[i]`` of ``cache``.

    Beam search reorders the self-attention entries when hypotheses inherit
    their parents' prefixes; the cross-attention ones stay as they are, since
    all hypotheses of an input share its encodings. Rank classification
    repeats every entry, cross-attention included, for each candidate.

    Args:
        cache: A cache from :func:`init_cache` or :func:`next_token_logits`.
        rows: ``[new_batch]`` source row of every row.
        cross_attention: Whether the cross-attention entries are taken too.
    """
    attention = {"self_attention"} | ({"encoder_decoder_attention"} if cross_attention else set())
    flat = traverse_util.flatten_dict(flax.core.unfreeze(cache))
    for path, value in flat.items():
        if attention & set(path) and path[-1] in ("cached_key", "cached_value"):
            flat[path] = jnp.take(value, rows, axis=0)
    return traverse_util.unflatten_dict(flat)


def mask_unused_ids(logits: jax.Array, vocab_limit: int | None) -> jax.Array:
    """Rules out ids at or above ``vocab_limit``.

    The embedding is rounded up to a multiple of 128 rows, so the model has
    ids its vocabulary cannot decode; a sampled one would print as ``⁇``.
    """
    if vocab_limit is None or vocab_limit >= logits.shape[-1]:
        return logits
    return jnp.where(jnp.arange(logits.shape[-1]) < vocab_limit, logits, NEG_INF)


@functools.partial(jax.jit, static_argnames=("model", "max_decode_length", "vocab_limit"))
def greedy_decode(
    model: Transformer,
    params,
    encoder_input_tokens: jax.Array,
    max_decode_length: int,
    vocab_limit: int | None = None,
) -> jax.Array:
    """Decodes greedily until every row has produced EOS or the length is reached.

    Args:
        model: The Flax module.
        params: Its parameters (``{"params": ...}``).
        encoder_input_tokens: ``[batch, input_length]`` ids, 0-padded.
        max_decode_length: Most tokens to generate per row.
        vocab_limit: Ids at or above it are never produced (the vocabulary's
            size; ``None``: any id of the embedding).

    Returns:
        ``[batch, max_decode_length]`` generated ids; positions after EOS are 0.
    """
    return decode_loop(
        model,
        params,
        encoder_input_tokens,
        max_decode_length,
        vocab_limit,
        lambda logits, step: jnp.argmax(logits, axis=-1),
    )


def decode_loop(
    model: Transformer,
    params,
    encoder_input_tokens: jax.Array,
    max_decode_length: int,
    vocab_limit: int | None,
    choose,
) -> jax.Array:
    """The decoding loop every strategy but beam search shares (call it inside ``jax.jit``).

    Args:
        model: The Flax module.
        params: Its parameters.
        encoder_input_tokens: ``[batch, input_length]`` ids, 0-padded.
        max_decode_length: Most tokens to generate per row.
        vocab_limit: Ids at or above it are never produced.
        choose: ``choose(logits, step)`` gives each row's next id from its
            ``[batch, vocab]`` logits (unused ids already ruled out).

    Returns:
        ``[batch, max_decode_length]`` generated ids; positions after EOS are 0.
    """
    encoded, encoder_segment_ids = encode_inputs(model, params, encoder_input_tokens)
    cache = init_cache(model, params, encoded, encoder_segment_ids, max_decode_length)
    batch = encoder_input_tokens.shape[0]
    buffer = jnp.zeros((batch, max_decode_length + 1), dtype=jnp.int32)
    done = jnp.zeros((batch,), dtype=bool)

    def not_finished(state):
        step, _, done, _ = state
        return (step < max_decode_length) & ~jnp.all(done)

    def step_fn(state):
        step, buffer, done, cache = state
        logits, cache = next_token_logits(
            model, params, encoded, encoder_segment_ids, buffer[:, step], cache
        )
        next_token = choose(mask_unused_ids(logits, vocab_limit), step).astype(jnp.int32)
        next_token = jnp.where(done, 0, next_token)
        buffer = buffer.at[:, step + 1].set(next_token)
        return step + 1, buffer, done | (next_token == EOS_ID), cache

    _, buffer, _, _ = jax.lax.while_loop(not_finished, step_fn, (0, buffer, done, cache))
    return buffer[:, 1:]
