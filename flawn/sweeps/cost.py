"""What a run costs before it runs: tokens, FLOPs and accelerator-hours on a named target.

FLOPs are the exact encoder-decoder count of :mod:`flawn.models.flops`
(padded lengths, as the hardware computes them). Hours are
``FLOPs / (peak * MFU)``: peak is the chip's dense bf16 rate from its
vendor's data sheet, and MFU (model FLOPs utilisation) is an assumption the
plan states (default 40%, typical of T5X on TPU for these sizes). The
``host`` target is this machine, with its peak *measured*: a jitted float32
matmul timed in this process, so it is what JAX achieves here, not a data sheet.
"""

from __future__ import annotations

import dataclasses
import functools
import time

#: The default model FLOPs utilisation assumed for hours.
DEFAULT_MFU = 0.4


@dataclasses.dataclass(frozen=True)
class Target:
    """An accelerator to estimate hours on.

    Attributes:
        name: What users pass (``--target``).
        label: Human-readable.
        peak_flops: Dense bf16 FLOP/s of one chip (``None``: measured, the host).
        source: Where the figure comes from.
    """

    name: str
    label: str
    peak_flops: float | None
    source: str


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("host", "this host (measured)", None, "jitted fp32 matmul, measured now"),
        Target("tpu_v4", "TPU v4 chip", 275e12, "Google Cloud TPU v4 data sheet, bf16"),
        Target("tpu_v5e", "TPU v5e chip", 197e12, "Google Cloud TPU v5e data sheet, bf16"),
        Target("tpu_v5p", "TPU v5p chip", 459e12, "Google Cloud TPU v5p data sheet, bf16"),
        Target("a100", "NVIDIA A100", 312e12, "NVIDIA A100 data sheet, dense bf16"),
        Target("h100", "NVIDIA H100 SXM", 989e12, "NVIDIA H100 data sheet, dense bf16"),
    )
}


def get_target(name: str) -> Target:
    """A target by name.

    Raises:
        ConfigError: For an unknown name, listing the known ones.
    """
    from flawn.errors import ConfigError

    if name not in TARGETS:
        raise ConfigError(f"unknown cost target {name!r}; known: {', '.join(TARGETS)}")
    return TARGETS[name]


@functools.cache
def measured_host_flops(size: int = 1024, repeats: int = 8) -> float:
    """FLOP/s of a jitted ``size x size`` float32 matmul chain on this host (measured once)."""
    import jax
    import jax.numpy as jnp

    @jax.jit
    def chain(a, b):
        for _ in range(repeats):
            a = a @ b
        return a

    a = jnp.ones((size, size), jnp.float32) / size
    b = jnp.ones((size, size), jnp.float32) / size
    chain(a, b).block_until_ready()  # compile
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        chain(a, b).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 * repeats / best


def peak_flops(target: Target) -> float:
    """The target's peak FLOP/s (measured for the host)."""
    return target.peak_flops if target.peak_flops is not None else measured_host_flops()


@dataclasses.dataclass(frozen=True)
class StageCost:
    """The cost of one training stage.

    Attributes:
        stage: The stage's name.
        steps: Its steps.
        tokens: Input plus target positions processed (padded, as computed).
        flops: Exact training FLOPs (forward and backward).
        six_nd: The 6 x parameters x tokens rule of thumb, for comparison.
    """

    stage: str
    steps: int
    tokens: float
    flops: float
    six_nd: float


def stage_cost(
    stage: str,
    shape,
    vocab_size: int,
    lengths,
    batch_size: int,
    steps: int,
) -> StageCost:
    """The cost of ``steps`` training steps of a model of ``shape``."""
    from flawn.models.flops import count_parameters, six_nd, train_step_flops

    per_step = train_step_flops(
        shape, vocab_size, lengths["inputs"], lengths["targets"], batch_size
    )
    parameters = count_parameters(shape, vocab_size).total
    return StageCost(
        stage,
        steps,
        float(steps * batch_size * (lengths["inputs"] + lengths["targets"])),
        steps * per_step.total,
        steps * six_nd(parameters, lengths["inputs"], lengths["targets"], batch_size),
    )


def hours(flops: float, target: Target, mfu: float = DEFAULT_MFU) -> float:
    """Accelerator-hours (chip-hours) for ``flops`` at ``mfu`` of the target's peak."""
    if not 0 < mfu <= 1:
        raise ValueError(f"MFU must be in (0, 1], got {mfu}")
    return flops / (peak_flops(target) * mfu) / 3600.0
