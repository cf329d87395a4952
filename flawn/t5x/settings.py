"""How each training setting of a stage reaches T5X, and which ones cannot.

Every field of :class:`~flawn.train.config.TrainConfig` (with its
``optimizer``, ``optimizer.adafactor`` and ``model``) is listed in
:data:`T5X_SETTINGS`: where the stage's T5X gin files carry it, or why it
does not change what is trained. A value T5X cannot train with is refused
(:func:`refused_settings`): ``flawn sweep plan`` shows it as a warning,
``launch`` stops, naming the setting and what to do, instead of T5X
silently training with something else.

What the mapping keeps equal to the local backend:

* Loss normalisation: flawn's ``loss_normalizing_factor = None`` divides a
  step's summed token losses by its real target tokens, which is T5X's
  ``'NUM_REAL_TARGET_TOKENS'``; T5X's own ``None`` would not divide at all.
  A number is the same constant on both.
* The learning rate: :func:`flawn.t5x.schedule.stage_learning_rate`, flawn's
  own schedule counted from the stage's first step (T5X's step minus the
  starting checkpoint's).
* Adafactor: every :class:`~flawn.train.config.AdafactorConfig` field,
  global-norm clipping (``grad_clip_norm``) as T5X's
  ``global_norm_clip_threshold``, its decay schedule restarted at the stage's
  first step (``step_offset``), and a fresh optimizer state for a stage that
  starts from a checkpoint, as the local backend carries only parameters.
* Gradient accumulation: T5X's ``num_microbatches`` sums the micro-batches'
  gradients, each normalised by its own loss factor; that equals flawn's
  update only for a constant factor.
"""

from __future__ import annotations

from typing import Any

#: T5X's network fixes these (``t5x.examples.t5.network``): relative position
#: buckets, their largest distance, and the layer norms' epsilon.
T5X_FIXED_MODEL = {
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "layer_norm_epsilon": 1e-6,
}

#: Every training setting: ``(where T5X gets it)`` or ``("-", why it does not apply)``.
#: Keys are TrainConfig fields, ``optimizer.<field>``, ``optimizer.adafactor.<field>`` and
#: ``model.<field>``; tests/test_t5x_settings.py fails for a field missing here.
T5X_SETTINGS: dict[str, str] = {
    "model_dir": "launch.sh: MODEL_DIR = $MODEL_DIR_ROOT/<stage>",
    "mixture_or_task_name": "stages/<stage>.gin: MIXTURE_OR_TASK_NAME",
    "task_feature_lengths": "stages/<stage>.gin: TASK_FEATURE_LENGTHS",
    "train_steps": "stages/<stage>.gin: TRAIN_STEPS (start step + the stage's steps)",
    "batch_size": "stages/<stage>.gin: BATCH_SIZE",
    "seed": "stages/<stage>.gin: RANDOM_SEED and train/utils.DatasetConfig.seed",
    "pack": "stages/<stage>.gin: train/utils.DatasetConfig.pack",
    "z_loss": "stages/<stage>.gin: Z_LOSS",
    "loss_normalizing_factor": "stages/<stage>.gin: LOSS_NORMALIZING_FACTOR",
    "grad_accum_steps": "stages/<stage>.gin: trainer.Trainer.num_microbatches",
    "checkpoint_every": "stages/<stage>.gin: utils.SaveCheckpointConfig.period",
    "keep_checkpoints": "stages/<stage>.gin: utils.SaveCheckpointConfig.keep",
    "log_every": "stages/<stage>.gin: train_script.train.stats_period",
    "cache_dir": "stages/<stage>.gin: USE_CACHED_TASKS; launch.sh: SEQIO_CACHE_DIRS",
    "use_wandb": "-: logging only (T5X writes TensorBoard summaries)",
    "wandb_project": "-: logging only",
    "report_data": "-: reporting only",
    "mesh_shape": "-: device layout only; pod.sh passes the size's NUM_PARTITIONS",
    "prefetch_batches": "-: input pipelining only",
    "eval_every": "-: curves only; T5X evaluates the run's first suite every checkpoint",
    "eval_suite": "-: curves only",
    "eval_tasks": "-: curves only",
    "eval_max_decode_length": "-: curves only",
    "eval_limit": "-: curves only",
    "optimizer.name": "model.gin: OPTIMIZER = T5X's Adafactor; 'adamw' is refused",
    "optimizer.learning_rate": "stages/<stage>.gin: schedule.stage_learning_rate",
    "optimizer.warmup_steps": "stages/<stage>.gin: schedule.stage_learning_rate",
    "optimizer.schedule": "stages/<stage>.gin: schedule.stage_learning_rate",
    "optimizer.weight_decay": "-: AdamW only (OptimizerConfig refuses it with Adafactor)",
    "optimizer.grad_clip_norm": (
        "stages/<stage>.gin: adafactor.Adafactor.global_norm_clip_threshold"
    ),
    "optimizer.adafactor.decay_rate": "stages/<stage>.gin: adafactor.Adafactor.decay_rate",
    "optimizer.adafactor.clipping_threshold": (
        "stages/<stage>.gin: adafactor.Adafactor.clipping_threshold"
    ),
    "optimizer.adafactor.multiply_by_parameter_scale": (
        "stages/<stage>.gin: adafactor.Adafactor.multiply_by_parameter_scale"
    ),
    "optimizer.adafactor.min_dim_size_to_factor": (
        "stages/<stage>.gin: adafactor.Adafactor.min_dim_size_to_factor"
    ),
    "optimizer.adafactor.beta1": "stages/<stage>.gin: adafactor.Adafactor.beta1",
    "optimizer.adafactor.epsilon1": "stages/<stage>.gin: adafactor.Adafactor.epsilon1",
    "optimizer.adafactor.epsilon2": "stages/<stage>.gin: adafactor.Adafactor.epsilon2",
    "optimizer.adafactor.factored": "stages/<stage>.gin: adafactor.Adafactor.factored",
    "model.vocab_size": "model.gin: network.T5Config.vocab_size (the run's)",
    "model.emb_dim": "model.gin: network.T5Config.emb_dim",
    "model.num_heads": "model.gin: network.T5Config.num_heads",
    "model.head_dim": "model.gin: network.T5Config.head_dim",
    "model.mlp_dim": "model.gin: network.T5Config.mlp_dim",
    "model.num_encoder_layers": "model.gin: network.T5Config.num_encoder_layers",
    "model.num_decoder_layers": "model.gin: network.T5Config.num_decoder_layers",
    "model.dropout_rate": "stages/<stage>.gin: DROPOUT_RATE",
    "model.relative_attention_num_buckets": "T5X's network: 32 (other values are refused)",
    "model.relative_attention_max_distance": "T5X's network: 128 (other values are refused)",
    "model.layer_norm_epsilon": "T5X's network: 1e-6 (other values are refused)",
    "model.dtype": (
        "-: a per-host choice, launch.sh's FLAWN_T5X_DTYPE (bfloat16 on TPUs; float32 "
        "reproduces the local backend's float32 exactly)"
    ),
}


