"""Training one job from gin files, outside any sweep (what ``flawn train`` runs)."""

from __future__ import annotations

import pathlib
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
    from flawn.train import processes
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
    processes.initialize()  # several processes: each checked the folder before any writes
    processes.wait_for_all("config.gin checked")
    if processes.is_primary():
        folder.path.mkdir(parents=True, exist_ok=True)
        folder.config_path.write_text(text, encoding="utf-8")
    return train(config)


def regime_file(gin_files: Sequence[str]) -> str | None:
    """The regime among ``gin_files`` (a file under ``gin/regimes/``), if any."""
    regimes = [f for f in gin_files if pathlib.PurePath(f).parent.name == "regimes"]
    if len(regimes) > 1:
        from flawn.errors import ConfigError

        raise ConfigError(f"give one regime file, not {len(regimes)}: {regimes}")
    return regimes[0] if regimes else None


def train_regime_from_gin(gin_files: Sequence[str], bindings: Sequence[str] = ()):
    """Trains every stage of a regime into MODEL_DIR, in one command.

    ``gin_files`` hold a model file (``gin/models/<size>.gin``) and a regime
    (``gin/regimes/<regime>.gin``); ``bindings`` set the macros the regime and
    its run files need (MIXTURE_OR_TASK_NAME, TRAIN_STEPS, ..., MODEL_DIR). The
    run is resolved as a one-run sweep would resolve it, so MODEL_DIR becomes a
    run folder (``spec.json``, ``stages/<stage>/``) that ``flawn eval run`` reads;
    stages chain by checkpoint and a restart resumes the stage that was running.

    Returns:
        The run folder (:class:`flawn.runs.RunDir`).

    Raises:
        ConfigError: For a missing model file or macro, or a MODEL_DIR holding another run.
    """
    import ast

    import gin

    from flawn import gin_utils
    from flawn.errors import ConfigError
    from flawn.runs.run_dir import RunDir
    from flawn.sweeps.spec import Sweep, SweepPoint, resolve_run
    from flawn.train.backend import LocalBackend

    regime_path = regime_file(gin_files)
    models = [f for f in gin_files if pathlib.PurePath(f).parent.name == "models"]
    others = [f for f in gin_files if f not in models and f != regime_path]
    if len(models) != 1 or others:
        raise ConfigError(
            "flawn train with a regime takes one model file (gin/models/<size>.gin) and the "
            f"regime file (gin/regimes/<regime>.gin); got {list(gin_files)}"
        )
    macros: dict = {}
    parameters = []
    for binding in bindings:
        key, _, value = binding.partition("=")
        key, value = key.strip(), value.strip()
        if key.isupper():
            try:
                macros[key] = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                raise ConfigError(f"--gin.{key}: {value} is not a literal value") from None
        else:
            parameters.append(binding)
    for required in ("MODEL_DIR", "MIXTURE_OR_TASK_NAME"):
        if required not in macros:
            raise ConfigError(
                f"the required macro {required} has no value; pass --gin.{required}=…"
            )
    model_dir = macros.pop("MODEL_DIR")
    mixture = macros.pop("MIXTURE_OR_TASK_NAME")
    seed = int(macros.pop("SEED", 0))
    gin_utils.parse(models)
    try:
        size = gin.query_parameter("%MODEL_SIZE")
    finally:
        gin.clear_config()
    regime = pathlib.PurePath(regime_path).stem
    try:
        sweep = Sweep(
            name="",
            mixtures=[mixture],
            baseline_mixture=mixture,
            sizes=[size],
            regimes=[regime],
            seeds=[seed],
            macros=macros,
            bindings=parameters,
        )
    except ValueError as err:
        raise ConfigError(str(err)) from err
    point = SweepPoint({"mixture": mixture, "size": size, "regime": regime, "seed": seed}, {})
    spec = resolve_run(sweep, point, backend="local")
    run_dir = RunDir(model_dir)
    stored = run_dir.read_spec()
    if stored is not None and stored["run_id"] != spec.run_id:
        raise ConfigError(
            f"{model_dir} already holds run {stored['run_id']}, not this one ({spec.run_id}); use "
            "another --gin.MODEL_DIR, or delete the folder"
        )
    if stored is None and TrainDir(model_dir).config_path.exists():
        raise ConfigError(f"{model_dir} holds a one-stage training folder; use another MODEL_DIR")
    LocalBackend().validate(spec)
    return _train_stages(run_dir, spec)


def train_run_dir(path: str):
    """Trains the stages of a run folder another command prepared (its ``spec.json``).

    What each worker of a pod slice runs (``pod.sh`` with ``TRAINER=flawn``):
    the run's stages with the local trainer, resumed where they stopped, by as
    many processes as the environment describes (:mod:`flawn.train.processes`).

    Returns:
        The run folder (:class:`flawn.runs.RunDir`).

    Raises:
        ConfigError: If the folder holds no run spec, or the spec cannot be trained here.
    """
    from flawn.errors import ConfigError
    from flawn.runs.run_dir import RunDir
    from flawn.runs.spec import RunSpec
    from flawn.train.backend import LocalBackend

    run_dir = RunDir(path)
    stored = run_dir.read_spec()
    if stored is None:
        raise ConfigError(
            f"{run_dir.path} holds no spec.json; give a run folder written by flawn sweep "
            "launch (or flawn sweep plan), or train from gin files with --gin_file"
        )
    spec = RunSpec.from_json(stored)
    spec.register_mixtures()  # those its experiment defined by weights (Sweep.mixture_weights)
    LocalBackend().validate(spec)
    return _train_stages(run_dir, spec, write_spec=False)


def _train_stages(run_dir, spec, write_spec: bool = True):
    """Trains a run's stages with the local backend, recording its status (process 0)."""
    from flawn.train import processes
    from flawn.train.backend import LocalBackend

    processes.initialize()  # before anything starts JAX's devices
    primary = processes.is_primary()
    if primary:
        if write_spec:
            run_dir.write_spec(spec.to_json())
        run_dir.mark_started(LocalBackend.name)
    try:
        LocalBackend().train(spec, run_dir)
    except BaseException as err:
        if primary:
            run_dir.mark_failed(f"{type(err).__name__}: {err}")
        raise
    if primary:
        run_dir.mark_finished(step=sum(s.steps for s in spec.stages))
    return run_dir
