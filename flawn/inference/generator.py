"""A checkpoint loaded once, answering prompts in batches with any decoding strategy."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from flawn.errors import ConfigError
from flawn.evals.generation import encode_prompt
from flawn.inference.settings import GenerationSettings
from flawn.inference.templates import DEFAULT_TEMPLATE, TEMPLATES, render_prompt
from flawn.models.decoding import EOS_ID
from flawn.runs.backend import Predictor
from flawn.sources.alpaca import PromptTemplate

#: Smallest encoder length a batch is padded to (shorter buckets only add compilations).
_MIN_INPUT_BUCKET = 16


@dataclasses.dataclass(frozen=True)
class Answer:
    """One generated answer.

    Attributes:
        text: The decoded output (up to EOS), stripped.
        truncated: Whether the prompt was longer than ``max_input_tokens`` and
            lost tokens from its start.
    """

    text: str
    truncated: bool


def _power_of_two_at_least(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


class Generator:
    """Answers prompts with one checkpoint's model.

    Batches are padded to a power-of-two number of rows (at most the batch
    size) and of input tokens, so a long job compiles each decoding function
    a handful of times. Padding never changes an answer: padded input
    positions are masked out and every row decodes on its own.

    Args:
        predictor: The model, its parameters and vocabulary (a backend's ``predictor``).
        identity: What produced the answers, recorded with them (checkpoint
            path, run id and name, mixture, step, ...).
        template: Turns an instruction and its input into the prompt.
        template_name: The template's name or file, for the record.
    """

    def __init__(
        self,
        predictor: Predictor,
        identity: dict[str, Any],
        template: PromptTemplate | None = None,
        template_name: str = DEFAULT_TEMPLATE,
    ):
        self.predictor = predictor
        self.identity = dict(identity)
        self.template = template or TEMPLATES[DEFAULT_TEMPLATE]
        self.template_name = template_name

    @classmethod
    def load(
        cls,
        checkpoint: str | os.PathLike,
        step: int | None = None,
        template: PromptTemplate | None = None,
        template_name: str = DEFAULT_TEMPLATE,
    ) -> Generator:
        """Restores a run folder's model through the backend that trained it.

        Args:
            checkpoint: A sweep run folder (``runs/<sweep>/<run_id>``) or a
                ``flawn train`` folder (its ``MODEL_DIR``).
            step: The checkpoint step (default: the latest).
            template: The prompt template (default: ``plain``).
            template_name: Its name or file, for the record.

        Raises:
            ConfigError: If the folder is not a run, or holds no checkpoint.
        """
        from flawn.evals.run import run_backend, run_info
        from flawn.runs.run_dir import RunDir
        from flawn.runtime import import_heavy_stack

        run_dir = RunDir(checkpoint)
        run_dir.require(f"--checkpoint {checkpoint}")
        import_heavy_stack()  # the vocabulary comes from the run's registered mixture
        backend = run_backend(run_dir)
        steps = run_dir.final_stage().checkpoint_steps()
        if step is not None and steps and step not in steps:
            raise ConfigError(
                f"--checkpoint {checkpoint} has no checkpoint at step {step}; it has steps "
                f"{', '.join(map(str, steps))} (omit --step for the latest)"
            )
        predictor = backend.predictor(run_dir, step)
        identity = {
            "path": os.path.abspath(os.fspath(checkpoint)),
            "step": predictor.step,
            **run_info(run_dir).as_row(),
        }
        return cls(predictor, identity, template, template_name)

    @property
    def label(self) -> str:
        """A short name for people: mixture, run and step."""
        who = self.identity.get("mixture") or self.identity.get("run_name") or "model"
        run = self.identity.get("run_id")
        where = f"run {run}, " if run and run != who else ""
        return f"{who} ({where}step {self.identity.get('step', self.predictor.step)})"

    def input_length(self, settings: GenerationSettings) -> int:
        """The most prompt tokens the model sees (the setting, else the training length)."""
        return settings.max_input_tokens or int(self.predictor.lengths["inputs"])

    def record(self, settings: GenerationSettings) -> dict[str, Any]:
        """The generation settings as recorded with each answer (the template included)."""
        used = settings.used()
        used["max_input_tokens"] = self.input_length(settings)
        return {**used, "template": self.template_name}

    def prompt(self, instruction: str, input: str = "") -> str:
        """The prompt for a question (and optional context), with this generator's template."""
        return render_prompt(self.template, instruction, input)

    def ask(self, instruction: str, settings: GenerationSettings, input: str = "") -> Answer:
        """Answers one question."""
        return self.generate([self.prompt(instruction, input)], settings)[0]

    def generate(
        self,
        prompts: Sequence[str],
        settings: GenerationSettings,
        batch_size: int = 8,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[Answer]:
        """Answers prompts (already rendered) in order.

        Args:
            prompts: The model inputs.
            settings: How to decode.
            batch_size: Most prompts per model call.
            on_batch: Called with the number of prompts answered after each batch.

        Returns:
            One :class:`Answer` per prompt.
        """
        answers: list[Answer] = []
        for batch in self.iter_batches(prompts, settings, batch_size):
            answers.extend(batch)
            if on_batch is not None:
                on_batch(len(batch))
        return answers

    def iter_batches(
        self, prompts: Sequence[str], settings: GenerationSettings, batch_size: int = 8
    ) -> Iterator[list[Answer]]:
        """Like :meth:`generate`, yielding each batch's answers as soon as they exist."""
        if batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {batch_size}")
        vocabulary = self.predictor.vocabulary
        limit = self.input_length(settings)
        rows = min(batch_size, _power_of_two_at_least(len(prompts)))
        for start in range(0, len(prompts), rows):
            encoded = [encode_prompt(vocabulary, p, limit) for p in prompts[start : start + rows]]
            longest = max(len(ids) for ids, _ in encoded)
            width = min(max(_power_of_two_at_least(longest), _MIN_INPUT_BUCKET), limit)
            tokens = np.zeros((rows, width), np.int32)
            for row, (ids, _) in enumerate(encoded):
                tokens[row, : len(ids)] = ids
            decoded = np.asarray(self._decode(tokens, settings, start))
            yield [Answer(self._text(decoded[row]), cut) for row, (_, cut) in enumerate(encoded)]

    def _decode(self, tokens: np.ndarray, settings: GenerationSettings, first_row: int):
        from flawn.models.beam_search import beam_search
        from flawn.models.decoding import greedy_decode
        from flawn.models.sampling import row_keys, sample_decode

        model, params = self.predictor.model, self.predictor.params
        length = settings.max_new_tokens
        vocab_limit = int(self.predictor.vocabulary.vocab_size)
        if settings.strategy == "greedy":
            return greedy_decode(model, params, tokens, length, vocab_limit=vocab_limit)
        if settings.strategy == "sample":
            keys = row_keys(settings.seed, first_row, tokens.shape[0])
            return sample_decode(
                model,
                params,
                tokens,
                length,
                keys,
                np.float32(settings.temperature),
                np.int32(settings.top_k),
                np.float32(settings.top_p),
                vocab_limit=vocab_limit,
            )
        ids, _ = beam_search(
            model,
            params,
            tokens,
            length,
            settings.num_beams,
            np.float32(settings.length_penalty),
            vocab_limit=vocab_limit,
        )
        return ids

    def _text(self, ids: np.ndarray) -> str:
        ids = ids.tolist()
        if EOS_ID in ids:
            ids = ids[: ids.index(EOS_ID)]
        return self.predictor.vocabulary.decode(ids).strip()
