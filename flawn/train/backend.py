"""The ``local`` backend: every stage of a run trained on this host with JAX/Flax.

Stages are chained by checkpoint: a stage whose ``init`` is ``previous``
starts from the previous stage's final parameters (with a fresh optimizer),
one that names a folder starts from the parameters that folder holds,
recognised by its contents (:func:`flawn.train.checkpoints.checkpoint_format`):
a flawn train or run folder (its last readable checkpoint), a T5X
``checkpoint_<step>`` folder, or a Hugging Face T5 / Flan-T5 folder
(``config.json`` and safetensors). Before anything is compiled or logged,
the starting parameters are checked against the stage's model: a vocabulary
larger than the checkpoint's embedding, a ``config.json`` of another shape,
or any parameter of the wrong shape stops the stage with a message naming
what differs. Each stage resumes from its own last checkpoint, and a
finished stage is not trained again.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from tqdm.auto import tqdm

from flawn.errors import ConfigError
from flawn.runs.backend import Backend, Predictor, ProgressHook
from flawn.runs.run_dir import RunDir, TrainDir
from flawn.runs.spec import INIT_PREVIOUS, INIT_SCRATCH, RunSpec


def _stage_done(train_dir: TrainDir, train_steps: int) -> bool:
    summary = train_dir.read_json(TrainDir.SUMMARY) or {}
    steps = train_dir.checkpoint_steps()
    return summary.get("step") == train_steps and bool(steps) and steps[-1] >= train_steps


def _vocabulary_name(vocabulary) -> str:
    path = getattr(vocabulary, "sentencepiece_model_file", None)
    return f"the vocabulary {path}" if path else f"the vocabulary ({type(vocabulary).__name__})"


def check_initial_params(loaded, config, where: str):
    """Checks parameters read from a checkpoint against a stage's model, before training.

    Nothing is compiled: the model's parameter shapes come from
    ``jax.eval_shape`` of its initialisation.

    Args:
        loaded: A :class:`~flawn.train.checkpoints.LoadedCheckpoint`.
        config: The stage's :class:`~flawn.train.config.TrainConfig`.
        where: Names the run and stage in messages.

    Returns:
        The parameters (numpy arrays).

    Raises:
        ConfigError: If the run's vocabulary has more ids than the
            checkpoint's embedding has rows (a smaller vocabulary is fine: T5
            pads its 32,100 ids to 32,128 rows), if a Hugging Face
            ``config.json`` describes another shape than the model's, or if a
            parameter is missing, unexpected or of another shape (named, with
            both shapes).
    """
    from flawn.models.hf import config_differences, t5_config_from_hf
    from flawn.models.sizes import T5_VOCABULARY_GCS
    from flawn.models.trees import shape_differences, shapes_by_name
    from flawn.train.local import abstract_params, build_model, task_vocabulary

    source = loaded.describe()
    vocabulary = task_vocabulary(config.mixture_or_task_name)
    rows = loaded.embedding_rows
    if vocabulary.vocab_size > rows:
        raise ConfigError(
            f"{where}: {_vocabulary_name(vocabulary)} has {vocabulary.vocab_size} ids, but "
            f"{source} has only {rows} embedding rows, so ids from {rows} on would have no "
            "embedding. Train with the checkpoint's vocabulary (FLAWN_VOCABULARY=<its "
            f"SentencePiece model>; T5 1.1 and Flan-T5: {T5_VOCABULARY_GCS}, copied to a local "
            "file), or start from scratch"
        )
    if loaded.hf_config is not None:
        differences = config_differences(t5_config_from_hf(loaded.hf_config), config.model)
        if differences:
            raise ConfigError(
                f"{where}: {source} is another model than this stage's: "
                + "; ".join(differences)
                + ". Use the size whose shape it has (flawn model list) or another checkpoint"
            )
    try:
        model = build_model(config.model, vocabulary)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from err
    lengths = dict(config.task_feature_lengths)
    want = shapes_by_name(abstract_params(model, lengths))
    have = shapes_by_name(loaded.params)
    missing, unexpected, differing = shape_differences(have, want)
    problems = [f"missing {k}" for k in missing]
    problems += [f"unexpected {k}" for k in unexpected]
    problems += [
        f"parameter {k} has shape {have[k]} in the checkpoint, the model needs {want[k]}"
        for k in differing
    ]
    if problems:
        hint = ""
        embedding = "token_embedder/embedding"
        resized = embedding in have and embedding in want and have[embedding] != want[embedding]
        if resized and config.model.vocab_size == 0:
            hint = (
                f"; the model sizes its embedding from the vocabulary ({want[embedding][0]} "
                f"rows): bind sized_t5_config.vocab_size = {rows} to keep the checkpoint's"
            )
        more = f"; ... ({len(problems)} in all)" if len(problems) > 6 else ""
        raise ConfigError(
            f"{where}: {source} does not fit this stage's model: "
            + "; ".join(problems[:6])
            + more
            + hint
        )
    return loaded.params


class LocalBackend(Backend):
    """Trains on this host (CPU, one GPU or the local TPU devices)."""

    name = "local"

    def validate(self, spec: RunSpec) -> None:
        """Checks that every stage's starting point can be read from this host.

        Also that the run trains with the vocabulary it asks for and its
        starting checkpoints were trained with (:mod:`flawn.runs.run_vocabulary`).
        """
        from flawn.runs.run_vocabulary import check_run_vocabulary

        for stage in spec.stages:
            if stage.init in (INIT_SCRATCH, INIT_PREVIOUS):
                continue
            if stage.init.startswith(("gs://", "s3://", "http://", "https://")):
                raise ConfigError(
                    f"run {spec.name}, stage {stage.name}: the local backend does not download "
                    f"checkpoints ({stage.init}); copy it to a local folder (for a T5X "
                    "checkpoint_<step> folder: gcloud storage cp -r) and set "
                    "INIT='/path/to/checkpoint_<step>', or point INIT at a Hugging Face T5 / "
                    "Flan-T5 folder on disk (config.json + model.safetensors); or use "
                    "INIT='scratch', or train with --backend t5x"
                )
            if not os.path.isdir(stage.init):
                raise ConfigError(
                    f"run {spec.name}, stage {stage.name}: initial checkpoint folder "
                    f"{stage.init} does not exist"
                )
            self._validate_init(spec, stage)
        check_run_vocabulary(spec)

    @staticmethod
    def _validate_init(spec: RunSpec, stage) -> None:
        """Checks, from its files alone, that a stage's starting folder is a checkpoint.

        A Hugging Face ``config.json`` is compared with the run's size here
        already, so a sweep plan names a wrong size before anything trains.
        """
        from flawn.errors import FlawnError
        from flawn.models.config import T5Config
        from flawn.models.hf import config_differences, read_hf_config, t5_config_from_hf
        from flawn.train.checkpoints import HF, checkpoint_format, describe_unknown

        where = f"run {spec.name}, stage {stage.name}"
        kind = checkpoint_format(stage.init)
        if kind is None:
            raise ConfigError(f"{where}: {describe_unknown(stage.init)}")
        shape_keys = {f.name for f in dataclasses.fields(T5Config)} - {"vocab_size"}
        shape = {k: v for k, v in dict(spec.model).items() if k in shape_keys}
        if kind != HF or not shape:
            return
        try:
            checkpoint = t5_config_from_hf(read_hf_config(stage.init), f"{stage.init}/config.json")
        except FlawnError as err:
            raise ConfigError(f"{where}: {err}") from err
        differences = config_differences(checkpoint, dataclasses.replace(T5Config(), **shape))
        if differences:
            raise ConfigError(
                f"{where}: the Hugging Face checkpoint {stage.init} is not of size "
                f"{spec.size}'s shape: "
                + "; ".join(differences)
                + ". Use the size whose shape it has (flawn model list) or another checkpoint"
            )

    def prepare(self, spec: RunSpec, run_dir: RunDir) -> None:
        """Writes each stage's resolved config into its folder, and the run's vocabulary.

        A regime that extends the vocabulary gets it built into ``<run>/vocab/``
        before any stage (:mod:`flawn.runs.vocabulary`).
        """
        if spec.vocabulary:
            from flawn.runs.vocabulary import VocabularyRecipe, write_run_vocabulary

            extension = write_run_vocabulary(run_dir, VocabularyRecipe.from_json(spec.vocabulary))
            tqdm.write(
                f"[{spec.name}] vocabulary: {len(extension.added)} new pieces on "
                f"{extension.base_source or extension.base_model} ({extension.size} ids; "
                f"{run_dir.vocab_dir})"
            )
        for stage in spec.stages:
            run_dir.stage(stage.name).write_config(stage.gin)

    @staticmethod
    def _fit_vocabulary(spec: RunSpec, run_dir: RunDir, loaded, where: str):
        """A checkpoint named by a stage's init, resized to the run's extended vocabulary."""
        from flawn.errors import FlawnError
        from flawn.runs.vocabulary import VocabularyRecipe, run_extension
        from flawn.train.resized_checkpoint import fit_to_extension

        recipe = VocabularyRecipe.from_json(spec.vocabulary)
        extension = run_extension(recipe, os.fspath(run_dir.path))
        try:
            fitted = fit_to_extension(loaded, extension, where)
        except FlawnError as err:
            raise ConfigError(str(err)) from None
        if fitted is not loaded:
            tqdm.write(
                f"[{spec.name}] {where}: resized {loaded.embedding_rows} -> "
                f"{fitted.embedding_rows} vocabulary rows ({len(extension.added)} new pieces, "
                "each the mean of its pieces in the base vocabulary; sentinels moved)"
            )
        return fitted

    def train(self, spec: RunSpec, run_dir: RunDir, progress: Sequence[ProgressHook] = ()) -> None:
        """Trains the stages in order, skipping finished ones and resuming interrupted ones.

        Several processes (:mod:`flawn.train.processes`) train the run
        together when the environment describes them: process 0 writes the
        stage configs and the metrics, every process trains and checkpoints.
        """
        from flawn.train import processes
        from flawn.train.checkpoints import read_checkpoint
        from flawn.train.config import load_train_config
        from flawn.train.local import flatten_config, silent_tracker, train
        from flawn.train.tracking import RunTracker

        processes.initialize()  # before anything starts JAX's devices
        primary = processes.is_primary()
        if primary:
            self.prepare(spec, run_dir)
        processes.wait_for_all("stage configs written")
        for number, stage in enumerate(spec.stages):
            train_dir = run_dir.stage(stage.name)
            label = f"stage {number + 1}/{len(spec.stages)} {stage.name}"
            if _stage_done(train_dir, stage.steps):
                tqdm.write(f"[{spec.name}] {label}: finished earlier ({train_dir.path})")
                continue
            config = load_train_config(train_dir)
            initial = None
            # A stage that resumes from its own checkpoint does not need its starting point.
            if stage.init != INIT_SCRATCH and not train_dir.checkpoint_steps():
                source = (
                    run_dir.stage(spec.stages[number - 1].name).path
                    if stage.init == INIT_PREVIOUS
                    else stage.init
                )
                loaded = read_checkpoint(source)
                tqdm.write(f"[{spec.name}] {label}: starts from {loaded.describe()}")
                if spec.vocabulary and stage.init != INIT_PREVIOUS:
                    # A checkpoint from outside the run is in the base vocabulary.
                    loaded = self._fit_vocabulary(spec, run_dir, loaded, f"stage {stage.name}")
                initial = check_initial_params(
                    loaded, config, f"run {spec.name}, stage {stage.name}"
                )
            if primary:
                tracker = RunTracker(
                    os.fspath(train_dir.path),
                    f"{spec.name}/{stage.name}" if len(spec.stages) > 1 else spec.name,
                    {
                        **{f"axis.{k}": v for k, v in spec.axes.items()},
                        "run_id": spec.run_id,
                        "stage": stage.name,
                        **flatten_config(dataclasses.asdict(config)),
                    },
                    use_wandb=config.use_wandb,
                    project=config.wandb_project,
                    group=spec.sweep or None,
                    job_type="train",
                    tags=[f"{k}={v}" for k, v in spec.axes.items()],
                    run_id=f"{spec.run_id}-{stage.name}",
                    wandb_dir=os.fspath(run_dir.path),
                    metrics_file=TrainDir.METRICS,
                )
            else:
                tracker = silent_tracker(os.fspath(train_dir.path), spec.name)
            hooks = [
                (
                    lambda step, total, metrics, hook=hook, name=stage.name: hook(
                        name, step, total, metrics
                    )
                )
                for hook in progress
            ]
            try:
                train(
                    config,
                    run_name=f"{spec.name} [{stage.name}]",
                    tracker=tracker,
                    initial_params=initial,
                    hooks=hooks,
                )
            finally:
                tracker.close()

    def _restore(self, train_dir: TrainDir, step: int | None) -> Predictor:
        from flawn.train.config import load_train_config
        from flawn.train.local import restore_params

        config = load_train_config(train_dir)
        model, params, vocabulary, restored = restore_params(config, step)
        return Predictor(model, params, vocabulary, restored, dict(config.task_feature_lengths))

    def predictor(self, run_dir: RunDir, step: int | None = None) -> Predictor:
        """The final stage's model at ``step`` (default: its last checkpoint)."""
        stored = run_dir.read_spec()
        if stored and stored.get("mixture_definitions"):
            # Its vocabulary is its mixture's: one its experiment defined must be registered.
            RunSpec.from_json(stored).register_mixtures()
        train_dir = run_dir.final_stage()
        if not train_dir.checkpoint_steps():
            raise ConfigError(
                f"{train_dir.checkpoint_dir} holds no checkpoint; train the run first "
                "(flawn sweep launch EXPERIMENT, or flawn train)"
            )
        return self._restore(train_dir, step)
