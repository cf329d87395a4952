"""What a run is on T5X: its stages' steps and starting points, its model, its evaluations.

:func:`plan_run` resolves a :class:`~flawn.runs.RunSpec` (each stage's
flawn gin config) and the run's :class:`~flawn.runs.EvalSpec` list into a
:class:`RunPlan`, the single input of the gin files and scripts and the
record (``t5x/plan.json``) that scoring and the backend read back.

Steps: T5X counts a stage's steps from the step of the checkpoint it starts
from (``TRAIN_STEPS`` includes it; fine-tuning the public T5 1.1 checkpoint
for 1,000 steps ends at step 1,001,000). A stage's ``start_step`` is
therefore the step of its starting checkpoint (0 from scratch, the previous
stage's ``end_step``, the step of a named checkpoint) and ``end_step =
start_step + steps`` is what T5X is given.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from typing import Any

from flawn.errors import ConfigError
from flawn.runs.spec import INIT_PREVIOUS, INIT_SCRATCH, EvalSpec, RunSpec, Stage

#: flawn run files and the T5X run files their stages are trained with.
T5X_RUN_FILES = {
    "finetune": "t5x/configs/runs/finetune.gin",
    "pretrain": "t5x/configs/runs/pretrain.gin",
}

#: How a stage starts.
INIT_KINDS = ("scratch", "previous", "t5x", "flawn")

_CHECKPOINT_STEP = re.compile(r"checkpoint_(\d+)/?$")


@dataclasses.dataclass(frozen=True)
class StagePlan:
    """One stage as T5X trains it.

    Attributes:
        name: The stage's name (its T5X model dir is ``$MODEL_DIR_ROOT/<name>``).
        run: ``finetune`` or ``pretrain`` (the flawn and T5X run file).
        mixture: The seqio mixture or task it trains on.
        steps: Steps this stage trains.
        start_step: The step of the checkpoint it starts from.
        end_step: ``start_step + steps``: T5X's ``TRAIN_STEPS``.
        init_kind: ``scratch``, ``previous``, ``t5x`` (a T5X checkpoint) or
            ``flawn`` (a flawn checkpoint, converted by ``prepare``).
        init_path: ``previous``: the previous stage's name; ``t5x``: the
            checkpoint folder; ``flawn``: the converted checkpoint folder,
            relative to ``<run>/t5x``.
        init_source: What the stage's spec named (``stage.init``).
        feature_lengths: ``{"inputs": ..., "targets": ...}``.
        batch_size: Packed rows per step (global, across the pod slice).
        seed: T5X's ``RANDOM_SEED`` (initialisation, dropout) and the data order's seed.
        dropout_rate: Dropout.
        z_loss: Weight of the ``log(Z)^2`` loss.
        learning_rate: Peak learning rate.
        warmup_steps: Warm-up steps of the learning rate.
        schedule: Its shape after warm-up: ``constant``, ``cosine`` or ``linear`` (to 0).
        pack: Whether training rows are packed.
        checkpoint_every: T5X's checkpoint period (and evaluation period).
        log_every: T5X's ``stats_period``: training metrics every this many steps.
        keep_checkpoints: Checkpoints T5X keeps.
        cache_dir: A seqio cache written by ``flawn data cache`` (``USE_CACHED_TASKS``).
        loss_normalizing_factor: ``TrainConfig.loss_normalizing_factor`` (``None``:
            per real target token).
        grad_accum_steps: Micro-batches per step (T5X's ``num_microbatches``).
        adafactor: ``adafactor.Adafactor``'s arguments
            (:func:`flawn.t5x.settings.adafactor_bindings`).
    """

    name: str
    run: str
    mixture: str
    steps: int
    start_step: int
    end_step: int
    init_kind: str
    init_path: str | None
    init_source: str
    feature_lengths: dict[str, int]
    batch_size: int
    seed: int
    dropout_rate: float
    z_loss: float
    learning_rate: float
    warmup_steps: int
    schedule: str
    pack: bool
    checkpoint_every: int
    log_every: int
    keep_checkpoints: int
    cache_dir: str | None
    loss_normalizing_factor: float | None = None
    grad_accum_steps: int = 1
    adafactor: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def t5x_run_file(self) -> str:
        """T5X's run file, relative to T5X's package root (a gin search path)."""
        return T5X_RUN_FILES[self.run]


@dataclasses.dataclass(frozen=True)
class EvalPlan:
    """One evaluation as ``t5x.infer`` runs it.

    Attributes:
        key: Names its gin file and prediction folder (``e0``, ``e1``, ...).
        spec: The :class:`EvalSpec` as a dict.
        input_length: Prompts are fitted to this (the final stage's input length).
        runs_on_t5x: Whether launch.sh infers and scores it (generation mode);
            rank classification is scored by flawn's own evaluator through
            the backend's predictor.
    """

    key: str
    spec: dict[str, Any]
    input_length: int
    runs_on_t5x: bool

    @property
    def eval_spec(self) -> EvalSpec:
        """The spec as an object."""
        return EvalSpec.from_json(self.spec)


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """A run on T5X.

    Attributes:
        run_id: The run's id.
        run_name: Its name.
        size: The model size (a name in :data:`flawn.models.sizes.SIZES`).
        shape: emb/heads/head_dim/mlp/layers from the size table.
        vocab_size: Embedding rows (the vocabulary's size rounded up to 128s,
            or the size table's).
        vocabulary_file: The SentencePiece model of the training data.
        vocabulary_is_sample: Whether that is flawn's bundled sample vocabulary
            (whose path the scripts then find on each host).
        extra_ids: Sentinel ids after the pieces.
        num_partitions: Model-parallel partitions on a pod slice.
        stages: The stages in training order.
        evals: The evaluations.
        mixture_definitions: Mixtures the run's experiment defined by weights
            (:attr:`flawn.runs.RunSpec.mixture_definitions`), written to
            ``t5x/mixtures.json`` for the T5X processes to register.
    """

    run_id: str
    run_name: str
    size: str
    shape: dict[str, int]
    vocab_size: int
    vocabulary_file: str
    vocabulary_is_sample: bool
    extra_ids: int
    num_partitions: int
    stages: tuple[StagePlan, ...]
    evals: tuple[EvalPlan, ...]
    mixture_definitions: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)

    @property
    def final_stage(self) -> StagePlan:
        """The stage whose model is evaluated."""
        return self.stages[-1]

    def vocabulary_path(self) -> str:
        """The vocabulary file on this host: ``FLAWN_VOCABULARY``, else the run's.

        The bundled sample vocabulary is looked up in this host's flawn install.
        """
        from flawn import paths

        default = str(paths.SAMPLE_VOCAB) if self.vocabulary_is_sample else self.vocabulary_file
        return os.environ.get("FLAWN_VOCABULARY") or default

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view (``t5x/plan.json``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> RunPlan:
        """Rebuilds a plan from :meth:`to_json`."""
        return cls(
            **{
                **value,
                "stages": tuple(StagePlan(**s) for s in value["stages"]),
                "evals": tuple(EvalPlan(**e) for e in value["evals"]),
            }
        )


def stage_config(stage: Stage):
    """The :class:`~flawn.train.config.TrainConfig` a stage's stored gin config gives.

    Raises:
        ConfigError: If the stage's config does not give a valid TrainConfig.
    """
    from flawn import gin_utils
    from flawn.train.config import TrainConfig

    gin_utils.parse([], ["MODEL_DIR = '/unused'"], text=stage.gin)
    try:
        return TrainConfig()
    except ValueError as err:
        raise gin_utils.explain_required(err) or ConfigError(f"stage {stage.name}: {err}") from err


def checkpoint_step(path: str) -> int | None:
    """The step of a T5X checkpoint folder, from its name (``.../checkpoint_<step>``)."""
    match = _CHECKPOINT_STEP.search(path)
    return int(match.group(1)) if match else None


def is_flawn_checkpoint(path: str) -> bool:
    """Whether a local folder is a flawn run or train folder (orbax checkpoints)."""
    from flawn.runs.run_dir import RunDir, TrainDir

    if path.startswith(("gs://", "s3://")) or not os.path.isdir(path):
        return False
    return RunDir(path).is_sweep_run or (TrainDir(path).checkpoint_dir).is_dir()


def run_kind(run_file: str) -> str:
    """``finetune`` or ``pretrain``: the T5X run file a flawn run file maps onto.

    Raises:
        ConfigError: For a run file T5X has no counterpart of.
    """
    kind = os.path.splitext(os.path.basename(run_file))[0]
    if kind not in T5X_RUN_FILES:
        raise ConfigError(
            f"run file {run_file}: the t5x backend trains stages whose run file is one of "
            f"{', '.join(f'gin/runs/{k}.gin' for k in T5X_RUN_FILES)}"
        )
    return kind


def _resolve_init(
    stage: Stage, number: int, previous: StagePlan | None, init_dir: str
) -> tuple[str, str | None, int | None]:
    """``(kind, path, start step or None if it must be read from a flawn checkpoint)``."""
    if stage.init == INIT_SCRATCH:
        return "scratch", None, 0
    if stage.init == INIT_PREVIOUS:
        assert previous is not None  # RunSpec rejects 'previous' on the first stage
        return "previous", previous.name, previous.end_step
    if is_flawn_checkpoint(stage.init):
        return "flawn", init_dir, None
    path = stage.init
    if not path.startswith(("gs://", "s3://")):
        path = os.path.abspath(path)
    step = checkpoint_step(path)
    if step is None and os.path.isdir(path):
        from flawn.t5x.checkpoints import read_t5x_step

        step = read_t5x_step(path)
    if step is None:
        raise ConfigError(
            f"stage {stage.name}: cannot tell the step of initial checkpoint {stage.init}; "
            "T5X counts TRAIN_STEPS from it, so name the folder checkpoint_<step> as T5X does"
        )
    return "t5x", path, step


def vocabulary_of(mixture: str):
    """The ``targets`` vocabulary of a registered mixture or task (importing flawn.tasks)."""
    import seqio

    import flawn.tasks  # noqa: F401  (registers flawn's tasks and named mixtures)

    return seqio.get_mixture_or_task(mixture).output_features["targets"].vocabulary


def plan_run(
    spec: RunSpec,
    evals: Sequence[EvalSpec],
    flawn_init_step=None,
) -> RunPlan:
    """Resolves a run for T5X.

    Args:
        spec: The run.
        evals: Its evaluations.
        flawn_init_step: ``fn(path) -> step`` of a flawn checkpoint a stage
            starts from (the step its converted T5X checkpoint gets); default
            the folder's last checkpoint step.

    Raises:
        ConfigError: For a run file T5X has no counterpart of, an initial
            checkpoint whose step cannot be told, or a vocabulary too large for the size.
    """
    from flawn import paths
    from flawn.models.sizes import get_size
    from flawn.t5x.layout import T5XLayout
    from flawn.t5x.settings import adafactor_bindings

    if flawn_init_step is None:
        from flawn.t5x.checkpoints import flawn_checkpoint_step

        flawn_init_step = flawn_checkpoint_step
    size = get_size(spec.size)
    stages: list[StagePlan] = []
    for number, stage in enumerate(spec.stages):
        config = stage_config(stage)
        kind, init_path, start = _resolve_init(
            stage, number, stages[-1] if stages else None, T5XLayout.init_dir(stage.name)
        )
        if start is None:
            start = flawn_init_step(stage.init)
            init_path = f"{init_path}/checkpoint_{start}"
        lengths = {k: int(v) for k, v in dict(config.task_feature_lengths).items()}
        stages.append(
            StagePlan(
                name=stage.name,
                run=run_kind(stage.run_file),
                mixture=stage.mixture,
                steps=stage.steps,
                start_step=start,
                end_step=start + stage.steps,
                init_kind=kind,
                init_path=init_path,
                init_source=stage.init,
                feature_lengths=lengths,
                batch_size=config.batch_size,
                seed=config.seed,
                dropout_rate=config.model.dropout_rate,
                z_loss=config.z_loss,
                learning_rate=config.optimizer.learning_rate,
                warmup_steps=config.optimizer.warmup_steps,
                schedule=config.optimizer.schedule,
                pack=config.pack,
                checkpoint_every=config.checkpoint_every,
                log_every=config.log_every,
                keep_checkpoints=config.keep_checkpoints,
                cache_dir=config.cache_dir,
                loss_normalizing_factor=config.loss_normalizing_factor,
                grad_accum_steps=config.grad_accum_steps,
                adafactor=adafactor_bindings(config),
            )
        )
    vocabulary = vocabulary_of(stages[-1].mixture)
    vocab_file = os.fspath(vocabulary.sentencepiece_model_file)
    rounded = -(-vocabulary.vocab_size // 128) * 128
    if size.vocab_size and size.vocab_size < vocabulary.vocab_size:
        raise ConfigError(
            f"size {size.name} has {size.vocab_size} embedding rows, fewer than the vocabulary "
            f"of {stages[-1].mixture} ({vocabulary.vocab_size} ids, {vocab_file})"
        )
    input_length = stages[-1].feature_lengths["inputs"]
    eval_plans = tuple(
        EvalPlan(
            key=f"e{index}",
            spec=dataclasses.asdict(e),
            input_length=input_length,
            runs_on_t5x=e.mode == "generation",
        )
        for index, e in enumerate(evals)
    )
    return RunPlan(
        run_id=spec.run_id,
        run_name=spec.name,
        size=size.name,
        shape={k: int(v) for k, v in size.shape.items()},
        vocab_size=size.vocab_size or rounded,
        vocabulary_file=vocab_file,
        vocabulary_is_sample=os.path.realpath(vocab_file) == os.path.realpath(paths.SAMPLE_VOCAB),
        extra_ids=int(vocabulary.extra_ids),
        num_partitions=size.num_partitions,
        stages=tuple(stages),
        evals=eval_plans,
        mixture_definitions={k: dict(v) for k, v in (spec.mixture_definitions or {}).items()},
    )
