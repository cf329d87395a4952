"""Regimes: a run's stages in training order, declared in ``gin/regimes/<name>.gin``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import gin

_STAGE_KEYS = {"name", "run", "mixture", "steps", "init", "bindings"}


@gin.configurable
@dataclasses.dataclass(frozen=True)
class Regime:
    """The stages of a run.

    Attributes:
        stages: One dict per stage: ``name`` (its folder), ``run`` (the
            ``gin/runs/<run>.gin`` file, default ``finetune``), ``mixture``,
            ``steps``, optional ``init`` (``previous``, ``scratch`` or a
            checkpoint folder; the first stage defaults to the ``INIT`` macro,
            later ones to ``previous``) and optional ``bindings``
            (``{gin parameter: value}`` for this stage only).
        description: One line for plans and run cards.
    """

    stages: Sequence[Mapping[str, Any]] = gin.REQUIRED
    description: str = ""

    def __post_init__(self):
        if not self.stages:
            raise ValueError("Regime.stages is empty")
        for number, stage in enumerate(self.stages, start=1):
            unknown = set(stage) - _STAGE_KEYS
            if unknown:
                raise ValueError(
                    f"Regime.stages[{number}] has unknown key(s) {sorted(unknown)}; "
                    f"stages take {sorted(_STAGE_KEYS)}"
                )
            for key in ("name", "mixture", "steps"):
                if key not in stage:
                    raise ValueError(f"Regime.stages[{number}] lacks {key!r}")
