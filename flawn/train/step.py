"""One optimizer step of the sequence-to-sequence model: loss, gradients, update."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from flawn.train.losses import loss_denominator, metrics_from_sums, token_loss_sums, total_loss

#: The model's inputs in a batch of ``seqio.EncDecFeatureConverter`` features.
_MODEL_KEYS = (
    "encoder_input_tokens",
    "decoder_input_tokens",
    "encoder_segment_ids",
    "decoder_segment_ids",
)


def make_train_step(
    model,
    optimizer,
    z_loss: float,
    seed: int,
    *,
    grad_accum_steps: int = 1,
    loss_normalizing_factor: float | None = None,
):
    """The training step, not yet jitted: ``step(state, batch) -> (state, metrics)``.

    ``state`` is ``{"params", "opt_state", "step"}``; dropout keys are derived from
    ``seed`` and the step (and the micro-batch), so a resumed run draws the same
    dropout masks.

    With ``grad_accum_steps = k > 1`` the batch is split into ``k`` micro-batches
    (every ``k``-th row), run one after another inside the step (a ``lax.scan``,
    so only one micro-batch's activations are live at a time), and their
    gradients are summed before one optimizer update. The loss is normalised
    once over the whole batch, never as a mean of micro-batch means, so the
    update equals the full-batch update (up to float rounding).

    Args:
        model: The Flax module.
        optimizer: An optax ``GradientTransformation``.
        z_loss: Weight of T5X's auxiliary ``log(Z)^2`` loss.
        seed: Seeds the dropout masks.
        grad_accum_steps: Micro-batches per step; must divide the batch size.
        loss_normalizing_factor: ``None`` normalises the summed loss by the
            batch's target tokens; a number divides it by that constant (T5X's
            ``LOSS_NORMALIZING_FACTOR``).

    Returns:
        ``train_step(state, batch) -> (state, metrics)``; metrics are ``loss``
        (cross entropy per target token), ``z_loss``, ``accuracy``,
        ``target_tokens`` and ``grad_norm`` (of the gradient of the optimised,
        normalised loss).
    """
    if grad_accum_steps < 1:
        raise ValueError(f"grad_accum_steps must be >= 1, got {grad_accum_steps}")

    def sums_and_grads(params, batch, dropout_rng, denominator):
        """Gradient of ``sum of token losses / denominator`` and the unnormalised sums."""

        def loss_fn(params):
            logits = model.apply(
                {"params": params},
                *(batch.get(key) for key in _MODEL_KEYS),
                deterministic=False,
                rngs={"dropout": dropout_rng},
            )
            sums = token_loss_sums(
                logits, batch["decoder_target_tokens"], batch["decoder_loss_weights"], z_loss
            )
            return total_loss(sums, denominator), sums

        (_, sums), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        return sums, grads

    def train_step(state, batch):
        dropout_rng = jax.random.fold_in(jax.random.PRNGKey(seed + 1), state["step"])
        params = state["params"]
        # The whole batch's token count, known before any micro-batch runs.
        weights = batch["decoder_loss_weights"]
        denominator = loss_denominator(
            jnp.sum(weights.astype(jnp.float32)), loss_normalizing_factor
        )
        if grad_accum_steps == 1:
            sums, grads = sums_and_grads(params, batch, dropout_rng, denominator)
        else:
            sums, grads = _accumulate(
                sums_and_grads, params, batch, dropout_rng, denominator, grad_accum_steps
            )
        updates, opt_state = optimizer.update(grads, state["opt_state"], params)
        params = jax.tree.map(lambda p, u: p + u, params, updates)
        metrics = metrics_from_sums(sums)
        metrics["grad_norm"] = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grads)))
        return {"params": params, "opt_state": opt_state, "step": state["step"] + 1}, metrics

    return train_step


def _accumulate(sums_and_grads, params, batch, dropout_rng, denominator, k: int):
    """Sums token-loss sums and gradients over ``k`` micro-batches with ``lax.scan``."""
    rows = next(iter(batch.values())).shape[0]
    if rows % k:
        raise ValueError(f"the batch's {rows} rows do not split into {k} micro-batches")
    # Strided rows: micro-batch i is rows i, i + k, i + 2k, ... Under data parallelism the
    # batch's rows are split across devices in contiguous blocks, so strided micro-batches
    # keep every device busy on every micro-batch (contiguous ones would idle most of them).
    micro = {
        key: jnp.swapaxes(value.reshape(rows // k, k, *value.shape[1:]), 0, 1)
        for key, value in batch.items()
    }
    zero_sums = jax.eval_shape(
        lambda: sums_and_grads(
            params, jax.tree.map(lambda v: v[0], micro), dropout_rng, denominator
        )
    )
    carry = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), zero_sums)

    def body(carry, inputs):
        index, micro_batch = inputs
        out = sums_and_grads(
            params, micro_batch, jax.random.fold_in(dropout_rng, index), denominator
        )
        return jax.tree.map(jnp.add, carry, out), None

    (sums, grads), _ = jax.lax.scan(body, carry, (jnp.arange(k), micro))
    return sums, grads
