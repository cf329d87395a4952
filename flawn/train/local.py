"""The local backend: train a T5 on this host with JAX, Flax, optax and orbax.

``train(TrainConfig(...))`` is deterministic (same config and seed, same
batches and same parameters) and resumable: if ``model_dir`` already holds a
checkpoint, training continues from it, skipping the batches already seen, and
ends where an uninterrupted run would.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import seqio
from tqdm.auto import tqdm

from flawn.compilation_cache import enable_compilation_cache
from flawn.errors import ConfigError
from flawn.models.config import T5Config
from flawn.models.t5 import Transformer
from flawn.runs.run_dir import TrainDir
from flawn.train.checkpoints import Checkpointer
from flawn.train.config import TrainConfig
from flawn.train.data import train_batches
from flawn.train.eval_curve import EvalCurve
from flawn.train.metrics_window import MetricsWindow
from flawn.train.mfu import peak_flops, step_flops
from flawn.train.optim import learning_rate_schedule, make_optimizer
from flawn.train.prefetch import Prefetcher
from flawn.train.processes import initialize as join_processes
from flawn.train.processes import is_primary
from flawn.train.sharding import check_batch_size, make_layout, make_mesh
from flawn.train.step import make_train_step
from flawn.train.tracking import RunTracker

log = logging.getLogger(__name__)

#: Host-side counter saved with each checkpoint (examples consumed so far), so a
#: resumed run reports exact realised per-source counts.
_EXAMPLES_SEEN = "examples_seen"

#: Steps the host may dispatch before the oldest of them has finished: enough to
#: keep the devices fed, few enough that the batches held for them stay bounded.
_MAX_STEPS_IN_FLIGHT = 2


@dataclasses.dataclass
class TrainResult:
    """What a finished training run hands to evaluation.

    Attributes:
        model: The Flax module (with the resolved vocabulary size).
        params: Trained parameters, ``{"params": ...}``.
        vocabulary: The seqio vocabulary of the training data.
        step: The last completed step.
        first_loss: Mean loss over the first logging window of this process.
        final_loss: Mean loss over the last logging window.
        wandb_dir: Local W&B run folder, if W&B was used.
        checkpoint_dir: Where the orbax checkpoints are.
    """

    model: Transformer
    params: Any
    vocabulary: seqio.Vocabulary
    step: int
    first_loss: float
    final_loss: float
    wandb_dir: str | None
    checkpoint_dir: str


def build_model(config: T5Config, vocabulary: seqio.Vocabulary) -> Transformer:
    """Returns the Flax T5 with ``vocab_size`` fitted to the vocabulary."""
    return Transformer(config.with_vocab_size(vocabulary.vocab_size))


def init_params(model: Transformer, lengths: dict[str, int], seed: int):
    """Initialises parameters deterministically from ``seed``."""
    enc = jnp.ones((1, lengths["inputs"]), jnp.int32)
    dec = jnp.ones((1, lengths["targets"]), jnp.int32)
    return model.init(jax.random.PRNGKey(seed), enc, dec, deterministic=True)


def abstract_params(model: Transformer, lengths: dict[str, int]):
    """The parameters' shapes and dtypes, traced from :func:`init_params` without computing it."""
    return jax.eval_shape(lambda: init_params(model, lengths, 0))["params"]


def task_vocabulary(mixture_or_task_name: str) -> seqio.Vocabulary:
    """Returns the ``targets`` vocabulary of a registered mixture or task."""
    return seqio.get_mixture_or_task(mixture_or_task_name).output_features["targets"].vocabulary


