"""Building the optax optimizer from an :class:`OptimizerConfig`.

Adafactor is ``optax.adafactor`` configured as T5X's ``t5x.adafactor.Adafactor``
with its defaults (:class:`~flawn.train.config.AdafactorConfig`): optax
implements the same update (factored second moments of the two largest
dimensions, ``beta2_t = 1 - (t + 1) ** -0.8``, update clipping by block RMS,
the learning rate relative to each parameter's RMS), and ``tests/test_optim.py``
checks it against T5X's formula written out step by step.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from flawn.train.config import OptimizerConfig


def learning_rate_schedule(config: OptimizerConfig, total_steps: int) -> optax.Schedule:
    """The learning rate at each step (counted from 0, the first update).

    ``constant``, ``cosine`` and ``linear`` ramp up linearly over
    ``warmup_steps`` (capped below ``total_steps``) and then hold or decay to
    0 by ``total_steps``. ``rsqrt`` is T5X's ``constant * rsqrt_decay``:
    ``learning_rate / sqrt(max(step, warmup_steps))``, whatever ``total_steps``.
    """
    if config.schedule == "rsqrt":
        peak, plateau = config.learning_rate, config.warmup_steps

        def rsqrt(step):
            return peak / jnp.sqrt(jnp.maximum(jnp.asarray(step, jnp.float32), plateau))

        return rsqrt
    warmup = min(config.warmup_steps, max(total_steps - 1, 0))
    decay_steps = max(total_steps - warmup, 1)
    if config.schedule == "constant":
        after = optax.constant_schedule(config.learning_rate)
    elif config.schedule == "cosine":
        after = optax.cosine_decay_schedule(config.learning_rate, decay_steps)
    else:
        after = optax.linear_schedule(config.learning_rate, 0.0, decay_steps)
    if warmup == 0:
        return after
    return optax.join_schedules(
        [optax.linear_schedule(0.0, config.learning_rate, warmup), after], boundaries=[warmup]
    )


def adafactor(config: OptimizerConfig, schedule: optax.Schedule) -> optax.GradientTransformation:
    """T5X's Adafactor with ``config.adafactor``'s settings and the given learning rate."""
    settings = config.adafactor
    # optax's pieces in T5X's order; optax.adafactor chains the same ones but fixes
    # epsilon2 (its min_scale) at T5X's default, so it is spelled out here.
    chain = [
        optax.scale_by_factored_rms(
            factored=settings.factored,
            decay_rate=settings.decay_rate,
            min_dim_size_to_factor=settings.min_dim_size_to_factor,
            epsilon=settings.epsilon1,
        )
    ]
    if settings.clipping_threshold is not None:
        # Each parameter's scaled gradient is clipped by its own RMS, before the learning rate.
        chain.append(optax.clip_by_block_rms(settings.clipping_threshold))
    chain.append(optax.scale_by_learning_rate(schedule, flip_sign=False))
    if settings.multiply_by_parameter_scale:
        # The learning rate is relative: times max(rms(param), epsilon2).
        chain.append(optax.scale_by_param_block_rms(settings.epsilon2))
    if settings.beta1 is not None:
        # T5X's momentum averages the scaled steps: m = beta1 * m + (1 - beta1) * step.
        chain.append(optax.ema(settings.beta1, debias=False))
    chain.append(optax.scale(-1.0))
    return optax.chain(*chain)


def make_optimizer(config: OptimizerConfig, total_steps: int) -> optax.GradientTransformation:
    """Returns the optimizer with clipping and the learning-rate schedule."""
    schedule = learning_rate_schedule(config, total_steps)
    if config.name == "adamw":
        core = optax.adamw(schedule, weight_decay=config.weight_decay)
    else:
        core = adafactor(config, schedule)
    if config.grad_clip_norm > 0:
        return optax.chain(optax.clip_by_global_norm(config.grad_clip_norm), core)
    return core