def t5x_loss_normalizing_factor(value: float | None) -> float | str:
    """T5X's ``LOSS_NORMALIZING_FACTOR`` for flawn's ``TrainConfig.loss_normalizing_factor``.

    flawn's ``None`` (a mean per real target token) is T5X's
    ``'NUM_REAL_TARGET_TOKENS'``; a number is the same constant.
    """
    return "NUM_REAL_TARGET_TOKENS" if value is None else float(value)


def refused_settings(config, where: str) -> list[str]:
    """What in a stage's TrainConfig T5X would not train as the local backend does.

    Args:
        config: The stage's :class:`~flawn.train.config.TrainConfig`.
        where: Names the run and stage in messages.

    Returns:
        One message per refused setting, naming it and what to do; empty if none.
    """
    problems = []
    if config.optimizer.name != "adafactor":
        problems.append(
            f"{where}: OptimizerConfig.name = {config.optimizer.name!r} does not reach T5X, whose "
            "stages train with T5X's Adafactor; bind OptimizerConfig.name = 'adafactor' (with "
            "its learning_rate, warmup_steps and schedule) for --backend t5x, or train with "
            "--backend local"
        )
    if config.grad_accum_steps > 1 and config.loss_normalizing_factor is None:
        problems.append(
            f"{where}: TrainConfig.grad_accum_steps = {config.grad_accum_steps} with "
            "loss_normalizing_factor = None: T5X normalises each micro-batch by its own target "
            "tokens, flawn by the whole batch's; set TrainConfig.loss_normalizing_factor to a "
            "number (e.g. batch_size x targets length) or grad_accum_steps = 1"
        )
    for name, fixed in T5X_FIXED_MODEL.items():
        value = getattr(config.model, name)
        if value != fixed:
            problems.append(
                f"{where}: the model's {name} = {value!r}, but T5X's network fixes it at "
                f"{fixed!r}; use {fixed!r} for --backend t5x, or train with --backend local"
            )
    return problems


def adafactor_bindings(config) -> dict[str, Any]:
    """``adafactor.Adafactor``'s arguments for an OptimizerConfig (step_offset aside)."""
    settings = config.optimizer.adafactor
    return {
        "decay_rate": float(settings.decay_rate),
        "clipping_threshold": settings.clipping_threshold,
        "multiply_by_parameter_scale": bool(settings.multiply_by_parameter_scale),
        "min_dim_size_to_factor": int(settings.min_dim_size_to_factor),
        "beta1": settings.beta1,
        "epsilon1": float(settings.epsilon1),
        "epsilon2": float(settings.epsilon2),
        "factored": bool(settings.factored),
        "global_norm_clip_threshold": float(config.optimizer.grad_clip_norm) or None,
    }
