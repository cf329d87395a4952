"""What a run and an evaluation *are*: their identities.

A :class:`RunSpec` is a resolved run: its axes, its stages (each with a
resolved gin config), the backend, and a fingerprint of its data. Its id is
the hash of everything that changes what is trained, so an edited mixture,
a changed data file or a different binding is a new run, and a relaunch
never mistakes it for a finished one. The backend is not part of it: both
backends train the same stages (the same gin config, Adafactor, schedule,
data order), so a run keeps its id and folder whichever trained it, and
``run.json`` records which one did. Evaluation has its own identity
(:class:`EvalSpec`) under the run: changing the scoring mode or the decode
length evaluates again instead of relabelling old numbers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from flawn.runs.fingerprint import data_identity

#: Ways a stage can start.
INIT_SCRATCH = "scratch"
INIT_PREVIOUS = "previous"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def content_hash(value: Any, digits: int = 12) -> str:
    """The first ``digits`` hex digits of the SHA-256 of ``value``'s canonical JSON."""
    return hashlib.sha256(_canonical(value).encode("utf-8")).hexdigest()[:digits]


@dataclasses.dataclass(frozen=True)
class Stage:
    """One training stage of a run.

    Attributes:
        name: Unique within the run, e.g. ``finetune`` or ``pretrain``; names
            the stage's folder.
        run_file: The ``gin/runs/<run_file>.gin`` the stage was resolved with.
        mixture: The seqio mixture or task it trains on.
        steps: Optimizer steps of this stage.
        init: ``scratch``, ``previous`` (the previous stage's last checkpoint)
            or a checkpoint path (a T5X or flawn checkpoint folder).
        gin: The stage's resolved gin config, with ``MODEL_DIR`` unbound.
        schedule: The learning-rate schedule in words (also in ``gin``; kept
            here so plans and run cards can show it).
    """

    name: str
    run_file: str
    mixture: str
    steps: int
    init: str
    gin: str
    schedule: str = ""

    def __post_init__(self):
        if not self.name or "/" in self.name:
            raise ValueError(f"Stage.name must be a non-empty folder name, got {self.name!r}")
        if self.steps <= 0:
            raise ValueError(f"stage {self.name}: steps must be positive, got {self.steps}")
        if not self.init:
            raise ValueError(f"stage {self.name}: init must be 'scratch', 'previous' or a path")


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """A resolved run of a sweep.

    Attributes:
        sweep: The sweep (study) it belongs to.
        name: Human-readable, from the axis values.
        axes: Every axis value of the run, by axis name (``mixture``,
            ``size``, ``regime``, ``seed`` and the experiment's own axes);
            carried into every result row.
        size: The model size (a name in :data:`flawn.models.sizes.SIZES`).
        regime: The regime (``gin/regimes/<regime>.gin``).
        seed: The seed.
        backend: ``local`` or ``t5x``: the backend the run was planned for
            (not in the id; ``run.json`` records the one that trained it).
        stages: The stages, in training order; the last one's model is the run's.
        data: Fingerprint of every stage's mixture (rates, example counts, files).
        model: The model's shape as the size table gives it.
        vocabulary: The recipe of the run's extended vocabulary, when its
            regime extends one (:class:`flawn.runs.vocabulary.VocabularyRecipe`
            as JSON; also bound in every stage's gin, so it is in the id).
        vocabulary_model: The SentencePiece model its mixtures are tokenized
            with (path, pieces, extra ids, SHA-256) and the one the experiment
            asked for (:func:`flawn.runs.run_vocabulary.describe_run_vocabulary`);
            in the id (not the file's path) unless it is the sample vocabulary.
        mixture_definitions: The mixtures its experiment defined by weights
            (``Sweep.mixture_weights``) that its stages use, ``{name: {component:
            weight}}``, so that every process training it can register them
            (:meth:`register_mixtures`). Not in the id: :attr:`data` holds
            the rates they resolve to.
    """

    sweep: str
    name: str
    axes: Mapping[str, Any]
    size: str
    regime: str
    seed: int
    backend: str
    stages: tuple[Stage, ...]
    data: Mapping[str, Any]
    model: Mapping[str, Any]
    vocabulary: Mapping[str, Any] | None = None
    vocabulary_model: Mapping[str, Any] | None = None
    mixture_definitions: Mapping[str, Mapping[str, float]] | None = None

    def __post_init__(self):
        if not self.stages:
            raise ValueError(f"run {self.name}: a run needs at least one stage")
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"run {self.name}: stage names repeat: {names}")
        if self.stages[0].init == INIT_PREVIOUS:
            raise ValueError(
                f"run {self.name}: the first stage has no previous stage to start from"
            )

    def identity(self) -> dict[str, Any]:
        """Everything that changes what is trained (the hashed payload; not the backend).

        The data enters as :func:`flawn.runs.fingerprint.data_identity`:
        equivalent rates (1.0/1.0 and 0.5/0.5) give the same id, while
        :attr:`data` keeps the rates as declared. The vocabulary is in it
        unless it is flawn's sample one (as before it was recorded, so those
        ids stay what they were).
        """
        from flawn.runs.run_vocabulary import identity

        payload = self._identity_before_vocabulary()
        vocabulary = identity(self.vocabulary_model) if self.vocabulary_model else None
        if vocabulary is not None:
            payload["vocabulary_model"] = vocabulary
        return payload

    def _identity_before_vocabulary(self) -> dict[str, Any]:
        return {
            "stages": [dataclasses.asdict(s) for s in self.stages],
            "data": {name: data_identity(value) for name, value in self.data.items()},
            "model": self.model,
        }

    @property
    def run_id(self) -> str:
        """First 12 hex digits of the SHA-256 of :meth:`identity`."""
        return content_hash(self.identity())

    def _declared_identity(self) -> dict[str, Any]:
        # The payload before rates entered as shares: the data as declared.
        # Older ids had no vocabulary in them either.
        return {**self._identity_before_vocabulary(), "data": self.data}

    def legacy_run_id(self, backend: str | None = None) -> str:
        """The id this run had on ``backend`` (default its own) when the id included the backend.

        Sweep folders made before then name their runs so; ``spec.json`` files
        stay readable and ``flawn sweep status`` points from those ids to the current ones.
        Those ids hashed the rates as declared.
        """
        return content_hash({**self._declared_identity(), "backend": backend or self.backend})

    def declared_rates_run_id(self) -> str:
        """The id this run had when ids hashed the rates as declared, not as shares."""
        return content_hash(self._declared_identity())

    @property
    def final_stage(self) -> Stage:
        """The stage whose model is evaluated."""
        return self.stages[-1]

    def register_mixtures(self) -> list[str]:
        """Registers the mixtures its experiment defined (:attr:`mixture_definitions`).

        Every process that trains or plans the run calls this before looking
        its mixtures up; a mixture already registered the same way is left alone.

        Returns:
            The names newly registered.

        Raises:
            flawn.errors.ConfigError: If a definition clashes with a registered
                mixture or names an unknown component.
        """
        if not self.mixture_definitions:
            return []
        import flawn.tasks  # noqa: F401  (the tasks and mixtures they are made of)
        from flawn.mixtures.defined import register_definitions

        return register_definitions(
            self.mixture_definitions, f"spec.json of run {self.run_id} ({self.name})"
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view with the id, as stored in ``spec.json``."""
        return {"run_id": self.run_id, **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RunSpec:
        """Rebuilds a spec from :meth:`to_json` (checking the stored id)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        spec = cls(
            **{
                **{k: v for k, v in value.items() if k in fields},
                "stages": tuple(Stage(**s) for s in value["stages"]),
            }
        )
        earlier = (spec.run_id, spec.declared_rates_run_id(), spec.legacy_run_id())
        if "run_id" in value and value["run_id"] not in earlier:
            raise ValueError(
                f"spec.json of run {value['run_id']} hashes to {spec.run_id}: the file was edited "
                "by hand; re-plan the sweep instead"
            )
        return spec


#: Scoring modes.
MODES = ("generation", "rank_classification")
#: Overflow policies for a test item that alone is longer than the input.
OVERFLOWS = ("cut_item_start", "skip")


@dataclasses.dataclass(frozen=True)
class EvalSpec:
    """One evaluation of a run: which suite, how it is scored, how prompts are fitted.

    Attributes:
        suite: ``sample`` (bundled LegalBench-format tasks), ``legalbench``
            (official tasks), ``lawbench``, or a folder of LegalBench-format tasks.
        mode: ``generation`` or ``rank_classification``.
        split: The split scored.
        tasks: Only these tasks (``None``: all).
        max_decode_length: Most tokens generated per answer.
        overflow: For a test item that alone does not fit: ``cut_item_start`` or ``skip``.
        shot: LawBench's ``zero_shot`` or ``one_shot`` (``None`` elsewhere).
        limit: Score only the first N items per task (partial; said in reports).
        corrected: LawBench: the corrected scorers instead of the official ones.
        legalbench_dir: The LegalBench checkout (``legalbench`` suite).
        data: Official test rows (``legalbench`` suite).
        allow_partial: Score tasks with fewer rows than the official split.
    """

    suite: str = "sample"
    mode: str = "generation"
    split: str = "test"
    tasks: tuple[str, ...] | None = None
    max_decode_length: int = 16
    overflow: str = "cut_item_start"
    shot: str | None = None
    limit: int | None = None
    corrected: bool = False
    legalbench_dir: str | None = None
    data: str | None = None
    allow_partial: bool = False

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"EvalSpec.mode must be one of {MODES}, got {self.mode!r}")
        if self.overflow not in OVERFLOWS:
            raise ValueError(f"EvalSpec.overflow must be one of {OVERFLOWS}, got {self.overflow!r}")
        if self.max_decode_length <= 0:
            raise ValueError("EvalSpec.max_decode_length must be positive")
        if self.suite == "lawbench":
            if self.mode != "generation":
                raise ValueError("LawBench is scored on generated answers: use mode='generation'")
            if self.shot not in ("zero_shot", "one_shot"):
                object.__setattr__(self, "shot", "zero_shot")
        if self.tasks is not None:
            object.__setattr__(self, "tasks", tuple(self.tasks))
        if self.limit is not None and self.limit <= 0:
            raise ValueError("EvalSpec.limit must be positive")

    @property
    def suite_name(self) -> str:
        """The suite as rows and tables name it (LawBench with its setting)."""
        base = self.suite.rstrip("/").rsplit("/", 1)[-1]
        return f"{base}.{self.shot}" if self.suite == "lawbench" else base

    def key(self, input_length: int, step: int, data_fingerprint: Any = None) -> dict[str, Any]:
        """The identity of this evaluation of one model (settings, fitted length, step, data)."""
        return {
            **dataclasses.asdict(self),
            "input_length": input_length,
            "step": step,
            "suite_data": data_fingerprint,
        }

    def eval_id(self, input_length: int, step: int, data_fingerprint: Any = None) -> str:
        """``<suite>.<mode>-<hash>``: readable, and new whenever anything scored changes."""
        digest = content_hash(self.key(input_length, step, data_fingerprint), 8)
        return f"{self.suite_name}.{self.mode}-{digest}"

    def describe(self) -> str:
        """One line for report headers: suite, split, mode, decoding, limits."""
        how = (
            f"greedy generation (at most {self.max_decode_length} tokens"
            + (", cut at the first newline)" if self.suite != "lawbench" else ")")
            if self.mode == "generation"
            else "rank classification over each task's closed label set"
        )
        parts = [f"suite `{self.suite_name}` ({self.split} split)", how]
        if self.tasks:
            parts.append(f"tasks: {', '.join(self.tasks)}")
        if self.limit:
            parts.append(f"PARTIAL: first {self.limit} items per task")
        if self.corrected:
            parts.append("corrected scorers")
        return "; ".join(parts)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> EvalSpec:
        """Rebuilds a spec from ``dataclasses.asdict`` output (extra keys ignored)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in value.items() if k in fields})


def eval_specs_from(values: Sequence[Mapping[str, Any] | EvalSpec]) -> list[EvalSpec]:
    """EvalSpecs from gin-friendly dicts (or specs), validated."""
    return [v if isinstance(v, EvalSpec) else EvalSpec(**dict(v)) for v in values]
