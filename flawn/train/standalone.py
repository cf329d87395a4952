"""Training one job from gin files, outside any sweep (what ``flawn train`` runs)."""

from __future__ import annotations

from collections.abc import Sequence

from flawn.runs.run_dir import TrainDir


def train_from_gin(gin_files: Sequence[str], bindings: Sequence[str] = ()):
    """Parses gin files and bindings, stores the resolved config in MODEL_DIR, and trains.

    The stored ``config.gin`` leaves MODEL_DIR unbound, so the folder can be
    moved and still evaluated or resumed. A folder that already holds a
    config is resumed only if the new config is the same; otherwise the
    error says so instead of mixing two runs' checkpoints.

    Returns:
        The :class:`flawn.train.local.TrainResult`.

    Raises:
        ConfigError: For a missing required macro or a MODEL_DIR holding another run.
    """
    import gin

    from flawn import gin_utils
    from flawn.errors import ConfigError
    from flawn.runs.run_dir import relocatable_config
    from flawn.train.config import TrainConfig
    from flawn.train.local import train

    gin_utils.parse(gin_files, bindings)
    try:
        config = TrainConfig()
    except ValueError as err:
        raise gin_utils.explain_required(err) or ConfigError(str(err)) from err
    folder = TrainDir(config.model_dir)
    text = relocatable_config(gin.config_str())
    if folder.config_path.exists() and folder.config_text() != text and folder.checkpoint_steps():
        raise ConfigError(
            f"{folder.path} already holds a run with a different config.gin; resuming it with "
            "this config would mix two runs. Use another --gin.MODEL_DIR, or delete the folder."
        )
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.config_path.write_text(text, encoding="utf-8")
    return train(config)
