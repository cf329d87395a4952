"""T5 v1.1 / Flan-T5 encoder-decoder in Flax.

The architecture of Raffel et al. as revised in T5 v1.1 and used by Flan-T5:
pre-norm blocks with RMS layer norm (no mean subtraction, no bias), gated-GELU
feed-forward layers, relative position biases shared across the layers of a
stack, no bias terms anywhere, separate input embedding and output projection,
and attention logits *not* scaled by 1/sqrt(d) (the scale is folded into the
query initialisation instead, as in T5X). Parameter names *and shapes* follow
T5X's ``t5.network`` (attention kernels are 2-D, ``[emb, heads * head_dim]``
and ``[heads * head_dim, emb]``), so T5X checkpoints map onto this module
name-for-name and array-for-array (:mod:`flawn.t5x.checkpoints`); only the
computation inside the attention layers is laid out head-major for speed.

Inputs may be packed: ``*_segment_ids`` keep packed examples from attending to
each other; positions inside a packed row only matter through those masks,
since relative positions are the same within an example wherever it starts.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import linen as nn

from flawn.models.config import T5Config
from flawn.models.precision import mixed_einsum

_NEG_INF = -1e10


class CachePosition(NamedTuple):
    """Where a decoding call with a key/value cache writes (see :meth:`Transformer.decode`).

    Attributes:
        index: First output position of this call's tokens (traced scalar).
        length: Positions the cache holds (static).
    """

    index: jax.Array
    length: int


def _dtype(config: T5Config):
    return jnp.bfloat16 if config.dtype == "bfloat16" else jnp.float32


def flat_matmul(x: jax.Array, kernel: jax.Array, dtype=jnp.float32, out_dtype=None) -> jax.Array:
    """``x @ kernel`` over the last axis, computed as one 2-D matmul.

    XLA:CPU computes the weight gradient of a 2-D matmul several times faster
    than that of a matmul contracting over ``[batch, length]``, so every dense
    layer flattens its leading axes first.

    Args:
        x: ``[..., in]`` activations.
        kernel: ``[in, out]`` float32 parameters.
        dtype: The compute dtype. For ``bfloat16`` both operands are cast to it
            and the product accumulates in float32 (forward and backward, see
            :mod:`flawn.models.precision`).
        out_dtype: Dtype of the result; defaults to ``dtype``.
    """
    lead = x.shape[:-1]
    x = x.reshape(-1, x.shape[-1])
    if jnp.dtype(dtype) == jnp.float32:
        y = (x @ kernel.astype(jnp.float32)).astype(out_dtype or jnp.float32)
    else:
        y = mixed_einsum("mk,kn->mn", x, kernel, out_dtype or dtype, dtype)
    return y.reshape(*lead, kernel.shape[-1])


#: T5X's initializer of dense kernels.
_DENSE_INIT = nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")


class Dense(nn.Module):
    """Bias-free dense layer with a float32 ``kernel`` of shape ``[in, out]``.

    Attributes:
        features: Output width.
        kernel_init: Initialiser of the kernel.
        dtype: Compute dtype of the product (see :func:`flat_matmul`).
        out_dtype: Dtype of the output; defaults to ``dtype``.
    """

    features: int
    kernel_init: nn.initializers.Initializer = _DENSE_INIT
    dtype: jnp.dtype = jnp.float32
    out_dtype: jnp.dtype | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features), jnp.float32)
        return flat_matmul(x, kernel, self.dtype, self.out_dtype)


class RMSNorm(nn.Module):
    """Scale-only layer norm: ``x / rms(x) * scale``."""

    epsilon: float = 1e-6
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x32 = x.astype(jnp.float32)
        variance = jnp.mean(jnp.square(x32), axis=-1, keepdims=True)
        scale = self.param("scale", nn.initializers.ones, (x.shape[-1],), jnp.float32)
        return (x32 * jax.lax.rsqrt(variance + self.epsilon) * scale).astype(self.dtype)


def relative_position_bucket(
    relative_position: jax.Array, bidirectional: bool, num_buckets: int, max_distance: int
) -> jax.Array:
    """Maps key-minus-query offsets to T5's log-spaced buckets.

    Half of the buckets (all, if causal) hold exact small offsets; the rest
    grow logarithmically up to ``max_distance``, beyond which offsets share
    the last bucket. In the bidirectional case the upper half of buckets holds
    positive offsets.

    Args:
        relative_position: Integer array of ``key_position - query_position``.
        bidirectional: Whether keys after the query get their own buckets.
        num_buckets: Total number of buckets.
        max_distance: Offset at which buckets saturate.

    Returns:
        Bucket ids, same shape as ``relative_position``.
    """
    n = -relative_position
    bucket = jnp.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        bucket = bucket + (n < 0).astype(jnp.int32) * num_buckets
        n = jnp.abs(n)
    else:
        n = jnp.maximum(n, 0)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    # log-spaced buckets for large offsets; max(n, 1) keeps log finite where it is unused
    large = max_exact + (
        jnp.log(jnp.maximum(n, 1).astype(jnp.float32) / max_exact)
        / jnp.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).astype(jnp.int32)
    large = jnp.minimum(large, num_buckets - 1)
    return bucket + jnp.where(is_small, n, large)


class RelativePositionBiases(nn.Module):
    """Per-head attention bias as a function of the relative position bucket."""

    num_buckets: int
    max_distance: int
    num_heads: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(
        self, q_len: int, k_len: int, bidirectional: bool, q_offset: jax.Array | int = 0
    ) -> jax.Array:
        """``[1, heads, q_len, k_len]`` biases; query ``i`` sits at position ``q_offset + i``."""
        context = q_offset + jnp.arange(q_len, dtype=jnp.int32)[:, None]
        memory = jnp.arange(k_len, dtype=jnp.int32)[None, :]
        buckets = relative_position_bucket(
            memory - context, bidirectional, self.num_buckets, self.max_distance
        )
        table = self.param(
            "rel_embedding",
            nn.initializers.variance_scaling(1.0, "fan_avg", "uniform"),
            (self.num_heads, self.num_buckets),
            jnp.float32,
        )
        bias = jnp.take(table, buckets, axis=1)  # [heads, q, k]
        return bias[None].astype(self.dtype)  # [1, heads, q, k]


#: T5X's initializer of attention kernels: variance 1/fan_in, fan_in = the 2-D kernel's rows.
_ATTENTION_INIT = nn.initializers.variance_scaling(1.0, "fan_in", "normal")


class Kernel(nn.Module):
    """Declares one float32 ``kernel`` parameter and returns it.

    Layers that run several of T5X's kernels as one product (query, key and
    value; ``wi_0`` and ``wi_1``) keep each kernel under its own T5X name with
    this module and concatenate them at compute time, so checkpoints keep
    T5X's parameter tree while the product is one wider matmul.

    Attributes:
        shape: The kernel's shape.
        init: Its initialiser.
    """

    shape: tuple[int, ...]
    init: nn.initializers.Initializer

    @nn.compact
    def __call__(self) -> jax.Array:
        return self.param("kernel", self.init, self.shape, jnp.float32)


def split_heads(y: jax.Array, parts: int, num_heads: int, head_dim: int) -> jax.Array:
    """``[batch, length, parts * heads * head_dim]`` -> ``[parts, batch, heads, length, dim]``."""
    batch, length, _ = y.shape
    return y.reshape(batch, length, parts, num_heads, head_dim).transpose(2, 0, 3, 1, 4)


class MultiHeadAttention(nn.Module):
    """Multi-head dot-product attention without biases or logit scaling.

    Kernels are stored as T5X stores them, 2-D ``[emb, heads * head_dim]``
    (column ``h * head_dim + d`` is head ``h``, dimension ``d``) for
    ``query``, ``key`` and ``value`` and ``[heads * head_dim, emb]`` for
    ``out``, so T5X checkpoints load without reshaping. The computation is
    laid out head-major: each projection is a 2-D matmul followed by a
    transpose, which XLA:CPU runs several times faster than T5X's multi-axis
    einsums over 3-D views of the kernels. In float32 the projections that
    read the same input run as one product (query, key and value in
    self-attention; key and value in cross-attention), about 7% faster per
    step; in bfloat16 they run apart, because the fused product's backward
    pass interleaves their gradients into one strided bfloat16 concatenation
    that XLA:CPU runs slowly (about 12% of the step). Both measured
    alternately in one process on the anchor workload of
    ``bench/train_throughput.py``.

    Attributes:
        num_heads: Attention heads.
        head_dim: Width of each head.
        dropout_rate: Dropout on the attention weights.
        dtype: Activation dtype.
    """

    num_heads: int
    head_dim: int
    dropout_rate: float = 0.0
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, inputs_q, inputs_kv, bias, deterministic: bool, cache=None):
        """Attends from ``inputs_q`` to ``inputs_kv`` (the same array: self-attention).

        Args:
            inputs_q: ``[batch, q, emb]`` queries.
            inputs_kv: ``[batch, k, emb]`` keys and values.
            bias: Additive float32 bias broadcastable to ``[batch, heads, q, k]``
                (relative positions and ``-1e10`` where attention is masked), or None.
            deterministic: Whether dropout is off.
            cache: For decoding with a key/value cache (the ``"cache"``
                collection, mutable), a :class:`CachePosition`; None without
                one. The first call sets the cache up: room for ``cache.length``
                positions in self-attention, the keys and values of
                ``inputs_kv`` (the encodings) in cross-attention. Each later
                call takes the next positions, ``inputs_q = [batch, n, emb]``:
                self-attention writes their keys and values from ``cache.index``
                on and attends over the whole cache (``bias`` masks positions
                not yet written); cross-attention reuses the cached keys and
                values and ignores ``inputs_kv``.
        """
        emb_dim = inputs_q.shape[-1]
        inner = self.num_heads * self.head_dim
        full_precision = jnp.dtype(self.dtype) == jnp.float32

        def query_init(key, shape, dtype=jnp.float32):
            # T5 folds 1/sqrt(head_dim) into the query initialisation instead of the
            # logits: variance 1/(emb * head_dim) instead of 1/emb.
            return _ATTENTION_INIT(key, shape, dtype) / self.head_dim**0.5

        query = Kernel((emb_dim, inner), query_init, name="query")()
        key = Kernel((emb_dim, inner), _ATTENTION_INIT, name="key")()
        value = Kernel((emb_dim, inner), _ATTENTION_INIT, name="value")()
        out = Kernel((inner, emb_dim), _ATTENTION_INIT, name="out")()

        def project(inputs, *kernels):
            y = flat_matmul(inputs, jnp.concatenate(kernels, axis=1), self.dtype)
            return split_heads(y, len(kernels), self.num_heads, self.head_dim)

        self_attention = inputs_kv is inputs_q
        stepping = cache is not None and self.has_variable("cache", "cached_key")
        if stepping and not self_attention:  # keys and values of the encodings, cached
            (q,) = project(inputs_q, query)
            k, v = (
                self.get_variable("cache", "cached_key"),
                self.get_variable("cache", "cached_value"),
            )
        elif not full_precision:  # apart (see the class docstring)
            (q,), (k,), (v,) = (
                project(inputs_q, query),
                project(inputs_kv, key),
                project(inputs_kv, value),
            )
        elif self_attention:
            q, k, v = project(inputs_q, query, key, value)
        else:
            (q,), (k, v) = project(inputs_q, query), project(inputs_kv, key, value)

        if cache is not None and not stepping:  # set the cache up
            for name, new in (("cached_key", k), ("cached_value", v)):
                if self_attention:  # room for every position, [batch, heads, length, dim]
                    shape = (*new.shape[:2], cache.length, new.shape[-1])
                    self.variable("cache", name, jnp.zeros, shape, new.dtype)
                else:  # the encodings' keys and values, kept
                    self.variable("cache", name, lambda a: a, new)
        elif stepping and self_attention:  # these positions' keys and values join the cache
            updated = []
            for name, new in (("cached_key", k), ("cached_value", v)):
                cached = self.variable("cache", name)
                cached.value = jax.lax.dynamic_update_slice(
                    cached.value, new.astype(cached.value.dtype), (0, 0, cache.index, 0)
                )
                updated.append(cached.value)
            k, v = updated

        if full_precision:
            logits = q @ jnp.swapaxes(k, -1, -2)  # [b, h, q, k]
        else:  # bfloat16 operands, float32 scores: the softmax needs them anyway
            logits = mixed_einsum("bhqd,bhkd->bhqk", q, k, jnp.float32, self.dtype)
        if bias is not None:
            logits = logits + bias
        weights = rounded_softmax(logits, jnp.dtype(self.dtype))
        weights = nn.Dropout(self.dropout_rate)(weights, deterministic=deterministic)
        if full_precision:
            mixed = weights @ v
        else:
            mixed = mixed_einsum("bhqk,bhkd->bhqd", weights, v, self.dtype, self.dtype)
        batch, _, length, _ = mixed.shape
        mixed = mixed.transpose(0, 2, 1, 3).reshape(batch, length, inner)
        return flat_matmul(mixed, out, self.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def rounded_softmax(logits: jax.Array, dtype) -> jax.Array:
    """``softmax(logits)`` over the last axis, computed in float32 and returned in ``dtype``.

    The backward pass reads the returned (rounded) weights, the ones the
    attention product used, instead of a float32 copy that autodiff would
    keep for it. In bfloat16 that spares writing and re-reading a float32
    ``[batch, heads, q, k]`` array per attention layer: the anchor's bf16
    step ran 1.03-1.20x faster (median 1.12x, 7 rounds measured alternately
    in one process). The gradient stays within bfloat16 rounding of the
    exact one, as precise as T5X's default of bfloat16 attention logits;
    in float32 nothing is rounded and the result equals ``jax.nn.softmax``'s.
    """
    return jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(dtype)


def _rounded_softmax_forward(logits, dtype):
    weights = rounded_softmax(logits, dtype)
    return weights, (weights, jnp.zeros((0,), logits.dtype))  # the second: the logits' dtype


def _rounded_softmax_backward(dtype, residuals, g):
    weights, logits_dtype = residuals
    y, g = weights.astype(jnp.float32), g.astype(jnp.float32)
    return ((y * (g - jnp.sum(g * y, axis=-1, keepdims=True))).astype(logits_dtype.dtype),)


rounded_softmax.defvjp(_rounded_softmax_forward, _rounded_softmax_backward)


def _gelu_and_derivative(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """T5's tanh-approximated GELU of ``a`` and its derivative, in float32."""
    c = (2.0 / jnp.pi) ** 0.5
    inner = c * (a + 0.044715 * a**3)
    t = jnp.tanh(inner)
    gelu = 0.5 * a * (1.0 + t)
    derivative = 0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * a * a)
    return gelu, derivative


