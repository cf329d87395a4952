"""Sweep run folders of the tiny size with random parameters, written in seconds (no training).

Inference tests need checkpoints in flawn's format, not good answers: each run
here is what ``flawn sweep launch`` leaves (spec.json, the stage config and an
orbax checkpoint), with freshly initialised parameters.
"""

import pathlib

import jax
import numpy as np

from flawn.runs import RunDir

#: Two mixtures of the demo sweep, for side-by-side pages.
MIXTURES = ("demo.general_only", "demo.general_plus_legal")

LENGTHS = {"inputs": 144, "targets": 16}


def _random_like(rng: np.random.Generator):
    """Fills an abstract leaf: layer-norm scales 1, other floats ~ N(0, 1/fan_in), ints 0."""

    def fill(leaf):
        if not np.issubdtype(leaf.dtype, np.floating):
            return np.zeros(leaf.shape, leaf.dtype)
        if len(leaf.shape) == 1:
            return np.ones(leaf.shape, leaf.dtype)
        return (rng.normal(size=leaf.shape) / np.sqrt(leaf.shape[0])).astype(leaf.dtype)

    return fill


def write_random_run(root: pathlib.Path, mixture: str, seed: int = 0, step: int = 1) -> RunDir:
    """A finished-looking sweep run of ``mixture`` whose checkpoint holds random parameters."""
    import flawn.tasks  # noqa: F401  (registers the demo mixtures)
    from flawn.sweeps.spec import Sweep, SweepPoint, resolve_run
    from flawn.train.backend import LocalBackend
    from flawn.train.checkpoints import Checkpointer
    from flawn.train.config import load_train_config
    from flawn.train.local import _fresh_state, build_model, task_vocabulary
    from flawn.train.optim import make_optimizer

    sweep = Sweep(
        name="inference",
        mixtures=[mixture],
        baseline_mixture=mixture,
        regimes=["finetune"],
        macros={"TASK_FEATURE_LENGTHS": LENGTHS, "TRAIN_STEPS": step, "BATCH_SIZE": 2},
        bindings=["TrainConfig.use_wandb = False", "TrainConfig.report_data = False"],
    )
    point = SweepPoint({"mixture": mixture, "size": "tiny", "regime": "finetune", "seed": seed}, {})
    spec = resolve_run(sweep, point)
    run_dir = RunDir(pathlib.Path(root) / spec.run_id)
    run_dir.write_spec(spec.to_json())
    LocalBackend().prepare(spec, run_dir)
    config = load_train_config(run_dir.final_stage())
    model = build_model(config.model, task_vocabulary(config.mixture_or_task_name))
    optimizer = make_optimizer(config.optimizer, config.train_steps)
    # Random values of the right shapes: initialising for real compiles for ~10 s.
    abstract = jax.eval_shape(lambda: _fresh_state(model, optimizer, dict(LENGTHS), seed))
    state = jax.tree.map(_random_like(np.random.default_rng(seed)), abstract)
    checkpointer = Checkpointer(run_dir.final_stage().checkpoint_dir)
    checkpointer.save(step, {**state, "examples_seen": np.asarray(2 * step, np.int64)})
    checkpointer.close()
    return run_dir
