"""Mixed-precision matrix products: bfloat16 operands, float32 accumulation.

With ``T5Config.dtype = 'bfloat16'`` every matrix product of the model takes
bfloat16 operands and accumulates in float32 (``preferred_element_type``), in
the forward *and* the backward pass. Two things make that fast on XLA:CPU,
and neither comes for free from autodiff:

* a bfloat16 x bfloat16 -> bfloat16 product runs at about fp32 speed or
  below, while bfloat16 x bfloat16 -> float32 runs about twice as fast as
  fp32 (the AMX / AVX512-BF16 kernels XLA:CPU dispatches to accumulate in
  float32 anyway);
* XLA:CPU upcasts a bfloat16 product to float32 when its left operand is not
  contracted over its minor (last) axes, which is what the weight gradient
  ``x^T @ g`` of every dense layer looks like, and autodiff hands the
  backward pass a float32 cotangent, which turns the other two products into
  mixed float32 x bfloat16 products that XLA also upcasts.

:func:`mixed_einsum` therefore has its own backward pass: the cotangent is cast
to bfloat16, each gradient product is arranged so that its left operand is
contracted over its minor axes (materialising a transpose where needed, which
costs a copy of one operand, far less than the product), and the gradients come
out in their operands' dtypes; for a float32 parameter the gradient is the
float32 accumulator itself, never rounded to bfloat16.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.layout import Layout, with_layout_constraint


def _parse(spec: str) -> tuple[str, str, str]:
    inputs, out = spec.replace(" ", "").split("->")
    lhs, rhs = inputs.split(",")
    return lhs, rhs, out


def _plan(spec: str) -> tuple[str, tuple[int, ...] | None, bool]:
    """How to compute ``spec`` with the left operand contracted over its minor axes.

    Returns ``(spec_to_run, lhs_permutation or None, swap)``: ``swap`` says
    whether the operands trade places; the permutation (of the left operand
    after any swap) moves batch axes first and contracted axes last.

    Raises:
        ValueError: If neither operand order gives the output's axis order
            without a transpose of the result (XLA:CPU mis-compiles some of
            those for bfloat16), or an axis is summed within one operand.
    """
    lhs, rhs, out = _parse(spec)
    candidates = []
    for swap, (a, b) in enumerate(((lhs, rhs), (rhs, lhs))):
        batch = [c for c in a if c in b and c in out]
        contracted = [c for c in a if c in b and c not in out]
        free_a = [c for c in a if c not in b]
        free_b = [c for c in b if c not in a]
        if any(c not in out for c in free_a + free_b):
            raise ValueError(f"{spec!r}: an axis is summed within one operand")
        if "".join(batch + free_a + free_b) != out:
            continue
        order = batch + free_a + contracted
        permutation = None if list(a) == order else tuple(a.index(c) for c in order)
        candidates.append((permutation is not None, bool(swap), "".join(order), b, permutation))
    if not candidates:
        raise ValueError(f"{spec!r}: no operand order gives the output's axis order directly")
    _, swap, a, b, permutation = min(candidates)
    return f"{a},{b}->{out}", permutation, swap


def _row_major(x: jax.Array) -> jax.Array:
    """``x`` laid out row-major in memory: a real transpose, not a layout change."""
    if jax.default_backend() != "cpu":
        return x
    return with_layout_constraint(x, Layout(major_to_minor=tuple(range(x.ndim))))


def _product(spec: str, x: jax.Array, y: jax.Array) -> jax.Array:
    """``einsum(spec, x, y)`` accumulated in float32, left operand contracted over minor axes."""
    run, permutation, swap = _plan(spec)
    if swap:
        x, y = y, x
    if permutation is not None:
        x = jnp.transpose(x, permutation)
    # Both operands row-major: XLA would otherwise fold transposes (the head split of
    # attention, the permutation above) into operand layouts that its bfloat16 kernels
    # do not take, and upcast the product to float32 instead.
    return jnp.einsum(run, _row_major(x), _row_major(y), preferred_element_type=jnp.float32)


@functools.cache
def _mixed(spec: str, compute_dtype, out_dtype, lhs_dtype, rhs_dtype):
    """A differentiable ``einsum(spec)`` for one combination of dtypes (cached per trace key)."""
    lhs, rhs, out = _parse(spec)
    grad_lhs = f"{out},{rhs}->{lhs}"
    grad_rhs = f"{out},{lhs}->{rhs}"
    # Check the three products once, here, rather than at the first backward pass.
    for s in (spec, grad_lhs, grad_rhs):
        _plan(s)

    def forward(x, y):
        xc, yc = x.astype(compute_dtype), y.astype(compute_dtype)
        return _product(spec, xc, yc).astype(out_dtype), (xc, yc)

    def backward(residuals, g):
        xc, yc = residuals
        gc = g.astype(compute_dtype)
        return (
            _product(grad_lhs, gc, yc).astype(lhs_dtype),
            _product(grad_rhs, gc, xc).astype(rhs_dtype),
        )

    @jax.custom_vjp
    def product(x, y):
        return forward(x, y)[0]

    product.defvjp(forward, backward)
    return product


def mixed_einsum(
    spec: str,
    x: jax.Array,
    y: jax.Array,
    out_dtype=jnp.bfloat16,
    compute_dtype=jnp.bfloat16,
) -> jax.Array:
    """``einsum(spec, x, y)`` with ``compute_dtype`` operands and float32 accumulation.

    The backward pass does the same: both gradient products take
    ``compute_dtype`` operands and accumulate in float32; each gradient is
    returned in its operand's dtype (float32 for float32 parameters).

    Args:
        spec: A two-operand einsum without repeated or self-summed axes, whose
            output axes are ordered as batch axes, then the left operand's free
            axes, then the right operand's, e.g. ``"mk,kn->mn"`` or
            ``"bhqd,bhkd->bhqk"``.
        x: Left operand (any float dtype).
        y: Right operand (any float dtype).
        out_dtype: Dtype of the result (the float32 accumulator is cast to it).
        compute_dtype: Dtype of the operands inside the products.
    """
    fn = _mixed(
        spec.replace(" ", ""),
        np.dtype(compute_dtype),
        np.dtype(out_dtype),
        np.dtype(x.dtype),
        np.dtype(y.dtype),
    )
    return fn(x, y)