@jax.custom_vjp
def gated_gelu(both: jax.Array) -> jax.Array:
    """``gelu(a) * b`` for ``both = [a | b]`` split in halves along the last axis.

    Computed in float32 and returned in ``both``'s dtype. The gradient is
    written out as one concatenation of the two halves' gradients: autodiff's
    version (two pads and an add) made XLA:CPU fuse the whole backward pass
    of the block into one loop that recomputed it for each half.
    """
    return _gated_gelu_forward(both)[0]


def _gated_gelu_forward(both):
    a, b = jnp.split(both.astype(jnp.float32), 2, axis=-1)
    gelu, _ = _gelu_and_derivative(a)
    return (gelu * b).astype(both.dtype), both


def _gated_gelu_backward(both, g):
    a, b = jnp.split(both.astype(jnp.float32), 2, axis=-1)
    gelu, derivative = _gelu_and_derivative(a)
    g = g.astype(jnp.float32)
    return (jnp.concatenate([g * b * derivative, g * gelu], axis=-1).astype(both.dtype),)


gated_gelu.defvjp(_gated_gelu_forward, _gated_gelu_backward)


class GatedGeluMlp(nn.Module):
    """``wo(gelu(wi_0 x) * wi_1 x)``: T5 v1.1's feed-forward block.

    ``wi_0`` and ``wi_1`` are kept as T5X's two kernels and run as one
    product over their concatenation.
    """

    mlp_dim: int
    dropout_rate: float = 0.0
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, deterministic: bool):
        shape = (x.shape[-1], self.mlp_dim)
        wi_0 = Kernel(shape, _DENSE_INIT, name="wi_0")()
        wi_1 = Kernel(shape, _DENSE_INIT, name="wi_1")()
        both = flat_matmul(x, jnp.concatenate([wi_0, wi_1], axis=1), self.dtype)
        hidden = gated_gelu(both)
        hidden = nn.Dropout(self.dropout_rate)(hidden, deterministic=deterministic)
        return Dense(x.shape[-1], dtype=self.dtype, name="wo")(hidden)


