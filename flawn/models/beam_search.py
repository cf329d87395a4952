"""Beam search for the T5 model.

Each row keeps ``num_beams`` hypotheses in one pool, finished and unfinished
alike. At every step each unfinished hypothesis is extended by every token,
each finished one only by "stay as it is" (a padding id at no cost), and the
``num_beams`` best candidates survive. Candidates are ranked by

    score = log p(tokens) / length ** length_penalty

where ``length`` counts generated tokens, EOS included: ``0`` ranks by total
log-probability, ``1`` by the mean per token. With one beam this is greedy
decoding. A row stops once no unfinished hypothesis can still beat its best
finished one (log-probabilities only fall as a hypothesis grows), and the
best-scoring hypothesis is returned.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from flawn.models.decoding import (
    EOS_ID,
    NEG_INF,
    encode_inputs,
    init_cache,
    mask_unused_ids,
    next_token_logits,
    take_cache_rows,
)
from flawn.models.t5 import Transformer


def _length_penalty(length, alpha):
    return jnp.maximum(length, 1).astype(jnp.float32) ** alpha


@functools.partial(
    jax.jit, static_argnames=("model", "max_decode_length", "num_beams", "vocab_limit")
)
def beam_search(
    model: Transformer,
    params,
    encoder_input_tokens: jax.Array,
    max_decode_length: int,
    num_beams: int,
    length_penalty=0.0,
    vocab_limit: int | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Finds a high-scoring output per row with a beam of ``num_beams`` hypotheses.

    Args:
        model: The Flax module.
        params: Its parameters (``{"params": ...}``).
        encoder_input_tokens: ``[batch, input_length]`` ids, 0-padded.
        max_decode_length: Most tokens to generate per row.
        num_beams: Hypotheses kept per row (``1`` is greedy decoding).
        length_penalty: Exponent ``alpha`` of the length normalisation (see
            the module docstring); ``0`` ranks by total log-probability.
        vocab_limit: Ids at or above it are never produced (the vocabulary's size).

    Returns:
        ``(ids, scores)``: ``[batch, max_decode_length]`` ids of the best
        hypothesis (0 after EOS) and its ``[batch]`` score.
    """
    batch, beams, length = encoder_input_tokens.shape[0], num_beams, max_decode_length
    encoded, encoder_segment_ids = encode_inputs(model, params, encoder_input_tokens)
    # One encoder row per hypothesis: row b * beams + j is hypothesis j of input b.
    encoded = jnp.repeat(encoded, beams, axis=0)
    encoder_segment_ids = jnp.repeat(encoder_segment_ids, beams, axis=0)
    cache = init_cache(model, params, encoded, encoder_segment_ids, length)
    alpha = jnp.asarray(length_penalty, jnp.float32)

    sequences = jnp.zeros((batch, beams, length + 1), jnp.int32)
    # Only hypothesis 0 starts alive, so the first step fills the beam with distinct tokens.
    log_probs = jnp.full((batch, beams), NEG_INF, jnp.float32).at[:, 0].set(0.0)
    scores = log_probs
    finished = jnp.zeros((batch, beams), bool)
    lengths = jnp.zeros((batch, beams), jnp.int32)

    def not_finished(state):
        step, _, log_probs, scores, finished, _, _ = state
        # An unfinished hypothesis's score can rise at most to log_prob / the largest
        # penalty still ahead (log-probabilities are negative and only fall).
        largest_penalty = jnp.maximum(
            _length_penalty(step + 1, alpha), _length_penalty(length, alpha)
        )
        hopeful = jnp.where(finished, NEG_INF, log_probs / largest_penalty).max(axis=-1)
        best_finished = jnp.where(finished, scores, NEG_INF).max(axis=-1)
        return (step < length) & ~jnp.all(best_finished >= hopeful)

    def step_fn(state):
        step, sequences, log_probs, scores, finished, lengths, cache = state
        logits, cache = next_token_logits(
            model, params, encoded, encoder_segment_ids, sequences[:, :, step].reshape(-1), cache
        )
        token_log_probs = jax.nn.log_softmax(mask_unused_ids(logits, vocab_limit), axis=-1)
        vocab = token_log_probs.shape[-1]
        token_log_probs = token_log_probs.reshape(batch, beams, vocab)
        stay = jnp.full((vocab,), NEG_INF, jnp.float32).at[0].set(0.0)
        token_log_probs = jnp.where(finished[..., None], stay, token_log_probs)
        candidate_log_probs = (log_probs[..., None] + token_log_probs).reshape(batch, -1)
        candidate_lengths = jnp.where(finished, lengths, step + 1)
        candidate_scores = candidate_log_probs / jnp.repeat(
            _length_penalty(candidate_lengths, alpha), vocab, axis=-1
        )
        scores, chosen = jax.lax.top_k(candidate_scores, beams)
        parent, token = chosen // vocab, (chosen % vocab).astype(jnp.int32)
        # Each survivor continues its parent's prefix: its sequence and its cached keys.
        cache = take_cache_rows(cache, (jnp.arange(batch)[:, None] * beams + parent).reshape(-1))
        sequences = jnp.take_along_axis(sequences, parent[..., None], axis=1)
        sequences = sequences.at[:, :, step + 1].set(token)
        log_probs = jnp.take_along_axis(candidate_log_probs, chosen, axis=1)
        was_finished = jnp.take_along_axis(finished, parent, axis=1)
        lengths = jnp.where(was_finished, jnp.take_along_axis(lengths, parent, axis=1), step + 1)
        finished = was_finished | (token == EOS_ID)
        return step + 1, sequences, log_probs, scores, finished, lengths, cache

    state = (0, sequences, log_probs, scores, finished, lengths, cache)
    _, sequences, _, scores, _, _, _ = jax.lax.while_loop(not_finished, step_fn, state)
    best = jnp.argmax(scores, axis=-1)
    ids = jnp.take_along_axis(sequences, best[:, None, None], axis=1)[:, 0, 1:]
    return ids, jnp.take_along_axis(scores, best[:, None], axis=1)[:, 0]
