"""Log-likelihood of target sequences under the T5 model (for rank classification).

A target's score is the sum over its tokens of ``log p(token | prompt,
earlier tokens)``, teacher-forced: the decoder reads the target shifted right
behind T5's start id 0, exactly as in training. Targets are 0-padded; padding
positions contribute nothing. Callers that want EOS to count (flawn's rank
classification does, as T5X's does) put it in the target.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from flawn.models.decoding import encode_inputs, init_cache, take_cache_rows
from flawn.models.t5 import Transformer


def _token_log_likelihood(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """``[batch, length]`` per-token log-probabilities, 0 at padding."""
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    picked = jnp.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    return jnp.where(targets > 0, picked, 0.0)


def _shift_right(targets: jax.Array) -> jax.Array:
    start = jnp.zeros_like(targets[:, :1])
    return jnp.concatenate([start, targets[:, :-1]], axis=1)


@functools.partial(jax.jit, static_argnames=("model",))
def score_targets(
    model: Transformer, params, encoder_input_tokens: jax.Array, target_tokens: jax.Array
) -> jax.Array:
    """Sum of target-token log-probabilities, one target per prompt.

    Args:
        model: The Flax module.
        params: Its parameters (``{"params": ...}``).
        encoder_input_tokens: ``[batch, input_length]`` prompt ids, 0-padded.
        target_tokens: ``[batch, target_length]`` target ids, 0-padded.

    Returns:
        ``[batch]`` float32 log-likelihoods (0 for an all-padding target).
    """
    segment_ids = (encoder_input_tokens > 0).astype(jnp.int32)
    encoded = model.apply(params, encoder_input_tokens, segment_ids, method=Transformer.encode)
    logits = model.apply(
        params, encoded, segment_ids, _shift_right(target_tokens), method=Transformer.decode
    )
    return _token_log_likelihood(logits, target_tokens).sum(axis=-1)


@functools.partial(jax.jit, static_argnames=("model",))
def score_candidates(
    model: Transformer, params, encoder_input_tokens: jax.Array, candidate_tokens: jax.Array
) -> jax.Array:
    """Log-likelihood of every candidate target for every prompt.

    The encoder runs once per prompt, and so do the cross-attention key and
    value projections of every decoder layer (a key/value cache set up per
    prompt, then repeated for each candidate); the decoder reads all
    candidates' tokens in one teacher-forced call over ``batch * candidates``
    rows.

    Args:
        model: The Flax module.
        params: Its parameters (``{"params": ...}``).
        encoder_input_tokens: ``[batch, input_length]`` prompt ids, 0-padded.
        candidate_tokens: ``[candidates, target_length]`` target ids, 0-padded.

    Returns:
        ``[batch, candidates]`` float32 sums of target-token log-probabilities.
    """
    batch = encoder_input_tokens.shape[0]
    n_candidates, target_length = candidate_tokens.shape
    encoded, segment_ids = encode_inputs(model, params, encoder_input_tokens)
    cache = init_cache(model, params, encoded, segment_ids, target_length)
    rows = jnp.repeat(jnp.arange(batch), n_candidates)
    cache = take_cache_rows(cache, rows, cross_attention=True)
    targets = jnp.tile(candidate_tokens, (batch, 1))
    logits, _ = model.apply(
        {**params, "cache": cache},
        encoded[rows],  # not read: the cache holds its keys and values
        segment_ids[rows],
        _shift_right(targets),
        use_cache=True,
        method=Transformer.decode,
        mutable=["cache"],
    )
    scores = _token_log_likelihood(logits, targets).sum(axis=-1)
    return scores.reshape(batch, n_candidates)
