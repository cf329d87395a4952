"""The optimizers and schedules: Adafactor as T5X computes it, T5X's schedules, validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flawn.train.config import AdafactorConfig, OptimizerConfig
from flawn.train.optim import learning_rate_schedule, make_optimizer


def _t5x_adafactor_step(param, grad, state, step, lr, hp):
    """One step of ``t5x.adafactor.Adafactor.apply_param_gradient``, written out in numpy.

    The heuristic factor rule T5X applies to parameters of rank <= 2: factor the
    two largest dimensions if the smaller of them is >= min_dim_size_to_factor,
    average over all dimensions for the parameter scale and update clipping.
    """
    grad = grad.astype(np.float64)
    param = param.astype(np.float64)
    t = step + 1.0
    decay = 1.0 - t ** (-hp.decay_rate)
    mixing = 1.0 - decay
    update_scale = lr
    if hp.multiply_by_parameter_scale:
        update_scale = update_scale * max(np.sqrt(np.mean(param * param)), hp.epsilon2)
    grad_sqr = grad * grad + hp.epsilon1
    factored = None
    if param.ndim >= 2:
        order = np.argsort(param.shape)
        if param.shape[order[-2]] >= hp.min_dim_size_to_factor:
            factored = (int(order[-2]), int(order[-1]))
    new_state = dict(state)
    if factored is not None:
        d1, d0 = factored
        v_row = decay * state["v_row"] + mixing * grad_sqr.mean(axis=d0)
        v_col = decay * state["v_col"] + mixing * grad_sqr.mean(axis=d1)
        reduced_d1 = d1 - 1 if d1 > d0 else d1
        row_factor = (v_row / v_row.mean(axis=reduced_d1, keepdims=True)) ** -0.5
        col_factor = v_col**-0.5
        y = grad * np.expand_dims(row_factor, d0) * np.expand_dims(col_factor, d1)
        new_state.update(v_row=v_row, v_col=v_col)
    else:
        v = decay * state["v"] + mixing * grad_sqr
        y = grad * v**-0.5
        new_state["v"] = v
    if hp.clipping_threshold is not None:
        y = y / max(1.0, np.sqrt(np.mean(y * y)) / hp.clipping_threshold)
    subtrahend = update_scale * y
    if hp.beta1 is not None:
        subtrahend = hp.beta1 * state["m"] + (1.0 - hp.beta1) * subtrahend
        new_state["m"] = subtrahend
    return param - subtrahend, new_state


def _t5x_init(param, hp):
    state = {"m": np.zeros(param.shape)}
    order = np.argsort(param.shape)
    if param.ndim >= 2 and param.shape[order[-2]] >= hp.min_dim_size_to_factor:
        d1, d0 = int(order[-2]), int(order[-1])
        state["v_row"] = np.zeros(np.delete(param.shape, d0))
        state["v_col"] = np.zeros(np.delete(param.shape, d1))
    else:
        state["v"] = np.zeros(param.shape)
    return state


def _tree(rng):
    """Shapes that exercise every branch: factored both ways, too small to factor, vectors."""
    shapes = {
        "kernel_tall": (160, 128),  # factored; the larger dimension first
        "kernel_wide": (128, 144),  # factored; the larger dimension last
        "embedding": (4, 200),  # 2-D but the smaller dimension < 128: not factored
        "scale": (128,),  # vectors are never factored
        "rel_embedding": (4, 32),
    }
    return {k: rng.normal(0.0, 0.5, s).astype(np.float32) for k, s in shapes.items()}


@pytest.mark.parametrize(
    "settings",
    [
        AdafactorConfig(),
        AdafactorConfig(beta1=0.9, clipping_threshold=None, decay_rate=0.5),
        AdafactorConfig(multiply_by_parameter_scale=False, min_dim_size_to_factor=100),
    ],
    ids=["t5x_defaults", "momentum_no_clipping", "absolute_lr_smaller_factor_min"],
)
def test_adafactor_matches_t5x_formula(settings):
    rng = np.random.default_rng(0)
    params = _tree(rng)
    config = OptimizerConfig(
        name="adafactor",
        learning_rate=0.01,
        schedule="rsqrt",
        warmup_steps=2,
        grad_clip_norm=0.0,
        adafactor=settings,
    )
    optimizer = make_optimizer(config, total_steps=10)
    schedule = learning_rate_schedule(config, 10)
    state = optimizer.init(jax.tree.map(jnp.asarray, params))
    ours = jax.tree.map(jnp.asarray, params)
    theirs = {k: v.astype(np.float64) for k, v in params.items()}
    t5x_state = {k: _t5x_init(v, settings) for k, v in params.items()}
    update = jax.jit(optimizer.update)
    for step in range(4):
        # Gradients of very different scales per leaf, so clipping and factoring both bite.
        grads = {
            k: rng.normal(0.0, 10.0 ** (i - 2), v.shape) for i, (k, v) in enumerate(params.items())
        }
        updates, state = update(jax.tree.map(jnp.float32, grads), state, ours)
        ours = jax.tree.map(lambda p, u: p + u, ours, updates)
        lr = float(schedule(step))
        for key in theirs:
            theirs[key], t5x_state[key] = _t5x_adafactor_step(
                theirs[key], grads[key], t5x_state[key], step, lr, settings
            )
        for key in theirs:
            np.testing.assert_allclose(
                np.asarray(ours[key]),
                theirs[key],
                rtol=1e-6,
                atol=1e-6,
                err_msg=f"{key}, step {step}",
            )


def test_adafactor_factors_as_t5x():
    """Second moments: row and column vectors for the large matrices, whole otherwise."""
    rng = np.random.default_rng(0)
    params = jax.tree.map(jnp.asarray, _tree(rng))
    optimizer = make_optimizer(OptimizerConfig(name="adafactor", grad_clip_norm=0.0), 10)
    factored = optimizer.init(params)[0]
    assert factored.v_row["kernel_tall"].shape == (128,)  # mean over the larger dim (160)
    assert factored.v_col["kernel_tall"].shape == (160,)
    assert factored.v_row["kernel_wide"].shape == (128,)
    assert factored.v_col["kernel_wide"].shape == (144,)
    assert factored.v["embedding"].shape == (4, 200)
    assert factored.v["scale"].shape == (128,)


def test_adafactor_first_step_by_hand():
    """At step 0, beta2 = 0: v = g^2 + eps1, so an unfactored update is lr * rms(p) * sign(g)."""
    param = jnp.asarray([[3.0, -4.0]])  # rms 3.5355
    grad = jnp.asarray([[0.5, -2.0]])
    optimizer = make_optimizer(
        OptimizerConfig(
            name="adafactor",
            learning_rate=0.1,
            schedule="constant",
            warmup_steps=0,
            grad_clip_norm=0.0,
        ),
        10,
    )
    updates, _ = optimizer.update(grad, optimizer.init(param), param)
    expected = -0.1 * np.sqrt(12.5) * np.sign(np.asarray(grad))
    np.testing.assert_allclose(np.asarray(updates), expected, rtol=1e-6)


def test_schedules_as_t5x():
    rsqrt = learning_rate_schedule(
        OptimizerConfig(learning_rate=1.0, schedule="rsqrt", warmup_steps=10000), total_steps=50
    )
    # T5X's 'constant * rsqrt_decay': 1 / sqrt(max(step, warmup_steps)), no linear ramp.
    for step, want in [(0, 0.01), (9999, 0.01), (10000, 0.01), (40000, 0.005), (1_000_000, 0.001)]:
        assert float(rsqrt(step)) == pytest.approx(want, rel=1e-6)
    constant = learning_rate_schedule(
        OptimizerConfig(learning_rate=1e-3, schedule="constant", warmup_steps=0), total_steps=50
    )
    assert [float(constant(s)) for s in (0, 25, 49)] == pytest.approx([1e-3] * 3)
    warm = learning_rate_schedule(
        OptimizerConfig(learning_rate=1e-3, schedule="constant", warmup_steps=10), total_steps=50
    )
    assert float(warm(5)) == pytest.approx(5e-4) and float(warm(30)) == pytest.approx(1e-3)
    cosine = learning_rate_schedule(
        OptimizerConfig(learning_rate=1e-3, schedule="cosine", warmup_steps=10), total_steps=50
    )
    assert float(cosine(10)) == pytest.approx(1e-3) and float(cosine(50)) == pytest.approx(0.0)


def test_optimizer_config_validation():
    with pytest.raises(ValueError, match=r"OptimizerConfig\.schedule"):
        OptimizerConfig(schedule="exponential")
    with pytest.raises(ValueError, match="rsqrt"):
        OptimizerConfig(schedule="rsqrt", warmup_steps=0)
    with pytest.raises(ValueError, match="AdamW only"):
        OptimizerConfig(name="adafactor", weight_decay=0.01)
    with pytest.raises(ValueError, match="clipping_threshold"):
        AdafactorConfig(clipping_threshold=0.5)
    with pytest.raises(ValueError, match="beta1"):
        AdafactorConfig(beta1=1.0)
    with pytest.raises(ValueError, match="decay_rate"):
        AdafactorConfig(decay_rate=0.0)
