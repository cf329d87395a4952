"""A size's parameters, training FLOPs and memory, in words (``flawn model info``)."""

from __future__ import annotations

from flawn.models.flops import (
    count_parameters,
    optimizer_state_size,
    six_nd,
    train_step_flops,
)
from flawn.models.sizes import T5_VOCAB_SIZE, get_size

_GIB = 1024**3


def describe_size(name: str, vocab: int | None, inputs: int, targets: int, batch_size: int) -> str:
    """The report ``flawn model info`` prints."""
    size = get_size(name)
    vocab = vocab or size.vocab_size or T5_VOCAB_SIZE
    count = count_parameters(size.shape, vocab)
    flops = train_step_flops(size.shape, vocab, inputs, targets, batch_size)
    rough = six_nd(count.total, inputs, targets, batch_size)
    shape = ", ".join(f"{k} {v}" for k, v in size.shape.items())
    lines = [
        f"{size.name}: {size.description} ({shape}; vocabulary {vocab:,})",
        "",
        "parameters:",
        f"  embedding      {count.embedding:>16,}",
        f"  encoder        {count.encoder:>16,}",
        f"  decoder        {count.decoder:>16,}",
        f"  output layer   {count.output:>16,}",
        f"  total          {count.total:>16,}",
        "",
        f"one training step, batch {batch_size} x ({inputs} inputs + {targets} targets), "
        "forward + backward:",
    ]
    for part, value in (
        ("encoder projections + MLP", flops.encoder),
        ("encoder attention scores", flops.encoder_attention),
        ("decoder projections + MLP", flops.decoder),
        ("decoder attention scores", flops.decoder_attention),
        ("cross-attention keys/values", flops.cross_attention_kv),
        ("output layer", flops.logits),
    ):
        lines.append(f"  {part:<30} {value:>12.4g} FLOPs")
    lines += [
        f"  {'total':<30} {flops.total:>12.4g} FLOPs",
        f"  {'6ND (decoder-only rule)':<30} {rough:>12.4g} FLOPs ({rough / flops.total:.2f}x)",
        "",
        "memory, parameters + optimizer state:         float32    bfloat16",
    ]
    adafactor = optimizer_state_size(size.shape, vocab, "adafactor")
    adamw = optimizer_state_size(size.shape, vocab, "adamw")
    for label, numbers in (
        ("parameters alone", count.total),
        (f"+ Adafactor, T5X's ({adafactor:,} statistics)", count.total + adafactor),
        ("+ AdamW (two moments per parameter)", count.total + adamw),
    ):
        lines.append(f"  {label:<42} {_gib(numbers, 4):>10} {_gib(numbers, 2):>11}")
    lines.append("  (flawn's bf16 training keeps float32 parameters and state: the float32 column)")
    return "\n".join(lines)


def _gib(numbers: int, width: int) -> str:
    return f"{numbers * width / _GIB:.2f} GiB"
