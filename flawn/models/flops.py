"""Parameter counts and the exact FLOPs of a T5 encoder-decoder training step.

``6 * parameters * tokens`` (6ND) is a decoder-only rule of thumb; for an
encoder-decoder it is wrong twice over: encoder parameters only see input
tokens and decoder parameters only target tokens, and the decoder's
cross-attention projects every *encoder* position in every decoder layer.
This module counts the matrix multiplications one step actually performs.

Counted: every matmul of the forward pass (2 FLOPs per multiply-add), with
attention scores and attention-weighted values over the full padded lengths,
as the model computes them (masks are applied to full score matrices, so a
causal mask saves nothing). A training step is three forward passes' worth:
the backward pass costs two (gradients with respect to activations and to
weights). Not counted: norms, softmax, activations, the embedding lookup and
the optimizer update; each is linear in width, not quadratic, and well under
1% at the sizes where the estimate matters.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class ParameterCount:
    """Parameters of a T5 v1.1 encoder-decoder (untied output layer).

    Attributes:
        embedding: The shared input embedding (``vocab * emb``).
        encoder: Encoder layers, its relative position bias and final norm.
        decoder: Decoder layers, its relative position bias and final norm.
        output: The untied output projection (``emb * vocab``).
    """

    embedding: int
    encoder: int
    decoder: int
    output: int

    @property
    def total(self) -> int:
        """All parameters."""
        return self.embedding + self.encoder + self.decoder + self.output


def count_parameters(
    shape: Mapping[str, int], vocab_size: int, relative_attention_num_buckets: int = 32
) -> ParameterCount:
    """Counts the parameters of a model of ``shape`` with ``vocab_size`` rows.

    Args:
        shape: ``emb_dim``, ``num_heads``, ``head_dim``, ``mlp_dim``,
            ``num_encoder_layers``, ``num_decoder_layers``.
        vocab_size: Rows of the embedding and the output layer.
        relative_attention_num_buckets: Buckets of each stack's position bias.
    """
    parts = parameter_shapes(shape, vocab_size, relative_attention_num_buckets)
    return ParameterCount(
        **{part: sum(math.prod(dims) for dims in shapes) for part, shapes in parts.items()}
    )


def parameter_shapes(
    shape: Mapping[str, int], vocab_size: int, relative_attention_num_buckets: int = 32
) -> dict[str, list[tuple[int, ...]]]:
    """The shape of every parameter array by part, in T5X's layout (what the optimizer sees).

    Kernels are 2-D (``[emb, heads * head_dim]`` for query, key and value,
    ``[heads * head_dim, emb]`` for the attention output, ``[emb, mlp]`` for
    the gated MLP's ``wi_0`` and ``wi_1``, ``[mlp, emb]`` for ``wo``), norm
    scales 1-D and each stack's relative position bias ``[heads, buckets]``.

    Returns:
        ``{"embedding", "encoder", "decoder", "output"}``, the parts of
        :class:`ParameterCount`, each a list of shapes.
    """
    emb, mlp = shape["emb_dim"], shape["mlp_dim"]
    inner = shape["num_heads"] * shape["head_dim"]
    attention = [(emb, inner)] * 3 + [(inner, emb)]  # query, key, value, out
    gated_mlp = [(emb, mlp), (emb, mlp), (mlp, emb)]  # wi_0, wi_1, wo
    stack_end = [(shape["num_heads"], relative_attention_num_buckets), (emb,)]  # bias, norm
    encoder_layer = attention + gated_mlp + [(emb,)] * 2  # two RMS norm scales
    decoder_layer = attention * 2 + gated_mlp + [(emb,)] * 3
    return {
        "embedding": [(vocab_size, emb)],
        "encoder": encoder_layer * shape["num_encoder_layers"] + stack_end,
        "decoder": decoder_layer * shape["num_decoder_layers"] + stack_end,
        "output": [(emb, vocab_size)],
    }


def optimizer_state_size(
    shape: Mapping[str, int],
    vocab_size: int,
    optimizer: str = "adafactor",
    min_dim_size_to_factor: int = 128,
    momentum: bool = False,
) -> int:
    """Numbers the optimizer keeps per model (its statistics; step counters left out).

    Args:
        shape: The model's shape (see :func:`count_parameters`).
        vocab_size: Rows of the embedding and the output layer.
        optimizer: ``adafactor`` (T5X's, as :mod:`flawn.train.optim` builds it)
            or ``adamw`` (two moments per parameter).
        min_dim_size_to_factor: Adafactor factors a parameter's second moments
            (one number per row and per column of its two largest dimensions)
            only when both are at least this size; smaller ones keep them whole.
        momentum: Adafactor with ``beta1`` set also keeps a first moment per parameter.
    """
    shapes = [dims for part in parameter_shapes(shape, vocab_size).values() for dims in part]
    parameters = sum(math.prod(dims) for dims in shapes)
    if optimizer == "adamw":
        return 2 * parameters
    if optimizer != "adafactor":
        raise ValueError(f"optimizer must be 'adafactor' or 'adamw', got {optimizer!r}")
    total = parameters if momentum else 0
    for dims in shapes:
        size = math.prod(dims)
        *_, second, largest = sorted((0, *dims))
        if second >= min_dim_size_to_factor:
            total += size // largest + size // second
        else:
            total += size
    return total


@dataclasses.dataclass(frozen=True)
class StepFlops:
    """FLOPs of one training step, by part (forward and backward together).

    Attributes:
        encoder: Encoder projections and MLPs on input tokens.
        encoder_attention: Encoder attention scores and weighted values.
        decoder: Decoder self-attention projections, cross-attention query and
            output projections, and MLPs, on target tokens.
        decoder_attention: Decoder self- and cross-attention scores and weighted values.
        cross_attention_kv: Cross-attention key and value projections of the
            encoder outputs, once per decoder layer.
        logits: The output layer on target tokens.
    """

    encoder: float
    encoder_attention: float
    decoder: float
    decoder_attention: float
    cross_attention_kv: float
    logits: float

    @property
    def total(self) -> float:
        """All counted FLOPs of the step."""
        return sum(dataclasses.astuple(self))


#: Forward plus backward: the backward pass costs two forward passes.
TRAIN_MULTIPLIER = 3


def train_step_flops(
    shape: Mapping[str, int],
    vocab_size: int,
    input_length: int,
    target_length: int,
    batch_size: int,
    multiplier: int = TRAIN_MULTIPLIER,
) -> StepFlops:
    """FLOPs of one step on ``batch_size`` rows of the given (padded) lengths.

    Args:
        shape: The model's shape (see :func:`count_parameters`).
        vocab_size: Rows of the output layer.
        input_length: Encoder positions per row.
        target_length: Decoder positions per row.
        batch_size: Rows per step.
        multiplier: 3 for training (forward + backward), 1 for a forward pass.
    """
    emb, heads, head_dim, mlp = (
        shape["emb_dim"],
        shape["num_heads"],
        shape["head_dim"],
        shape["mlp_dim"],
    )
    inner = heads * head_dim
    n_enc, n_dec = shape["num_encoder_layers"], shape["num_decoder_layers"]
    enc_tokens = batch_size * input_length
    dec_tokens = batch_size * target_length
    mlp_per_token = 2 * 3 * emb * mlp
    # Encoder: q, k, v and out projections plus the MLP on every input token.
    encoder = n_enc * enc_tokens * (2 * 4 * emb * inner + mlp_per_token)
    # Scores (q . k) and weighted values, each 2 * length * inner per query token.
    encoder_attention = n_enc * enc_tokens * 2 * (2 * input_length * inner)
    # Decoder: self-attention q, k, v, out; cross-attention q and out; MLP.
    decoder = n_dec * dec_tokens * (2 * 6 * emb * inner + mlp_per_token)
    decoder_attention = (
        n_dec * dec_tokens * 2 * (2 * target_length * inner + 2 * input_length * inner)
    )
    cross_attention_kv = n_dec * enc_tokens * 2 * 2 * emb * inner
    logits = dec_tokens * 2 * emb * vocab_size
    parts = (encoder, encoder_attention, decoder, decoder_attention, cross_attention_kv, logits)
    return StepFlops(*(float(multiplier * p) for p in parts))


def six_nd(parameters: int, input_length: int, target_length: int, batch_size: int) -> float:
    """The decoder-only rule of thumb, for comparison: 6 x parameters x all tokens."""
    return 6.0 * parameters * batch_size * (input_length + target_length)
