"""The ``local`` backend: every stage of a run trained on this host with JAX/Flax.

Stages are chained by checkpoint: a stage whose ``init`` is ``previous``
starts from the previous stage's final parameters (with a fresh optimizer),
one that names a folder starts from that folder's last checkpoint. Each stage
resumes from its own last checkpoint, and a finished stage is not trained again.
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


def _train_dir_of(path: str) -> TrainDir:
    """The train folder a checkpoint path names: a train folder, or a run folder's final stage."""
    run = RunDir(path)
    if run.is_sweep_run:
        return run.final_stage()
    return TrainDir(path)


class LocalBackend(Backend):
    """Trains on this host (CPU, one GPU or the local TPU devices)."""

    name = "local"

    def validate(self, spec: RunSpec) -> None:
        """Checks that every stage's starting point can be read from this host."""
        for stage in spec.stages:
            if stage.init in (INIT_SCRATCH, INIT_PREVIOUS):
                continue
            if stage.init.startswith(("gs://", "s3://", "http://", "https://")):
                raise ConfigError(
                    f"run {spec.name}, stage {stage.name}: the local backend does not download "
                    f"checkpoints ({stage.init}); copy it to a local folder and set "
                    "INIT='/path/to/checkpoint', use INIT='scratch', or train with --backend t5x"
                )
            if not os.path.isdir(stage.init):
                raise ConfigError(
                    f"run {spec.name}, stage {stage.name}: initial checkpoint folder "
                    f"{stage.init} does not exist"
                )

    def prepare(self, spec: RunSpec, run_dir: RunDir) -> None:
        """Writes each stage's resolved config into its folder."""
        for stage in spec.stages:
            run_dir.stage(stage.name).write_config(stage.gin)

    def train(self, spec: RunSpec, run_dir: RunDir, progress: Sequence[ProgressHook] = ()) -> None:
        """Trains the stages in order, skipping finished ones and resuming interrupted ones."""
        from flawn.train.config import load_train_config
        from flawn.train.local import flatten_config, train
        from flawn.train.tracking import RunTracker

        self.prepare(spec, run_dir)
        for number, stage in enumerate(spec.stages):
            train_dir = run_dir.stage(stage.name)
            label = f"stage {number + 1}/{len(spec.stages)} {stage.name}"
            if _stage_done(train_dir, stage.steps):
                tqdm.write(f"[{spec.name}] {label}: finished earlier ({train_dir.path})")
                continue
            initial = None
            if stage.init == INIT_PREVIOUS:
                previous = run_dir.stage(spec.stages[number - 1].name)
                initial = self._params_of(previous)
                tqdm.write(f"[{spec.name}] {label}: starts from {previous.path}")
            elif stage.init != INIT_SCRATCH:
                initial = self._params_of(_train_dir_of(stage.init))
                tqdm.write(f"[{spec.name}] {label}: starts from {stage.init}")
            config = load_train_config(train_dir)
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

    def _params_of(self, train_dir: TrainDir):
        """The last checkpoint's parameters of a train folder."""
        if not train_dir.checkpoint_steps():
            raise ConfigError(f"{train_dir.checkpoint_dir} holds no checkpoint to start from")
        return self._restore(train_dir, None).params["params"]

    def _restore(self, train_dir: TrainDir, step: int | None) -> Predictor:
        from flawn.train.config import load_train_config
        from flawn.train.local import restore_params

        config = load_train_config(train_dir)
        model, params, vocabulary, restored = restore_params(config, step)
        return Predictor(model, params, vocabulary, restored, dict(config.task_feature_lengths))

    def predictor(self, run_dir: RunDir, step: int | None = None) -> Predictor:
        """The final stage's model at ``step`` (default: its last checkpoint)."""
        train_dir = run_dir.final_stage()
        if not train_dir.checkpoint_steps():
            raise ConfigError(
                f"{train_dir.checkpoint_dir} holds no checkpoint; train the run first "
                "(flawn sweep launch EXPERIMENT, or flawn train)"
            )
        return self._restore(train_dir, step)
