"""The train step: gradient accumulation and T5X's loss normalisation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from flawn.models.config import T5Config
from flawn.models.t5 import Transformer
from flawn.train.config import TrainConfig
from flawn.train.losses import cross_entropy_with_z_loss
from flawn.train.step import make_train_step

TINY = T5Config(
    vocab_size=64,
    emb_dim=32,
    num_heads=2,
    head_dim=8,
    mlp_dim=64,
    num_encoder_layers=1,
    num_decoder_layers=1,
)
LEARNING_RATE = 0.5


def _batch(rows: int = 4, inputs: int = 12, targets: int = 8, seed: int = 0):
    """Rows with very different numbers of target tokens, so micro-batches differ."""
    rng = np.random.default_rng(seed)
    target_lengths = [8, 1, 5, 2, 7, 3, 6, 4][:rows]
    decoder_target = rng.integers(2, 64, (rows, targets)).astype(np.int32)
    weights = np.zeros((rows, targets), np.float32)
    for row, length in enumerate(target_lengths):
        weights[row, :length] = 1.0
        decoder_target[row, length:] = 0
    decoder_input = np.concatenate([np.zeros((rows, 1), np.int32), decoder_target[:, :-1]], 1)
    return {
        "encoder_input_tokens": rng.integers(2, 64, (rows, inputs)).astype(np.int32),
        "decoder_input_tokens": decoder_input,
        "decoder_target_tokens": decoder_target,
        "encoder_segment_ids": np.ones((rows, inputs), np.int32),
        "decoder_segment_ids": (weights > 0).astype(np.int32),
        "decoder_loss_weights": weights,
    }


@pytest.fixture(scope="module")
def params():
    model = Transformer(TINY)
    return model.init(
        jax.random.PRNGKey(0), jnp.ones((1, 12), jnp.int32), jnp.ones((1, 8), jnp.int32)
    )["params"]


def _one_step(params, batch, **kwargs):
    """One SGD step (update = -lr * gradient, so equal parameters mean equal gradients)."""
    model = Transformer(TINY)
    optimizer = optax.sgd(LEARNING_RATE)
    step = jax.jit(make_train_step(model, optimizer, 1e-4, 0, **kwargs))
    state = {"params": params, "opt_state": optimizer.init(params), "step": jnp.asarray(0)}
    new_state, metrics = step(state, batch)
    return new_state["params"], jax.device_get(metrics)


@pytest.fixture(scope="module")
def full_batch_step(params):
    """The reference: the whole batch at once, loss per target token."""
    return _one_step(params, _batch())


def _max_difference(a, b) -> float:
    return max(
        float(jnp.max(jnp.abs(x - y))) for x, y in zip(*map(jax.tree.leaves, (a, b)), strict=True)
    )


@pytest.mark.parametrize("k", [2, 4])
def test_accumulated_micro_batches_give_the_full_batch_update(params, full_batch_step, k):
    full, full_metrics = full_batch_step
    accumulated, metrics = _one_step(params, _batch(), grad_accum_steps=k)
    assert _max_difference(full, accumulated) < 1e-5
    for key in ("loss", "z_loss", "accuracy", "target_tokens", "grad_norm"):
        assert float(metrics[key]) == pytest.approx(float(full_metrics[key]), rel=1e-5), key


def test_a_mean_of_micro_batch_means_would_differ(params, full_batch_step):
    """The test above has teeth: averaging per-micro-batch token means is a different update."""
    batch = _batch()
    full, _ = full_batch_step
    model = Transformer(TINY)

    def mean_loss(p, rows):
        rows = np.asarray(rows)
        logits = model.apply(
            {"params": p},
            batch["encoder_input_tokens"][rows],
            batch["decoder_input_tokens"][rows],
            batch["encoder_segment_ids"][rows],
            batch["decoder_segment_ids"][rows],
        )
        return cross_entropy_with_z_loss(
            logits,
            batch["decoder_target_tokens"][rows],
            batch["decoder_loss_weights"][rows],
            1e-4,
        )[0]

    grad = jax.jit(jax.grad(mean_loss), static_argnums=1)
    # The micro-batches grad_accum_steps=2 makes: every other row.
    halves = [grad(params, rows) for rows in ((0, 2), (1, 3))]
    naive = jax.tree.map(lambda p, a, b: p - LEARNING_RATE * (a + b) / 2, params, *halves)
    assert _max_difference(full, naive) > 1e-4


def test_a_fixed_loss_normalizing_factor_scales_the_gradient(params, full_batch_step):
    batch = _batch()
    tokens = float(batch["decoder_loss_weights"].sum())
    per_token, metrics = full_batch_step
    fixed, fixed_metrics = _one_step(params, batch, loss_normalizing_factor=4 * tokens)
    # sum / (4 * tokens) is a quarter of the mean per token: a quarter of the step.
    expected = jax.tree.map(lambda p, q: p + (q - p) / 4, params, per_token)
    assert _max_difference(fixed, expected) < 1e-6
    # The logged loss stays per target token whatever the normalisation.
    assert float(fixed_metrics["loss"]) == pytest.approx(float(metrics["loss"]), rel=1e-6)
    assert float(fixed_metrics["grad_norm"]) == pytest.approx(
        float(metrics["grad_norm"]) / 4, rel=1e-5
    )
    accumulated, _ = _one_step(
        params, batch, loss_normalizing_factor=4 * tokens, grad_accum_steps=2
    )
    assert _max_difference(fixed, accumulated) < 1e-6


def test_step_settings_are_validated(tmp_path):
    required = dict(
        model_dir=str(tmp_path),
        mixture_or_task_name="demo.general_plus_legal",
        task_feature_lengths={"inputs": 16, "targets": 8},
        train_steps=2,
        batch_size=6,
    )
    assert TrainConfig(**required, grad_accum_steps=3).grad_accum_steps == 3
    with pytest.raises(ValueError, match="must divide batch_size"):
        TrainConfig(**required, grad_accum_steps=4)
    with pytest.raises(ValueError, match="grad_accum_steps must be >= 1"):
        TrainConfig(**required, grad_accum_steps=0)
    with pytest.raises(ValueError, match="loss_normalizing_factor"):
        TrainConfig(**required, loss_normalizing_factor=0.0)
    assert TrainConfig(**required, loss_normalizing_factor=233472).loss_normalizing_factor