def train(
    config: TrainConfig,
    run_name: str | None = None,
    tracker: RunTracker | None = None,
    stop_after: int | None = None,
    initial_params: Any = None,
    hooks: Sequence[Callable[[int, int, Mapping[str, float]], None]] = (),
) -> TrainResult:
    """Trains (or resumes) a model as configured and returns it for evaluation.

    The loop never waits for the devices without need: batches are prepared
    ahead on a thread (``config.prefetch_batches``) and placed with the batch
    sharding, step metrics stay on the devices until a logging step, and the
    host runs at most :data:`_MAX_STEPS_IN_FLIGHT` steps ahead of them.

    Several processes (:mod:`flawn.train.processes`, described by the
    environment) train one run data-parallel: each runs this same call, the
    mesh spans their devices, and only process 0 writes metrics, the
    summary and W&B; all of them save the checkpoints together.

    Args:
        config: The run's configuration.
        run_name: Display name for logs (defaults to the folder name).
        tracker: Where metrics go. If ``None`` one is created from the config
            (W&B if ``config.use_wandb``) and closed at the end; a tracker
            passed in stays open for the caller (e.g. to log eval tables).
        stop_after: Stop at this step, after checkpointing it, as a
            preemption or a time-boxed job would; a later call resumes.
        initial_params: Parameters to start from instead of a random
            initialisation (e.g. the previous stage's); ignored when resuming.
        hooks: Called at every logging step with ``(step, total_steps,
            metrics)`` (e.g. a sweep's heartbeat).

    Returns:
        The trained model, parameters and a summary of the run.

    Raises:
        ConfigError: If the mesh does not fit the devices, the batch does not
            split over the mesh, or the in-training eval suite cannot be loaded
            (or is asked of several processes).
    """
    join_processes()  # before anything starts JAX's devices
    primary = is_primary()
    if config.eval_every and jax.process_count() > 1:
        raise ConfigError(
            "TrainConfig.eval_every: in-training evaluation runs in one process; set it to 0 "
            f"when {jax.process_count()} processes train, and evaluate the checkpoints after "
            "(flawn eval run)"
        )
    enable_compilation_cache()  # a resumed run or a sweep's next run loads its step
    model_dir = os.path.abspath(config.model_dir)
    os.makedirs(model_dir, exist_ok=True)
    files = TrainDir(model_dir)
    name = run_name or os.path.basename(model_dir)
    if config.cache_dir:
        seqio.add_global_cache_dirs([config.cache_dir])
    lengths = dict(config.task_feature_lengths)
    vocabulary = task_vocabulary(config.mixture_or_task_name)
    model = build_model(config.model, vocabulary)
    optimizer = make_optimizer(config.optimizer, config.train_steps)
    abstract = jax.eval_shape(lambda: _fresh_state(model, optimizer, lengths, config.seed))
    layout = make_layout(make_mesh(config.mesh_shape), abstract)
    check_batch_size(config.batch_size, layout)
    curve = EvalCurve(config, model, vocabulary, name) if config.eval_every else None

    checkpointer = Checkpointer(files.checkpoint_dir, keep=config.keep_checkpoints)
    start_step = checkpointer.latest_step() or 0
    examples_seen = 0
    if start_step:
        # Restored straight into the run's layout (orbax reads each device's shards).
        like = jax.tree.map(
            lambda leaf, sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding),
            abstract,
            layout.state,
        )
        restored = checkpointer.restore(
            {**like, _EXAMPLES_SEEN: np.zeros((), np.int64)},
            start_step,
            optional=(_EXAMPLES_SEEN,),
        )
        # Checkpoints from before the counter existed restore without it (count from 0).
        examples_seen = int(restored.pop(_EXAMPLES_SEEN, 0))
        state = restored
        dropped = files.truncate_metrics(start_step) if primary else 0
        tqdm.write(
            f"resuming {name} from step {start_step} "
            f"of {config.train_steps} (checkpoint in {checkpointer.directory}"
            + (f"; {dropped} metric row(s) logged after it were dropped)" if dropped else ")")
        )
    else:
        if initial_params is not None:  # checked against the traced state, before any compile
            initial_params = _checked_initial_params(abstract["params"], initial_params)
        state = _placed_state(model, optimizer, lengths, config.seed, layout, initial_params)
    if layout.mesh.devices.size > 1:
        tqdm.write(f"[{name}] {layout.describe()}")

    owns_tracker = tracker is None
    if tracker is None and not primary:
        tracker = silent_tracker(model_dir, name)
    elif tracker is None:
        tracker = RunTracker(
            model_dir,
            name,
            flatten_config(dataclasses.asdict(config)),
            use_wandb=config.use_wandb,
            project=config.wandb_project,
            job_type="train",
            run_id=files.tracking_id(),
            metrics_file=TrainDir.METRICS,
        )
    _record_gin_config(tracker)
    if start_step:  # rows a killed attempt logged but W&B never wrote
        tracker.catch_up(files.read_metrics())
    # XLA inserts the collectives the shardings imply (gradient all-reduce over data, ...).
    train_step = jax.jit(
        make_train_step(
            model,
            optimizer,
            config.z_loss,
            config.seed,
            grad_accum_steps=config.grad_accum_steps,
            loss_normalizing_factor=config.loss_normalizing_factor,
        ),
        in_shardings=(layout.state, layout.batch),
        out_shardings=(layout.state, layout.replicated),
        donate_argnums=0,
    )
    batches = train_batches(
        config.mixture_or_task_name,
        lengths,
        config.batch_size,
        config.seed,
        pack=config.pack,
        skip_batches=start_step,
        use_cached=bool(config.cache_dir),
    )

    report_data = config.report_data and primary
    plan = _report_plan(config, files) if report_data else None
    if plan is not None:
        tracker.update_config({f"data/planned_share/{row.source}": row.share for row in plan.rows})
    schedule = learning_rate_schedule(config.optimizer, config.train_steps)
    flops = step_flops(model.config, lengths, config.batch_size)
    peak, _ = peak_flops(list(layout.mesh.devices.flat))  # measured before any step runs
    first_loss, final_loss = _logged_losses(files) if start_step else (math.nan, math.nan)
    started = time.perf_counter()
    step = start_step
    drawn: dict[str, int] | None = None
    # disable=None: a live bar on a terminal; in logs, the per-step lines below suffice.
    # The bar counts steps *dispatched*: at most _MAX_STEPS_IN_FLIGHT ahead of the devices.
    progress = tqdm(
        total=config.train_steps,
        initial=start_step,
        desc=f"train {name}",
        unit="step",
        dynamic_ncols=True,
        leave=False,
        disable=None,
    )
    last_step = min(config.train_steps, stop_after or config.train_steps)
    window = MetricsWindow()
    in_flight: collections.deque = collections.deque()
    prefetcher = Prefetcher(
        batches,
        place=lambda batch: jax.device_put(batch, layout.batch),
        stats=_batch_stats,
        size=config.prefetch_batches,
    )
    try:
        while step < last_step:
            prepared = next(prefetcher)
            state, metrics = train_step(state, prepared.batch)  # dispatched, not waited for
            step += 1
            examples_seen += prepared.stats["examples"]
            window.add(metrics, prepared.stats)
            progress.update(1)
            in_flight.append(metrics)
            if len(in_flight) > _MAX_STEPS_IN_FLIGHT:
                # Waits only for a step already followed by others, so the devices stay
                # busy while the host's lead (and the batches it holds) stays bounded.
                jax.block_until_ready(in_flight.popleft())
            row: dict[str, float] = {}
            if step % config.log_every == 0 or step == last_step:
                row = window.reduce()
                row["learning_rate"] = float(schedule(step - 1))  # the window's last update
                row["examples_seen"] = examples_seen
                if peak:
                    row["mfu"] = flops * row["steps_per_second"] / peak
                if step == last_step and report_data:
                    drawn = _report_realised(config, files, examples_seen, plan)
                    row.update({f"data/drawn/{task}": n for task, n in (drawn or {}).items()})
                if math.isnan(first_loss):
                    first_loss = row["loss"]
                final_loss = row["loss"]
                progress.set_postfix(loss=f"{row['loss']:.3f}")
                progress.write(
                    f"[{name}] step {step}/{config.train_steps} loss {row['loss']:.4f} "
                    f"token_acc {row['accuracy']:.3f} "
                    f"({row['steps_per_second']:.1f} steps/s)"
                )
                window.restart()
            if curve is not None and curve.due(step):
                evaluated = time.perf_counter()
                points = curve(state["params"])
                window.exclude(time.perf_counter() - evaluated)
                progress.write(
                    f"[{name}] step {step} eval {curve.suite}: "
                    + " ".join(f"{k.rsplit('/', 1)[-1]} {v:.3f}" for k, v in points.items())
                )
                row.update(points)
            if row:
                tracker.log(row, step)
            if "loss" in row:
                for hook in hooks:
                    hook(step, config.train_steps, row)
            if step % config.checkpoint_every == 0 or step == last_step:
                checkpointer.save(step, {**state, _EXAMPLES_SEEN: np.asarray(examples_seen)})
    finally:
        prefetcher.close()
        progress.close()
        checkpointer.close()

    if drawn is not None:
        tracker.summary({f"data/drawn/{task}": count for task, count in drawn.items()})
    tracker.summary({"final_loss": final_loss, "steps": step, "examples_seen": examples_seen})
    wandb_dir = tracker.wandb_dir
    if owns_tracker:
        tracker.close()
    if primary:
        files.write_json(
            TrainDir.SUMMARY,
            {
                "step": step,
                "train_steps": config.train_steps,
                "first_loss": None if math.isnan(first_loss) else first_loss,
                "final_loss": None if math.isnan(final_loss) else final_loss,
                "resumed_from": start_step,
                "seconds": round(time.perf_counter() - started, 2),
                "processes": jax.process_count(),
            },
        )
    return TrainResult(
        model=model,
        params={"params": state["params"]},
        vocabulary=vocabulary,
        step=step,
        first_loss=first_loss,
        final_loss=final_loss,
        wandb_dir=wandb_dir,
        checkpoint_dir=checkpointer.directory,
    )