class EncoderLayer(nn.Module):
    """Pre-norm self-attention then feed-forward, each with a residual."""

    config: T5Config

    @nn.compact
    def __call__(self, x, bias, deterministic: bool):
        cfg, dtype = self.config, _dtype(self.config)
        y = RMSNorm(cfg.layer_norm_epsilon, dtype, name="pre_attention_layer_norm")(x)
        y = MultiHeadAttention(
            cfg.num_heads, cfg.head_dim, cfg.dropout_rate, dtype, name="attention"
        )(y, y, bias, deterministic)
        x = x + nn.Dropout(cfg.dropout_rate)(y, deterministic=deterministic)
        y = RMSNorm(cfg.layer_norm_epsilon, dtype, name="pre_mlp_layer_norm")(x)
        y = GatedGeluMlp(cfg.mlp_dim, cfg.dropout_rate, dtype, name="mlp")(y, deterministic)
        return x + nn.Dropout(cfg.dropout_rate)(y, deterministic=deterministic)


class DecoderLayer(nn.Module):
    """Pre-norm causal self-attention, cross-attention, then feed-forward."""

    config: T5Config

    @nn.compact
    def __call__(self, x, encoded, self_bias, cross_bias, deterministic: bool, cache=None):
        cfg, dtype = self.config, _dtype(self.config)
        y = RMSNorm(cfg.layer_norm_epsilon, dtype, name="pre_self_attention_layer_norm")(x)
        y = MultiHeadAttention(
            cfg.num_heads, cfg.head_dim, cfg.dropout_rate, dtype, name="self_attention"
        )(y, y, self_bias, deterministic, cache)
        x = x + nn.Dropout(cfg.dropout_rate)(y, deterministic=deterministic)
        y = RMSNorm(cfg.layer_norm_epsilon, dtype, name="pre_cross_attention_layer_norm")(x)
        y = MultiHeadAttention(
            cfg.num_heads, cfg.head_dim, cfg.dropout_rate, dtype, name="encoder_decoder_attention"
        )(y, encoded, cross_bias, deterministic, cache)
        x = x + nn.Dropout(cfg.dropout_rate)(y, deterministic=deterministic)
        y = RMSNorm(cfg.layer_norm_epsilon, dtype, name="pre_mlp_layer_norm")(x)
        y = GatedGeluMlp(cfg.mlp_dim, cfg.dropout_rate, dtype, name="mlp")(y, deterministic)
        return x + nn.Dropout(cfg.dropout_rate)(y, deterministic=deterministic)


