"""One optimizer step of the sequence-to-sequence model: loss, gradients, update."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from flawn.train.losses import cross_entropy_with_z_loss

#: The model's inputs in a batch of ``seqio.EncDecFeatureConverter`` features.
_MODEL_KEYS = (
    "encoder_input_tokens",
    "decoder_input_tokens",
    "encoder_segment_ids",
    "decoder_segment_ids",
)


def make_train_step(model, optimizer, z_loss: float, seed: int):
    """The training step, not yet jitted: ``step(state, batch) -> (state, metrics)``.

    ``state`` is ``{"params", "opt_state", "step"}``; dropout keys are derived from
    ``seed`` and the step, so a resumed run draws the same dropout masks.
    """

    def train_step(state, batch):
        dropout_rng = jax.random.fold_in(jax.random.PRNGKey(seed + 1), state["step"])

        def loss_fn(params):
            logits = model.apply(
                {"params": params},
                *(batch.get(key) for key in _MODEL_KEYS),
                deterministic=False,
                rngs={"dropout": dropout_rng},
            )
            return cross_entropy_with_z_loss(
                logits, batch["decoder_target_tokens"], batch["decoder_loss_weights"], z_loss
            )

        (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
        updates, opt_state = optimizer.update(grads, state["opt_state"], state["params"])
        params = jax.tree.map(lambda p, u: p + u, state["params"], updates)
        metrics["grad_norm"] = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grads)))
        return {"params": params, "opt_state": opt_state, "step": state["step"] + 1}, metrics

    return train_step