def silent_tracker(model_dir: str, name: str) -> RunTracker:
    """The tracker of a process other than 0: it records nothing (process 0 does)."""
    return RunTracker(model_dir, name, {}, use_wandb=False, metrics_file=None)


def _fresh_state(model: Transformer, optimizer, lengths: dict[str, int], seed: int) -> dict:
    """A new train state: initial parameters, optimizer state, step 0."""
    params = init_params(model, lengths, seed)["params"]
    return {
        "params": params,
        "opt_state": optimizer.init(params),
        "step": jnp.asarray(0, jnp.int32),
    }


def _placed_state(model, optimizer, lengths, seed, layout, initial_params) -> dict:
    """The starting state, laid out on the mesh.

    Parameters are initialised as before sharding existed (un-jitted, so runs
    keep their exact initial values) and then placed; the optimizer state is
    created in place, already sharded like its parameters. Parameters given
    (a previous stage's, a checkpoint's, already checked) are used instead,
    without computing an initialisation they would replace.
    """
    if initial_params is not None:
        params = initial_params
    else:
        params = init_params(model, lengths, seed)["params"]
    params = jax.device_put(params, layout.state["params"])
    opt_state = jax.jit(optimizer.init, out_shardings=layout.state["opt_state"])(params)
    step = jax.device_put(jnp.asarray(0, jnp.int32), layout.state["step"])
    return {"params": params, "opt_state": opt_state, "step": step}


