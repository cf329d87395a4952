"""Model FLOPs utilisation: the model's FLOPs per second over what the devices could do.

The model's FLOPs are the exact count of :func:`flawn.models.flops.train_step_flops`
(padded lengths, as the hardware computes them; no rematerialisation counted).
The peak is, per device kind:

* **CPU**: measured, with :func:`flawn.sweeps.cost.measured_host_flops` (a
  jitted float32 matmul on this host, all of its cores, timed once per
  process), so CPU MFU says how close the step gets to what JAX achieves
  here. Forced host devices (``--xla_force_host_platform_device_count``)
  share those cores, so the host's peak is not multiplied by their number.
* **TPU and GPU**: the chip's dense bf16 rate from the vendor's data sheet
  (the figures of :data:`flawn.sweeps.cost.TARGETS`, plus H200), times the
  number of devices. A chip not in the table has no peak, and MFU is not logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flawn.models.config import T5Config
from flawn.models.flops import train_step_flops

#: Dense bf16 FLOP/s of one device, by a lower-case substring of ``device_kind``.
_PEAKS: tuple[tuple[str, str], ...] = (
    ("tpu v4", "tpu_v4"),
    ("tpu v5 lite", "tpu_v5e"),
    ("tpu v5e", "tpu_v5e"),
    ("tpu v5p", "tpu_v5p"),
    ("tpu v5", "tpu_v5p"),
    ("a100", "a100"),
    ("h100", "h100"),
)
#: H200: the H100's tensor cores (same dense bf16 peak), with more, faster memory.
_H200_PEAK = 989e12


def step_flops(model: T5Config, lengths: dict[str, int], batch_size: int) -> float:
    """FLOPs of one training step of ``model`` (resolved vocabulary size) on padded rows."""
    shape = {
        name: getattr(model, name)
        for name in (
            "emb_dim",
            "num_heads",
            "head_dim",
            "mlp_dim",
            "num_encoder_layers",
            "num_decoder_layers",
        )
    }
    return train_step_flops(
        shape, model.vocab_size, lengths["inputs"], lengths["targets"], batch_size
    ).total


def peak_flops(devices: Sequence[Any]) -> tuple[float | None, str]:
    """The peak FLOP/s of ``devices`` together, and where the figure comes from."""
    from flawn.sweeps import cost

    first = devices[0]
    if first.platform == "cpu":
        return cost.measured_host_flops(), "measured host matmul (float32)"
    kind = str(getattr(first, "device_kind", "")).lower()
    if "h200" in kind:
        return _H200_PEAK * len(devices), f"{first.device_kind} data sheet (dense bf16)"
    for needle, target in _PEAKS:
        if needle in kind:
            peak = cost.TARGETS[target].peak_flops
            return peak * len(devices), cost.TARGETS[target].source
    return None, f"no peak known for {first.device_kind!r}"
