"""Typed, validated configuration of a local training run (bound by gin)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import gin

from flawn.models.config import T5Config

_OPTIMIZERS = ("adamw", "adafactor")
_SCHEDULES = ("constant", "cosine", "linear")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """The optimizer and its learning-rate schedule.

    Attributes:
        name: ``adamw`` or ``adafactor`` (T5's default optimizer).
        learning_rate: Peak learning rate.
        warmup_steps: Linear warm-up from 0 to the peak.
        schedule: Shape after warm-up: ``constant``, ``cosine`` or ``linear`` decay to 0.
        weight_decay: Decoupled weight decay (AdamW only).
        grad_clip_norm: Global-norm gradient clipping; ``0`` disables it.
    """

    name: str = "adamw"
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    schedule: str = "cosine"
    weight_decay: float = 0.0
    grad_clip_norm: float = 1.0

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
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    log_every: int = 25
    use_wandb: bool = True
    wandb_project: str = "flawn"
    cache_dir: str | None = None
    report_data: bool = True

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