def attention_mask(q_ids: jax.Array, k_ids: jax.Array) -> jax.Array:
    """``[batch, 1, q, k]`` mask: attend only within the same non-padding segment.

    Args:
        q_ids: ``[batch, q]`` segment ids of the queries (0 = padding).
        k_ids: ``[batch, k]`` segment ids of the keys (0 = padding).
    """
    same = q_ids[:, :, None] == k_ids[:, None, :]
    valid = (q_ids[:, :, None] > 0) & (k_ids[:, None, :] > 0)
    return (same & valid)[:, None]


def attention_bias(mask: jax.Array, position_bias: jax.Array | None = None) -> jax.Array:
    """The additive float32 bias of a stack's attention layers, computed once per stack.

    ``position_bias`` where ``mask`` allows attention, ``-1e10`` where it does
    not (as T5X turns masks into biases). Every layer of a stack adds the same
    array to its logits, so the mask is applied once per stack, not per layer.

    Args:
        mask: ``[batch, 1, q, k]`` booleans.
        position_bias: ``[1, heads, q, k]`` relative-position bias, or None.

    Returns:
        ``[batch, heads, q, k]`` (``[batch, 1, q, k]`` without a position bias).
    """
    if position_bias is None:
        return jnp.where(mask, 0.0, _NEG_INF).astype(jnp.float32)
    return _masked_position_bias(mask, position_bias)


