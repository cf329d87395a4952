"""Greedy decoding for the T5 model, and the pieces every decoding strategy shares.

Sampling (:mod:`flawn.models.sampling`) and beam search
(:mod:`flawn.models.beam_search`) build on :func:`encode_inputs` and
:func:`next_token_logits` so that all strategies see the same logits.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

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


def next_token_logits(
    model: Transformer, params, encoded, encoder_segment_ids, buffer: jax.Array, step
) -> jax.Array:
    """The float32 logits of the token that follows ``buffer[:, : step + 1]``.

    The decoder is re-run over the whole (short) output buffer at each step
    instead of keeping a key/value cache: for the answer lengths flawn decodes
    this costs little and keeps the model code cache-free. The causal mask
    makes positions after ``step`` irrelevant.

    Args:
        model: The Flax module.
        params: Its parameters (``{"params": ...}``).
        encoded: Encoder output, one row per buffer row.
        encoder_segment_ids: Its padding mask.
        buffer: ``[batch, max_decode_length + 1]`` ids; column 0 is the start
            token (0) and column ``i + 1`` the token generated at step ``i``.
        step: The step being decoded (traced).

    Returns:
        ``[batch, vocab]`` logits.
    """
    logits = model.apply(
        params, encoded, encoder_segment_ids, buffer[:, :-1], method=Transformer.decode
    )
    return logits[:, step]


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
    batch = encoder_input_tokens.shape[0]
    buffer = jnp.zeros((batch, max_decode_length + 1), dtype=jnp.int32)
    done = jnp.zeros((batch,), dtype=bool)

    def not_finished(state):
        step, _, done = state
        return (step < max_decode_length) & ~jnp.all(done)

    def step_fn(state):
        step, buffer, done = state
        logits = next_token_logits(model, params, encoded, encoder_segment_ids, buffer, step)
        next_token = choose(mask_unused_ids(logits, vocab_limit), step).astype(jnp.int32)
        next_token = jnp.where(done, 0, next_token)
        buffer = buffer.at[:, step + 1].set(next_token)
        return step + 1, buffer, done | (next_token == EOS_ID)

    _, buffer, _ = jax.lax.while_loop(not_finished, step_fn, (0, buffer, done))
    return buffer[:, 1:]
