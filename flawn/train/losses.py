"""The sequence-to-sequence training loss, normalised as T5X normalises it."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def token_loss_sums(
    logits: jax.Array, targets: jax.Array, weights: jax.Array, z_loss: float
) -> dict[str, jax.Array]:
    """Weighted *sums* over target tokens of the cross entropy, z-loss and correct tokens.

    Sums rather than means, so that micro-batches of one step add up to the
    full batch exactly (see :func:`flawn.train.step.make_train_step`); the
    normaliser is applied once, over the whole batch.

    Args:
        logits: ``[batch, length, vocab]`` logits (computed in float32).
        targets: ``[batch, length]`` target ids.
        weights: ``[batch, length]`` loss weights (0 on padding).
        z_loss: Weight of T5X's auxiliary ``z_loss * log(Z)^2`` term, which keeps
            the softmax normaliser near 1.

    Returns:
        ``cross_entropy``, ``z_loss``, ``correct`` and ``target_tokens`` (the
        sum of ``weights``), each a float32 scalar.
    """
    logits = logits.astype(jnp.float32)
    weights = weights.astype(jnp.float32)
    log_z = jax.nn.logsumexp(logits, axis=-1)
    target_logits = jnp.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    correct = (jnp.argmax(logits, axis=-1) == targets).astype(jnp.float32)
    return {
        "cross_entropy": jnp.sum((log_z - target_logits) * weights),
        "z_loss": jnp.sum(z_loss * jnp.square(log_z) * weights),
        "correct": jnp.sum(correct * weights),
        "target_tokens": jnp.sum(weights),
    }


def loss_denominator(target_tokens: jax.Array, loss_normalizing_factor: float | None) -> jax.Array:
    """What the summed token losses are divided by.

    Args:
        target_tokens: Weighted target tokens of the whole batch.
        loss_normalizing_factor: ``None``: the batch's target tokens (a mean
            per target token, T5X's ``NUM_REAL_TARGET_TOKENS``); a number: that
            constant, as T5X's ``LOSS_NORMALIZING_FACTOR`` (e.g. pre-training
            batch x target length when fine-tuning the public T5 checkpoints;
            ``1.0`` is T5X's unnormalised sum).
    """
    if loss_normalizing_factor is None:
        return jnp.maximum(target_tokens, 1.0)
    return jnp.asarray(loss_normalizing_factor, jnp.float32)


def total_loss(sums: dict[str, jax.Array], denominator: jax.Array) -> jax.Array:
    """The optimised loss: normalised cross entropy plus normalised z-loss."""
    # Two divisions rather than one, as flawn always computed it: same bits as before.
    return sums["cross_entropy"] / denominator + sums["z_loss"] / denominator


def metrics_from_sums(sums: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Per-token metrics for logging, whatever the loss normalisation.

    Returns:
        ``loss`` (cross entropy per target token, without the z-loss),
        ``z_loss`` (per target token), ``accuracy`` (token-level) and
        ``target_tokens``.
    """
    tokens = jnp.maximum(sums["target_tokens"], 1.0)
    return {
        "loss": sums["cross_entropy"] / tokens,
        "z_loss": sums["z_loss"] / tokens,
        "accuracy": sums["correct"] / tokens,
        "target_tokens": sums["target_tokens"],
    }


def cross_entropy_with_z_loss(
    logits: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    z_loss: float,
    loss_normalizing_factor: float | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Token-level cross entropy plus T5X's ``z_loss * log(Z)^2``, normalised.

    Args:
        logits: ``[batch, length, vocab]`` float logits.
        targets: ``[batch, length]`` target ids.
        weights: ``[batch, length]`` loss weights (0 on padding).
        z_loss: Weight of the auxiliary term that keeps the softmax normaliser near 1.
        loss_normalizing_factor: See :func:`loss_denominator`; ``None`` averages
            over the target tokens.

    Returns:
        The scalar loss and metrics: ``loss`` (cross entropy per target token
        only), ``z_loss``, ``accuracy`` (token-level) and ``target_tokens``.
    """
    sums = token_loss_sums(logits, targets, weights, z_loss)
    denominator = loss_denominator(sums["target_tokens"], loss_normalizing_factor)
    return total_loss(sums, denominator), metrics_from_sums(sums)