@jax.custom_vjp
def _masked_position_bias(mask: jax.Array, position_bias: jax.Array) -> jax.Array:
    return jnp.where(mask, position_bias.astype(jnp.float32), _NEG_INF)


def _masked_position_bias_forward(mask, position_bias):
    return _masked_position_bias(mask, position_bias), (mask, position_bias)


def _masked_position_bias_backward(residuals, g):
    mask, position_bias = residuals
    masked = jnp.where(mask, g, 0.0)
    # The sum over the batch as a chain of adds, which XLA fuses into one pass over the
    # cotangent; XLA:CPU's library reduction over a leading axis of a [batch, heads, q, k]
    # array ran ~40x slower than that.
    total = masked[0]
    for row in range(1, masked.shape[0]):
        total = total + masked[row]
    return None, total[None].astype(position_bias.dtype)


_masked_position_bias.defvjp(_masked_position_bias_forward, _masked_position_bias_backward)


class Encoder(nn.Module):
    """Token embedding (shared, passed in), encoder layers, final norm."""

    config: T5Config
    shared_embedding: nn.Module

    @nn.compact
    def __call__(self, tokens, segment_ids, deterministic: bool):
        cfg, dtype = self.config, _dtype(self.config)
        length = tokens.shape[-1]
        position_bias = RelativePositionBiases(
            cfg.relative_attention_num_buckets,
            cfg.relative_attention_max_distance,
            cfg.num_heads,
            dtype,
            name="relpos_bias",
        )(length, length, True)
        bias = attention_bias(attention_mask(segment_ids, segment_ids), position_bias)
        x = self.shared_embedding(tokens).astype(dtype)
        x = nn.Dropout(cfg.dropout_rate)(x, deterministic=deterministic)
        for i in range(cfg.num_encoder_layers):
            x = EncoderLayer(cfg, name=f"layers_{i}")(x, bias, deterministic)
        x = RMSNorm(cfg.layer_norm_epsilon, dtype, name="encoder_norm")(x)
        return nn.Dropout(cfg.dropout_rate)(x, deterministic=deterministic)