def _batch_stats(batch: dict[str, np.ndarray]) -> dict[str, int]:
    """What the host counts on a batch before it goes to the devices."""
    return {
        "examples": _examples_in(batch),
        "input_tokens": int(np.count_nonzero(batch["encoder_input_tokens"])),
        "target_tokens": int(np.count_nonzero(batch["decoder_loss_weights"])),
    }


def _record_gin_config(tracker: RunTracker) -> None:
    """Records the fully resolved gin config with the run (W&B config entry and file)."""
    import gin

    text = gin.config_str()
    if text.strip():
        tracker.update_config({"gin_config": text})
        tracker.save_text("config.gin", text)


def _examples_in(batch: dict[str, np.ndarray]) -> int:
    """Examples in a batch: packed segments, or non-empty rows when unpacked."""
    if "decoder_segment_ids" in batch:
        return int(batch["decoder_segment_ids"].max(axis=1).sum())
    return int((batch["decoder_loss_weights"].sum(axis=1) > 0).sum())


def _report_plan(config: TrainConfig, files: TrainDir):
    """Prints the data plan before training (principle 1) and saves it as plan.json."""
    from flawn.mixtures.plan import plan_mixture

    plan = plan_mixture(
        config.mixture_or_task_name,
        config.train_steps,
        config.batch_size,
        dict(config.task_feature_lengths),
        pack=config.pack,
    )
    tqdm.write(plan.format_table() + "\n")
    files.plan_path.write_text(plan.to_json(), encoding="utf-8")
    from flawn.train.bad_records import FILE, summary, write_bad_records

    note = summary(write_bad_records(config.mixture_or_task_name, files.path / FILE))
    if note:
        tqdm.write(note + "\n")
    return plan


