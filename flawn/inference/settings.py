"""How answers are generated: the strategy and its knobs, validated."""

from __future__ import annotations

import dataclasses
from typing import Any

from flawn.errors import ConfigError

#: The decoding strategies.
STRATEGIES = ("greedy", "sample", "beam")

#: Which settings change the output of each strategy (the rest are ignored).
_USED_BY = {
    "greedy": (),
    "sample": ("temperature", "top_p", "top_k", "seed"),
    "beam": ("num_beams", "length_penalty"),
}


@dataclasses.dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings of one inference job.

    Attributes:
        strategy: ``greedy`` (the most likely token at each step), ``sample``
            (draw from the model's distribution) or ``beam`` (beam search).
        max_new_tokens: Most tokens generated per answer.
        temperature: ``sample`` only: divides the logits; below 1 sharpens the
            distribution, 0 is greedy.
        top_p: ``sample`` only: draw from the smallest set of tokens whose
            probability reaches this mass (nucleus sampling); 1 keeps all.
        top_k: ``sample`` only: draw from the ``top_k`` most likely tokens; 0 keeps all.
        num_beams: ``beam`` only: hypotheses kept per prompt.
        length_penalty: ``beam`` only: hypotheses are ranked by
            ``log p / length ** length_penalty``; 0 ranks by total
            log-probability (favouring short answers), 1 by the mean per token.
        seed: ``sample`` only: the same seed gives the same answers.
        max_input_tokens: Prompts longer than this lose tokens from their start
            (the end, where templates put the question, is kept); ``None`` uses
            the checkpoint's training input length.
    """

    strategy: str = "greedy"
    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    num_beams: int = 4
    length_penalty: float = 1.0
    seed: int = 0
    max_input_tokens: int | None = None

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"GenerationSettings.strategy must be one of {', '.join(STRATEGIES)}, "
                f"got {self.strategy!r}"
            )
        checks = (
            ("max_new_tokens", self.max_new_tokens >= 1, "at least 1"),
            ("temperature", self.temperature >= 0, ">= 0 (0 is greedy)"),
            ("top_p", 0 < self.top_p <= 1, "in (0, 1] (1 keeps every token)"),
            ("top_k", self.top_k >= 0, ">= 0 (0 keeps every token)"),
            ("num_beams", self.num_beams >= 1, "at least 1"),
            ("seed", self.seed >= 0, ">= 0"),
        )
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(
                    f"GenerationSettings.{name} must be {rule}, got {getattr(self, name)!r}"
                )
        if self.max_input_tokens is not None and self.max_input_tokens < 2:
            raise ConfigError(
                "GenerationSettings.max_input_tokens must be at least 2 (a token and EOS) or "
                f"None (the checkpoint's input length), got {self.max_input_tokens!r}"
            )

    @classmethod
    def from_options(cls, strategy: str | None = None, **options: Any) -> GenerationSettings:
        """Settings from optional command-line style options (``None`` = not given).

        Without a strategy, sampling options (temperature, top-p, top-k, seed)
        choose ``sample`` and beam options choose ``beam``.

        Raises:
            ConfigError: If an option does not apply to the strategy (it would
                be silently ignored), or options of two strategies are mixed.
        """
        given = {name: value for name, value in options.items() if value is not None}
        unknown = sorted(set(given) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"unknown generation setting(s): {', '.join(unknown)}")
        if strategy is None:
            implied = {s for s, names in _USED_BY.items() if set(names) & set(given)}
            if len(implied) > 1:
                raise ConfigError(
                    "both sampling and beam search options were given; choose one with "
                    "--strategy sample or --strategy beam"
                )
            strategy = implied.pop() if implied else "greedy"
        if strategy in _USED_BY:
            shared = {"max_new_tokens", "max_input_tokens"}
            unused = sorted(set(given) - shared - set(_USED_BY[strategy]))
            if unused:
                flags = " and ".join("--" + name.replace("_", "-") for name in unused)
                verb = "does" if len(unused) == 1 else "do"
                raise ConfigError(
                    f"{flags} {verb} not apply to --strategy {strategy}; drop it or choose the "
                    "strategy that uses it (sample: --temperature, --top-p, --top-k, --seed; "
                    "beam: --num-beams, --length-penalty)"
                )
        return cls(strategy=strategy, **given)

    def used(self) -> dict[str, Any]:
        """The settings that determine the output (the identity recorded with answers)."""
        names = ("strategy", "max_new_tokens", *_USED_BY[self.strategy], "max_input_tokens")
        return {name: getattr(self, name) for name in names}

    def describe(self) -> str:
        """One line for people, e.g. ``sample (temperature=0.7, top_p=0.9, ...)``."""
        used = self.used()
        extra = ", ".join(f"{k}={v}" for k, v in used.items() if k != "strategy" and v is not None)
        return f"{self.strategy} ({extra})"