class Decoder(nn.Module):
    """Decoder layers over shifted targets, final norm and the output projection."""

    config: T5Config
    shared_embedding: nn.Module

    @nn.compact
    def __call__(
        self,
        encoded,
        decoder_input_tokens,
        decoder_segment_ids,
        encoder_segment_ids,
        deterministic: bool,
        use_cache: bool = False,
    ):
        cfg, dtype = self.config, _dtype(self.config)
        length = decoder_input_tokens.shape[-1]
        relative_position_bias = RelativePositionBiases(
            cfg.relative_attention_num_buckets,
            cfg.relative_attention_max_distance,
            cfg.num_heads,
            dtype,
            name="relpos_bias",
        )
        cache, stepping = None, False
        if use_cache:
            stepping = self.has_variable("cache", "index")
            index = self.variable("cache", "index", lambda: jnp.zeros((), jnp.int32))
            # The cache's positions; their count is the longest output it can hold.
            positions = self.variable(
                "cache", "positions", lambda: jnp.arange(length, dtype=jnp.int32)
            )
            cache = CachePosition(index.value, positions.value.shape[0])
            if not stepping:
                # Setting the cache up needs the encodings' keys and values and the cache's
                # length, not the placeholder tokens: one position is enough to run.
                decoder_input_tokens = decoder_input_tokens[:, :1]
                decoder_segment_ids = decoder_segment_ids[:, :1]
                length = 1
        if stepping:  # new positions, each attending to the cached ones up to itself
            query_positions = cache.index + jnp.arange(length, dtype=jnp.int32)
            position_bias = relative_position_bias(length, cache.length, False, cache.index)
            self_mask = (positions.value[None, :] <= query_positions[:, None])[None, None]
            index.value = cache.index + length
        else:
            position_bias = relative_position_bias(length, length, False)
            causal = jnp.tril(jnp.ones((length, length), dtype=bool))[None, None]
            self_mask = attention_mask(decoder_segment_ids, decoder_segment_ids) & causal
        self_bias = attention_bias(self_mask, position_bias)
        cross_bias = attention_bias(attention_mask(decoder_segment_ids, encoder_segment_ids))
        y = self.shared_embedding(decoder_input_tokens).astype(dtype)
        y = nn.Dropout(cfg.dropout_rate)(y, deterministic=deterministic)
        for i in range(cfg.num_decoder_layers):
            y = DecoderLayer(cfg, name=f"layers_{i}")(
                y, encoded, self_bias, cross_bias, deterministic, cache
            )
        y = RMSNorm(cfg.layer_norm_epsilon, dtype, name="decoder_norm")(y)
        y = nn.Dropout(cfg.dropout_rate)(y, deterministic=deterministic)
        # Logits always come out in float32 (the loss and decoding need them); in bfloat16
        # the product takes bfloat16 operands and accumulates in float32, like every other.
        if jnp.dtype(dtype) == jnp.float32:
            y = y.astype(jnp.float32)
        return Dense(cfg.vocab_size, dtype=dtype, out_dtype=jnp.float32, name="logits_dense")(y)


