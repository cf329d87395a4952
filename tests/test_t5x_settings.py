"""Every training setting of the local backend's resolved config reaches T5X's gin, or is refused.

T5X is not needed: the generated gin files are read with gin's own parser
and each binding is compared with the stage's :class:`TrainConfig` as the
local backend resolves it (the learning rate at several steps, the loss
normalisation by what it divides by). A field added to TrainConfig,
OptimizerConfig, AdafactorConfig or T5Config without a T5X mapping in
:data:`flawn.t5x.settings.T5X_SETTINGS` and a comparison here fails
:func:`test_every_setting_is_mapped_or_declared_not_to_apply`.
"""

import dataclasses
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from test_t5x import _bindings, _files, _prepare, _resolve

import flawn.tasks  # noqa: F401  (registers the demo mixtures)
from flawn.errors import ConfigError
from flawn.t5x.backend import T5XBackend
from flawn.t5x.plan import RunPlan, stage_config
from flawn.t5x.settings import T5X_FIXED_MODEL, T5X_SETTINGS
from flawn.train.config import TrainConfig

#: Non-default values for every setting that has one, so a dropped setting shows.
CHANGED = [
    "OptimizerConfig.learning_rate = 0.003",
    "OptimizerConfig.warmup_steps = 7",
    "OptimizerConfig.schedule = 'cosine'",
    "OptimizerConfig.grad_clip_norm = 0.5",
    "AdafactorConfig.decay_rate = 0.7",
    "AdafactorConfig.clipping_threshold = None",
    "AdafactorConfig.multiply_by_parameter_scale = False",
    "AdafactorConfig.min_dim_size_to_factor = 64",
    "AdafactorConfig.beta1 = 0.9",
    "AdafactorConfig.epsilon1 = 1e-20",
    "AdafactorConfig.epsilon2 = 0.01",
    "AdafactorConfig.factored = False",
    "OptimizerConfig.adafactor = @AdafactorConfig()",
    "TrainConfig.z_loss = 0.001",
    "TrainConfig.loss_normalizing_factor = 1024.0",
    "TrainConfig.grad_accum_steps = 2",
    "TrainConfig.pack = False",
    "TrainConfig.checkpoint_every = 5",
    "TrainConfig.keep_checkpoints = 3",
    "TrainConfig.log_every = 4",
    "TrainConfig.cache_dir = '/data/seqio_cache'",
    "sized_t5_config.dropout_rate = 0.05",
]


def _field_paths(cls, prefix=""):
    for field in dataclasses.fields(cls):
        path = prefix + field.name
        nested = field.default_factory if field.default_factory is not dataclasses.MISSING else None
        if nested is not None and dataclasses.is_dataclass(nested):
            yield from _field_paths(nested, path + ".")
        else:
            yield path


def _selector(value) -> str:
    """A gin reference's name (``%Z_LOSS``, ``adafactor.Adafactor``)."""
    text = str(value)
    return text if text.startswith("%") else getattr(value, "selector", None) or text


def _t5x_denominator(factor, real_tokens: float) -> float:
    """What T5X divides a step's summed token losses by (t5x.losses)."""
    if factor is None:
        return 1.0
    if isinstance(factor, str):
        assert factor.upper() == "NUM_REAL_TARGET_TOKENS", factor
        return real_tokens
    return float(factor)


