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
        vocabulary_extension: Extend the vocabulary before the first stage,
            as LaWGPT does (:mod:`flawn.runs.vocabulary`): ``terms`` (a
            one-term-per-line word list), ``corpus`` (files to learn
            ``pieces`` new pieces from), ``pieces``, ``kind``
            (``user_defined``, the default, or ``normal``), ``word_start``
            (add terms as words, ``▁term``, for languages with spaces).
            Every stage then trains with the extended vocabulary, and a stage
            that starts from a checkpoint in the base vocabulary starts from
            it resized.
            ``None``, or neither terms nor a corpus: no extension.
    """

    stages: Sequence[Mapping[str, Any]] = gin.REQUIRED
    description: str = ""
    vocabulary_extension: Mapping[str, Any] | None = None

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
        if self.vocabulary_extension is not None:
            from flawn.runs.vocabulary import check_options

            check_options(self.vocabulary_extension)

    @property
    def extends_vocabulary(self) -> bool:
        """Whether the regime extends the vocabulary before its first stage."""
        from flawn.runs.vocabulary import extension_requested

        return extension_requested(self.vocabulary_extension)