class Transformer(nn.Module):
    """The full encoder-decoder. Call it, or use :meth:`encode` / :meth:`decode`."""

    config: T5Config

    def setup(self):
        if self.config.vocab_size <= 0:
            raise ValueError(
                "T5Config.vocab_size is unresolved; call config.with_vocab_size(n) first"
            )
        self.token_embedder = nn.Embed(
            self.config.vocab_size,
            self.config.emb_dim,
            embedding_init=nn.initializers.normal(stddev=1.0),
            param_dtype=jnp.float32,
        )
        self.encoder = Encoder(self.config, self.token_embedder)
        self.decoder = Decoder(self.config, self.token_embedder)

    def encode(self, encoder_input_tokens, encoder_segment_ids=None, deterministic: bool = True):
        """Returns ``[batch, length, emb_dim]`` encodings of the inputs."""
        if encoder_segment_ids is None:
            encoder_segment_ids = (encoder_input_tokens > 0).astype(jnp.int32)
        return self.encoder(encoder_input_tokens, encoder_segment_ids, deterministic)

    def decode(
        self,
        encoded,
        encoder_segment_ids,
        decoder_input_tokens,
        decoder_segment_ids=None,
        deterministic: bool = True,
        use_cache: bool = False,
    ):
        """Returns ``[batch, length, vocab]`` logits for teacher-forced decoder inputs.

        With ``use_cache`` (apply with ``mutable=["cache"]``), the first call
        sets up a key/value cache for outputs as long as
        ``decoder_input_tokens`` (only their shape counts; its logits are
        not meant to be used) and every later call decodes the next
        positions, ``decoder_input_tokens = [batch, n]`` (one at a time when
        generating): their logits equal the teacher-forced ones at those
        positions, without recomputing the earlier positions or the
        encodings' keys and values. Calls with a cache assume unpacked
        outputs (one segment per row). See
        :func:`flawn.models.decoding.init_cache`.
        """
        if decoder_segment_ids is None:
            # Unpacked decoding: every position belongs to segment 1 (the causal mask
            # hides what comes later), so the leading 0 "start" token is attended to.
            decoder_segment_ids = jnp.ones_like(decoder_input_tokens)
        return self.decoder(
            encoded,
            decoder_input_tokens,
            decoder_segment_ids,
            encoder_segment_ids,
            deterministic,
            use_cache,
        )

    def __call__(
        self,
        encoder_input_tokens,
        decoder_input_tokens,
        encoder_segment_ids=None,
        decoder_segment_ids=None,
        deterministic: bool = True,
    ):
        if encoder_segment_ids is None:
            encoder_segment_ids = (encoder_input_tokens > 0).astype(jnp.int32)
        encoded = self.encode(encoder_input_tokens, encoder_segment_ids, deterministic)
        return self.decode(
            encoded, encoder_segment_ids, decoder_input_tokens, decoder_segment_ids, deterministic
        )