def _learning_rates(stage, config, start: int):
    from flawn.t5x.schedule import stage_learning_rate
    from flawn.train.optim import learning_rate_schedule

    local = learning_rate_schedule(config.optimizer, config.train_steps)
    prefix = "schedule.stage_learning_rate."
    kwargs = {k.removeprefix(prefix): v for k, v in stage.items() if k.startswith(prefix)}
    t5x = stage_learning_rate(**kwargs)
    steps = sorted({0, 1, 3, 6, 7, 8, config.train_steps // 2, config.train_steps - 1})
    return (
        np.array([float(local(s)) for s in steps], np.float32),
        np.array([float(t5x(start + s)) for s in steps], np.float32),
    )


def _comparisons(config: TrainConfig, model: dict, stage: dict, launch: str, start: int, name):
    """``{setting: (what the local backend uses, what T5X gets)}`` for every mapped setting."""
    import seqio

    from flawn.t5x.settings import adafactor_bindings  # noqa: F401  (the mapping under test)
    from flawn.train.losses import loss_denominator

    optimizer, adafactor = config.optimizer, config.optimizer.adafactor
    vocabulary = (
        seqio.get_mixture_or_task(config.mixture_or_task_name).output_features["targets"].vocabulary
    )
    rows = config.model.with_vocab_size(vocabulary.vocab_size).vocab_size
    local_rates, t5x_rates = _learning_rates(stage, config, start)
    ada = {k.split(".")[-1]: v for k, v in stage.items() if k.startswith("adafactor.Adafactor.")}
    compared = {
        "model_dir": (
            True,
            'local model_dir="$MODEL_DIR_ROOT/$name"' in launch
            and "--gin_bindings=\"MODEL_DIR = '$model_dir'\"" in launch
            and f" {name} " in launch,
        ),
        "mixture_or_task_name": (config.mixture_or_task_name, stage["MIXTURE_OR_TASK_NAME"]),
        "task_feature_lengths": (dict(config.task_feature_lengths), stage["TASK_FEATURE_LENGTHS"]),
        "train_steps": (config.train_steps, stage["TRAIN_STEPS"] - start),
        "batch_size": (config.batch_size, stage["BATCH_SIZE"]),
        "seed": (
            (config.seed, config.seed),
            (stage["RANDOM_SEED"], stage["train/utils.DatasetConfig.seed"]),
        ),
        "pack": (config.pack, stage["train/utils.DatasetConfig.pack"]),
        "z_loss": (
            (config.z_loss, "%Z_LOSS"),
            (stage["Z_LOSS"], _selector(model["models.EncoderDecoderModel.z_loss"])),
        ),
        "loss_normalizing_factor": (
            [float(loss_denominator(real, config.loss_normalizing_factor)) for real in (1, 37)],
            [_t5x_denominator(stage["LOSS_NORMALIZING_FACTOR"], real) for real in (1, 37)],
        ),
        "grad_accum_steps": (
            config.grad_accum_steps,
            stage["trainer.Trainer.num_microbatches"] or 1,
        ),
        "checkpoint_every": (config.checkpoint_every, stage["utils.SaveCheckpointConfig.period"]),
        "keep_checkpoints": (config.keep_checkpoints, stage["utils.SaveCheckpointConfig.keep"]),
        "log_every": (config.log_every, stage["train_script.train.stats_period"]),
        "cache_dir": (config.cache_dir is not None, stage["USE_CACHED_TASKS"]),
        "optimizer.name": (
            (optimizer.name, "adafactor.Adafactor"),
            ("adafactor", _selector(model["OPTIMIZER"])),
        ),
        "optimizer.learning_rate": (True, np.allclose(local_rates, t5x_rates, rtol=1e-6)),
        "optimizer.warmup_steps": (local_rates.tolist(), t5x_rates.tolist()),
        "optimizer.schedule": (
            "schedule.stage_learning_rate",
            _selector(stage["trainer.Trainer.learning_rate_fn"]),
        ),
        "optimizer.grad_clip_norm": (
            optimizer.grad_clip_norm or None,
            ada["global_norm_clip_threshold"],
        ),
        "model.vocab_size": (rows, model["network.T5Config.vocab_size"]),
        "model.dropout_rate": (
            (config.model.dropout_rate, "%DROPOUT_RATE"),
            (stage["DROPOUT_RATE"], _selector(model["network.T5Config.dropout_rate"])),
        ),
    }
    for field in dataclasses.fields(adafactor):
        compared[f"optimizer.adafactor.{field.name}"] = (
            getattr(adafactor, field.name),
            ada[field.name],
        )
    for key in ("emb_dim", "num_heads", "head_dim", "mlp_dim"):
        compared[f"model.{key}"] = (getattr(config.model, key), model[f"network.T5Config.{key}"])
    for key in ("num_encoder_layers", "num_decoder_layers"):
        compared[f"model.{key}"] = (getattr(config.model, key), model[f"network.T5Config.{key}"])
    for key, fixed in T5X_FIXED_MODEL.items():
        compared[f"model.{key}"] = (getattr(config.model, key), fixed)
    return compared


def test_every_setting_is_mapped_or_declared_not_to_apply():
    paths = list(_field_paths(TrainConfig))
    assert "optimizer.adafactor.decay_rate" in paths and "model.emb_dim" in paths
    missing = [p for p in paths if p not in T5X_SETTINGS]
    assert not missing, f"settings without a T5X mapping in flawn.t5x.settings: {missing}"
    assert set(T5X_SETTINGS) == set(paths), set(T5X_SETTINGS) - set(paths)


def _runs(tmp_path):
    """Per stage: name, start step, TrainConfig, model and stage bindings, launch.sh, init."""
    runs = {
        "changed": _resolve(bindings=CHANGED),
        # A continued stage: rsqrt pre-training, then fine-tuning from its checkpoint.
        "chained": _resolve(
            regime="pretrain_then_finetune",
            PRETRAIN_MIXTURE="multilegalpile.sample",
            PRETRAIN_STEPS=30,
        ),
        # Continued pre-training of the public T5 1.1 checkpoint (step 1,000,000).
        "public": _resolve(
            size="small",
            regime="pretrain_then_finetune",
            PRETRAIN_MIXTURE="multilegalpile.sample",
            PRETRAIN_STEPS=30,
        ),
    }
    out = []
    for key, spec in runs.items():
        run_dir = _prepare(tmp_path / key, spec)
        files = _files(run_dir)
        plan = RunPlan.from_json(json.loads(files["plan.json"]))
        model = _bindings(files["model.gin"])
        for stage, planned in zip(spec.stages, plan.stages, strict=True):
            out.append(
                (
                    f"{key}/{stage.name}",
                    planned.start_step,
                    stage_config(stage),
                    model,
                    _bindings(files[f"stages/{stage.name}.gin"]),
                    files["launch.sh"],
                    planned.init_kind,
                )
            )
    return out


def test_the_generated_gin_carries_every_training_setting_of_the_local_config(tmp_path):
    runs = _runs(tmp_path)
    starts = {name: start for name, start, *_ in runs}
    assert starts == {
        "changed/finetune": 0,
        "chained/pretrain": 0,
        "chained/finetune": 30,
        "public/pretrain": 1_000_000,
        "public/finetune": 1_000_030,
    }
    for name, start, config, model, stage, launch, init_kind in runs:
        compared = _comparisons(config, model, stage, launch, start, name.split("/")[1])
        for path, where in T5X_SETTINGS.items():
            if where.startswith("-"):
                assert path not in compared, path
                continue
            assert path in compared, f"{path} is mapped ({where}) but not compared here"
            local, t5x = compared[path]
            assert local == t5x, f"{name}: {path}: local {local!r}, T5X {t5x!r}"
        # As the local backend: Adafactor's decay from the stage's start, a fresh optimizer.
        assert stage["adafactor.Adafactor.step_offset"] == start
        dropped = stage.get("utils.RestoreCheckpointConfig.assignment_map")
        assert dropped == (None if init_kind == "scratch" else ((r"state/param_states.*", None),))
        assert model["LABEL_SMOOTHING"] == 0.0  # flawn has no label smoothing


def test_continued_pre_training_keeps_the_local_warm_up_on_t5x(tmp_path):
    """From step 1,000,000, T5X's rate is flawn's 1.0 / sqrt(max(step, 10000)), step from 0."""
    spec = _resolve(
        size="small",
        regime="pretrain_then_finetune",
        PRETRAIN_MIXTURE="multilegalpile.sample",
        PRETRAIN_STEPS=30,
    )
    stage = _bindings(_files(_prepare(tmp_path, spec))["stages/pretrain.gin"])
    _, t5x = _learning_rates(stage, stage_config(spec.stages[0]), 1_000_000)
    np.testing.assert_allclose(t5x, 0.01, rtol=1e-6)


@pytest.mark.parametrize(
    "bindings, named",
    [
        (["OptimizerConfig.name = 'adamw'"], "OptimizerConfig.name = 'adamw'"),
        (
            ["TrainConfig.grad_accum_steps = 2"],
            "TrainConfig.grad_accum_steps = 2 with loss_normalizing_factor = None",
        ),
    ],
)
def test_a_setting_t5x_would_not_apply_is_refused(bindings, named):
    spec = _resolve(bindings=bindings)
    with pytest.raises(ConfigError, match=re.escape(f"stage finetune: {named}")) as err:
        T5XBackend().validate(spec)
    assert "--backend local" in str(err.value) or "grad_accum_steps = 1" in str(err.value)


def test_the_demo_on_t5x_plans_with_a_warning_and_does_not_launch(tmp_path):
    from flawn.sweeps.planning import plan_sweep

    plan = plan_sweep("experiments/demo.gin", output_dir=tmp_path, backend="t5x", strict=False)
    assert any("OptimizerConfig.name = 'adamw' does not reach T5X" in w for w in plan.warnings)
    with pytest.raises(ConfigError, match=r"OptimizerConfig\.name = 'adamw' does not reach T5X"):
        plan_sweep("experiments/demo.gin", output_dir=tmp_path, backend="t5x", strict=True)
    assert not os.listdir(tmp_path)


def test_the_schedule_works_after_t5x_has_locked_the_gin_config():
    # T5X imports the stage gin's modules, locks the config, and only then calls
    # learning_rate_fn: nothing it calls may register a gin configurable that late.
    script = (
        "import gin\n"
        "from flawn.t5x import schedule\n"
        "gin.finalize()\n"
        "fn = schedule.stage_learning_rate('rsqrt', 1.0, 100, 10, step_offset=1000)\n"
        "print(float(fn(1000)), float(fn(1010)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    first, later = (float(x) for x in done.stdout.split())
    assert first == pytest.approx(0.1) and later == pytest.approx(0.1)
