"""Typed, validated configuration of a local training run (bound by gin)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import gin

from flawn.models.config import T5Config

_OPTIMIZERS = ("adamw", "adafactor")
_SCHEDULES = ("constant", "cosine", "linear", "rsqrt")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class AdafactorConfig:
    """Adafactor's settings; the defaults are T5X's (``t5x.adafactor.Adafactor``).

    T5X's update of a parameter ``p`` with gradient ``g`` at step ``t``
    (counted from 0): second moments decay with ``beta2_t = 1 - (t + 1) **
    -decay_rate``; they are factored into row and column means for
    parameters whose two largest dimensions are both at least
    ``min_dim_size_to_factor``, else kept whole; the scaled gradient ``g /
    sqrt(v)`` is divided by ``max(1, rms / clipping_threshold)``; and the step
    is ``learning_rate * max(rms(p), epsilon2)`` times that (the learning rate
    is relative to the parameter's scale).

    T5X's ``step_offset`` has no counterpart: it restarts the decay schedule
    when fine-tuning continues a pre-training optimizer state, and flawn
    carries only parameters from one stage to the next, so ``t`` already
    counts from 0 in every stage (as T5X's ``step_offset`` = the stage's first
    step would).

    Attributes:
        decay_rate: Exponent of the second-moment decay schedule (T5X: 0.8).
        clipping_threshold: Update clipping by block RMS; ``None`` disables it.
        multiply_by_parameter_scale: Scale the learning rate by each parameter's RMS.
        min_dim_size_to_factor: Factor the second moments of a parameter only if
            its two largest dimensions are at least this size.
        beta1: Momentum; ``None`` (T5X's default) keeps no first moment.
        epsilon1: Added to squared gradients.
        epsilon2: Lower bound of the parameter scale.
        factored: Whether to factor second moments at all.
    """

    decay_rate: float = 0.8
    clipping_threshold: float | None = 1.0
    multiply_by_parameter_scale: bool = True
    min_dim_size_to_factor: int = 128
    beta1: float | None = None
    epsilon1: float = 1e-30
    epsilon2: float = 1e-3
    factored: bool = True

    def __post_init__(self):
        if not self.decay_rate > 0:
            raise ValueError(f"AdafactorConfig.decay_rate must be > 0, got {self.decay_rate}")
        if self.clipping_threshold is not None and not self.clipping_threshold >= 1.0:
            raise ValueError(
                "AdafactorConfig.clipping_threshold must be >= 1 (as T5X requires) or None, "
                f"got {self.clipping_threshold}"
            )
        if self.min_dim_size_to_factor < 1:
            raise ValueError(
                "AdafactorConfig.min_dim_size_to_factor must be positive, "
                f"got {self.min_dim_size_to_factor}"
            )
        if self.beta1 is not None and not 0.0 <= self.beta1 < 1.0:
            raise ValueError(f"AdafactorConfig.beta1 must be in [0, 1) or None, got {self.beta1}")
        if not (self.epsilon1 > 0 and self.epsilon2 > 0):
            raise ValueError("AdafactorConfig.epsilon1 and epsilon2 must be > 0")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """The optimizer and its learning-rate schedule.

    Attributes:
        name: ``adamw`` or ``adafactor`` (T5X's optimizer, with its defaults:
            :class:`AdafactorConfig`).
        learning_rate: Peak learning rate (for Adafactor, relative to each
            parameter's RMS, as in T5X).
        warmup_steps: For ``constant``, ``cosine`` and ``linear``: linear
            warm-up from 0 to the peak over this many steps. For ``rsqrt``:
            the steps the rate is held at ``learning_rate / sqrt(warmup_steps)``
            before it decays (T5X's ``rsqrt_decay``, which has no linear ramp).
        schedule: ``constant`` (T5X's fine-tuning schedule); ``cosine`` or
            ``linear`` decay to 0 after the warm-up; ``rsqrt``: ``learning_rate
            / sqrt(max(step, warmup_steps))``, T5X's pre-training schedule
            (``constant * rsqrt_decay``).
        weight_decay: Decoupled weight decay (AdamW only).
        grad_clip_norm: Global-norm gradient clipping before the optimizer; ``0``
            disables it (T5X's Adafactor does not clip by global norm).
        adafactor: Adafactor's settings, when ``name`` is ``adafactor``.
    """

    name: str = "adamw"
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    schedule: str = "cosine"
    weight_decay: float = 0.0
    grad_clip_norm: float = 1.0
    adafactor: AdafactorConfig = dataclasses.field(default_factory=AdafactorConfig)

    def __post_init__(self):
        if self.name not in _OPTIMIZERS:
            raise ValueError(
                f"OptimizerConfig.name must be one of {_OPTIMIZERS}, got {self.name!r}"
            )
        if self.schedule not in _SCHEDULES:
            raise ValueError(
                f"OptimizerConfig.schedule must be one of {_SCHEDULES}, got {self.schedule!r}"
            )
        if not self.learning_rate > 0:
            raise ValueError(f"OptimizerConfig.learning_rate must be > 0, got {self.learning_rate}")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.grad_clip_norm < 0:
            raise ValueError(
                "OptimizerConfig.warmup_steps, weight_decay and grad_clip_norm must be >= 0"
            )
        if self.schedule == "rsqrt" and self.warmup_steps < 1:
            raise ValueError(
                "OptimizerConfig.schedule='rsqrt' needs warmup_steps >= 1: the rate is "
                "learning_rate / sqrt(max(step, warmup_steps)), infinite at step 0 otherwise"
            )
        if self.name == "adafactor" and self.weight_decay:
            raise ValueError(
                "OptimizerConfig.weight_decay applies to AdamW only; T5X's Adafactor has none "
                "by default"
            )


@gin.configurable
@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a local training run needs; ``gin/runs/finetune.gin`` binds it.

    Attributes:
        model_dir: Folder for checkpoints, logs and the resolved config.
        mixture_or_task_name: The seqio mixture or task to train on.
        task_feature_lengths: Token lengths, e.g. ``{"inputs": 128, "targets": 16}``.
        train_steps: Total optimizer steps (a resumed run continues up to this).
        batch_size: Packed rows per step.
        model: The model's shape.
        optimizer: The optimizer and schedule.
        seed: Seeds the data order and the parameter initialisation.
        pack: Whether to pack several examples into each row (T5X's default).
        z_loss: Weight of T5X's auxiliary ``log(Z)^2`` loss that keeps logits small.
        loss_normalizing_factor: What the summed token losses of a step are
            divided by. ``None``: the step's (weighted) target tokens, a mean per
            target token. A number: that constant, as T5X's
            ``LOSS_NORMALIZING_FACTOR`` (for the public T5 checkpoints T5X
            advises their pre-training batch x target length, 2048 x 114 =
            233472; ``1.0`` is T5X's unnormalised sum).
        grad_accum_steps: Split each batch into this many micro-batches, run
            one after another within the step, and apply one update with their
            summed gradients (the same update as the whole batch at once, with
            the memory of one micro-batch). Must divide ``batch_size``.
        checkpoint_every: Save a checkpoint every this many steps (and at the end).
        keep_checkpoints: How many checkpoints to keep.
        log_every: Log metrics every this many steps.
        use_wandb: Log to Weights & Biases (offline unless an account is configured).
        wandb_project: The W&B project name.
        cache_dir: A global seqio cache directory written by ``flawn data cache``;
            when set, tasks are read from their cache (``use_cached=True``).
        report_data: Print and save the data plan (``plan.json``) before
            training and the realised per-source counts (``data_counts.json``)
            after it.
        mesh_shape: The ``(data, model)`` device mesh (:mod:`flawn.train.sharding`):
            batches split along ``data``, large parameters (and their optimizer
            state) along ``model``; ``-1`` fills that axis with the remaining
            devices. The default ``(-1, 1)`` is data parallelism over every device.
        prefetch_batches: Batches prepared ahead on a background thread
            (:mod:`flawn.train.prefetch`); ``0`` prepares each when it is needed.
        eval_every: Score ``eval_suite`` every this many steps and log the
            scores as curves (``eval/<suite>/<task>``, ``eval/<suite>/mean``);
            ``0`` never. Not the run's final evaluation: nothing goes to ``eval/``.
        eval_suite: A LegalBench-format suite: ``sample``, ``legalbench`` or a folder.
        eval_tasks: Only these tasks of the suite (empty: all).
        eval_max_decode_length: Most tokens generated per answer.
        eval_limit: Score only the first N items of each task (``0``: all).
    """

    model_dir: str = gin.REQUIRED
    mixture_or_task_name: str = gin.REQUIRED
    task_feature_lengths: Mapping[str, int] = gin.REQUIRED
    train_steps: int = gin.REQUIRED
    batch_size: int = gin.REQUIRED
    model: T5Config = dataclasses.field(default_factory=T5Config)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    seed: int = 0
    pack: bool = True
    z_loss: float = 1e-4
    loss_normalizing_factor: float | None = None
    grad_accum_steps: int = 1
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    log_every: int = 25
    use_wandb: bool = True
    wandb_project: str = "flawn"
    cache_dir: str | None = None
    report_data: bool = True
    mesh_shape: tuple[int, int] = (-1, 1)
    prefetch_batches: int = 2
    eval_every: int = 0
    eval_suite: str = "sample"
    eval_tasks: tuple[str, ...] = ()
    eval_max_decode_length: int = 8
    eval_limit: int = 0

    def __post_init__(self):
        for name in ("model_dir", "mixture_or_task_name"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"TrainConfig.{name} must be a non-empty string")
        lengths = dict(self.task_feature_lengths)
        if set(lengths) != {"inputs", "targets"} or any(v <= 0 for v in lengths.values()):
            raise ValueError(
                "TrainConfig.task_feature_lengths must map 'inputs' and 'targets' to positive "
                f"lengths, got {lengths}"
            )
        for name in (
            "train_steps",
            "batch_size",
            "checkpoint_every",
            "keep_checkpoints",
            "log_every",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"TrainConfig.{name} must be positive, got {getattr(self, name)}")
        if self.z_loss < 0:
            raise ValueError(f"TrainConfig.z_loss must be >= 0, got {self.z_loss}")
        self._check_step_fields()
        self._check_loop_fields()

    def _check_step_fields(self):
        """Validates the loss normalisation and gradient accumulation."""
        factor = self.loss_normalizing_factor
        if factor is not None and not (isinstance(factor, int | float) and factor > 0):
            raise ValueError(
                "TrainConfig.loss_normalizing_factor must be None (per target token) or a "
                f"positive number, got {factor!r}"
            )
        if self.grad_accum_steps < 1:
            raise ValueError(
                f"TrainConfig.grad_accum_steps must be >= 1, got {self.grad_accum_steps}"
            )
        if self.batch_size % self.grad_accum_steps:
            raise ValueError(
                f"TrainConfig.grad_accum_steps={self.grad_accum_steps} must divide "
                f"batch_size={self.batch_size}"
            )

    def _check_loop_fields(self):
        """Validates (and normalises gin's lists in) the mesh, prefetch and eval fields."""
        mesh = tuple(self.mesh_shape)
        if len(mesh) != 2 or any(n == 0 or n < -1 for n in mesh) or mesh.count(-1) > 1:
            raise ValueError(
                "TrainConfig.mesh_shape must be (data, model): positive sizes, or -1 for "
                f"one axis to take the remaining devices; got {self.mesh_shape}"
            )
        object.__setattr__(self, "mesh_shape", mesh)
        object.__setattr__(self, "eval_tasks", tuple(self.eval_tasks))
        for name in ("prefetch_batches", "eval_every", "eval_limit"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.eval_max_decode_length <= 0:
            raise ValueError(
                "TrainConfig.eval_max_decode_length must be positive, got "
                f"{self.eval_max_decode_length}"
            )
        if not isinstance(self.eval_suite, str) or not self.eval_suite:
            raise ValueError("TrainConfig.eval_suite must be a non-empty string")


def load_train_config(train_dir, bindings=()) -> TrainConfig:
    """Parses a train folder's stored config, bound to the folder, and returns its TrainConfig.

    The parsed gin config stays active afterwards: data formatting choices
    (instruction banks, bad-record policy) are read from it when datasets are built.

    Args:
        train_dir: A :class:`flawn.runs.TrainDir`.
        bindings: Extra gin bindings, applied last.

    Raises:
        ConfigError: If the stored config does not give a valid TrainConfig.
    """
    from flawn import gin_utils
    from flawn.errors import ConfigError

    gin_utils.parse([], [*train_dir.bindings(), *bindings], text=train_dir.config_text())
    try:
        return TrainConfig()
    except ValueError as err:
        raise gin_utils.explain_required(err) or ConfigError(
            f"{train_dir.config_path}: {err}"
        ) from err