def _report_realised(config: TrainConfig, files: TrainDir, examples_seen: int, plan) -> dict | None:
    """Counts what the run drew from each source and saves it next to the plan.

    ``None`` (with a warning, and no counts file) when the mixture's examples
    cannot be attributed: the run itself is not failed for a report.
    """
    from flawn.train.realised import CountsUnavailable, realised_counts

    try:
        drawn = realised_counts(
            config.mixture_or_task_name,
            dict(config.task_feature_lengths),
            config.seed,
            examples_seen,
            use_cached=bool(config.cache_dir),
        )
    except CountsUnavailable as err:
        log.warning("drawn examples per source not recorded: %s; plan.json has the plan", err)
        return None
    planned = {row.source: row.share for row in plan.rows} if plan else {}
    report = {
        task: {
            "drawn": count,
            "drawn_share": count / max(examples_seen, 1),
            "planned_share": planned.get(task),
        }
        for task, count in drawn.items()
    }
    files.write_json(TrainDir.DATA_COUNTS, {"examples_seen": examples_seen, "sources": report})
    return drawn


def _logged_losses(files: TrainDir) -> tuple[float, float]:
    """First and last logged loss of earlier attempts (from the metrics file)."""
    losses = [row["loss"] for row in files.read_metrics() if "loss" in row]
    return (losses[0], losses[-1]) if losses else (math.nan, math.nan)


def _checked_initial_params(fresh, initial):
    """``initial`` if it has the structure and shapes of ``fresh``, else a clear error."""
    from flax import traverse_util

    want = traverse_util.flatten_dict(fresh, sep="/")
    have = traverse_util.flatten_dict(initial, sep="/")
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    if missing or extra:
        raise ConfigError(
            f"the initial checkpoint does not fit this model: missing {missing[:5]}, "
            f"unexpected {extra[:5]}"
        )
    for key, value in want.items():
        if tuple(have[key].shape) != tuple(value.shape):
            raise ConfigError(
                f"the initial checkpoint's parameter {key} has shape {tuple(have[key].shape)}, "
                f"the model needs {tuple(value.shape)}"
            )
    # A copy: the train step donates its state, which would free the caller's arrays.
    return jax.tree.map(lambda x: jnp.array(x, jnp.float32, copy=True), initial)


def flatten_config(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flattens nested dicts to ``{"a.b": value}`` for trackers."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and key != "task_feature_lengths":
            flat.update(flatten_config(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def restore_params(config: TrainConfig, step: int | None = None):
    """Restores a run's trained model from its checkpoints, for evaluation.

    Args:
        config: The run's configuration (``model_dir`` locates the checkpoints).
        step: Which checkpoint; defaults to the latest.

    Returns:
        ``(model, {"params": ...}, vocabulary, step)``.
    """
    vocabulary = task_vocabulary(config.mixture_or_task_name)
    model = build_model(config.model, vocabulary)
    optimizer = make_optimizer(config.optimizer, config.train_steps)
    # Shapes only: initialising for real runs every initialiser eagerly (~20 s for tiny).
    lengths = dict(config.task_feature_lengths)
    state_like = jax.eval_shape(lambda: _fresh_state(model, optimizer, lengths, config.seed))
    checkpointer = Checkpointer(
        TrainDir(config.model_dir).checkpoint_dir, keep=config.keep_checkpoints
    )
    try:
        restored_step = checkpointer.latest_step() if step is None else step
        state = checkpointer.restore(
            {**state_like, _EXAMPLES_SEEN: np.zeros((), np.int64)},
            restored_step,
            optional=(_EXAMPLES_SEEN,),
        )
    finally:
        checkpointer.close()
    return model, {"params": state["params"]}, vocabulary, restored_step
