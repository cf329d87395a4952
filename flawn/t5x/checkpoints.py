"""Checkpoint conversion between flawn (orbax) and T5X, parameters only.

flawn's model uses T5X's parameter names *and* shapes (:mod:`flawn.models.t5`),
so a conversion is a change of container, not of arrays:

* flawn: ``<train_dir>/checkpoints/<step>/`` (orbax, :mod:`flawn.train.checkpoints`)
  holding ``{"params", "opt_state", "step", "examples_seen"}``;
* T5X: ``checkpoint_<step>/`` holding ``{"target": params, "state": {"step",
  "param_states"}}``, in one of the two layouts T5X reads:

  - *legacy* (what T5X's ``checkpoints.Checkpointer`` writes and what the public
    T5 1.1 / Flan-T5 checkpoints on ``gs://t5-data`` are): a msgpack file
    ``checkpoint`` whose large arrays are TensorStore zarr folders next to it
    (``target.encoder.layers_0.attention.query.kernel/``);
  - *orbax* (what T5X's default ``OrbaxCheckpointManagerInterface`` writes):
    an orbax PyTree under ``state/``.

Both are read here with tensorstore, msgpack and orbax, without T5X. flawn
writes the legacy layout (also without T5X): every T5X version restores it,
and a stage that starts from it restores the parameters and the step while
its optimizer state starts fresh (``assignment_map`` drops
``state/param_states``, ``fallback_to_scratch`` initialises them), which is
what the generated stage gin files bind. Optimizer states are never
converted: flawn's (optax AdamW/Adafactor) and T5X's (its Adafactor) hold
different things, so each side rebuilds its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from etils import epath

from flawn.errors import FlawnError
from flawn.models.trees import flatten_tree as _flatten
from flawn.models.trees import shape_differences
from flawn.models.trees import unflatten_tree as _unflatten

#: T5X's legacy checkpoint format version.
LEGACY_VERSION = 3
_LEGACY_FILE = "checkpoint"
_ORBAX_STATE = "state"
_ATTENTION = re.compile(r"(attention|self_attention|encoder_decoder_attention)$")

Params = dict[str, Any]


# -- layout helpers ------------------------------------------------------------------------------
def to_t5x_shapes(params: Mapping[str, Any]) -> Params:
    """Returns parameters with 2-D attention kernels (T5X's shapes).

    flawn checkpoints written before flawn stored attention kernels as T5X
    does hold them 3-D, ``[emb, heads, head_dim]`` (query/key/value) and
    ``[heads, head_dim, emb]`` (out); they are reshaped row-major, which is
    exactly T5X's reshape of its 2-D kernels. Everything else passes as is.
    """
    flat = {}
    for path, value in _flatten(params).items():
        array = np.asarray(value)
        if len(path) >= 3 and _ATTENTION.search(path[-3]) and array.ndim == 3:
            if path[-2] == "out":
                array = array.reshape(-1, array.shape[-1])
            else:
                array = array.reshape(array.shape[0], -1)
        flat[path] = array
    return _unflatten(flat)


def check_same_layout(params: Mapping[str, Any], reference: Mapping[str, Any]) -> None:
    """Raises :class:`FlawnError` naming every parameter whose name or shape differs."""
    have = {"/".join(k): np.shape(v) for k, v in _flatten(params).items()}
    want = {"/".join(k): np.shape(v) for k, v in _flatten(reference).items()}
    missing, unexpected, differing = shape_differences(have, want)
    # Shapes first: they tell a wrong size or vocabulary at a glance; missing layers follow.
    problems = [f"{k}: shape {have[k]}, expected {want[k]}" for k in differing]
    problems += [f"missing {k}" for k in missing]
    problems += [f"unexpected {k}" for k in unexpected]
    if problems:
        more = f"; ... ({len(problems)} in all)" if len(problems) > 8 else ""
        shown = "; ".join(problems[:8]) + more
        raise FlawnError(f"parameters do not match the model: {shown}")


# -- T5X: reading --------------------------------------------------------------------------------
def _is_legacy(path: epath.Path) -> bool:
    return (path / _LEGACY_FILE).exists()


def _is_orbax(path: epath.Path) -> bool:
    return (path / _ORBAX_STATE / "_METADATA").exists()


def _check_t5x_dir(path: epath.Path) -> None:
    if not (_is_legacy(path) or _is_orbax(path)):
        raise FlawnError(
            f"{path} is not a T5X checkpoint: expected checkpoint_<step>/ holding a 'checkpoint' "
            "msgpack file (T5X's Checkpointer) or state/_METADATA (T5X's orbax manager)"
        )


def _legacy_contents(path: epath.Path) -> dict[str, Any]:
    from flax import serialization

    contents = serialization.msgpack_restore((path / _LEGACY_FILE).read_bytes())
    if "optimizer" not in contents:
        raise FlawnError(
            f"{path / _LEGACY_FILE}: no 'optimizer' entry; a T5X checkpoint of format version "
            f">= 2 is expected (got version {contents.get('version', 0)})"
        )
    return contents["optimizer"]


def _absolute_spec(spec: dict[str, Any], checkpoint_dir: str) -> dict[str, Any]:
    """A T5X tensorstore spec with its relative path resolved against the checkpoint folder."""
    spec = {**spec, "kvstore": dict(spec.get("kvstore") or {})}
    relative = spec["kvstore"].pop("path", None) or spec.pop("path", None)
    if relative is None:
        raise FlawnError(f"tensorstore spec without a path in {checkpoint_dir}: {spec}")
    if checkpoint_dir.startswith("gs://"):
        bucket, _, prefix = checkpoint_dir[len("gs://") :].partition("/")
        spec["kvstore"] = {"driver": "gcs", "bucket": bucket, "path": f"{prefix}/{relative}"}
    else:
        spec["kvstore"] = {"driver": "file", "path": os.path.join(checkpoint_dir, relative)}
    return spec


def _read_spec(spec: dict[str, Any], checkpoint_dir: str) -> np.ndarray:
    import tensorstore as ts

    store = ts.open(_absolute_spec(spec, checkpoint_dir), open=True, read=True).result()
    return np.asarray(store.read().result())


def _read_legacy_tree(tree: Mapping[str, Any], checkpoint_dir: str) -> Params:
    flat = {}
    for path, value in _flatten_legacy(tree).items():
        is_spec = isinstance(value, dict)
        flat[path] = _read_spec(value, checkpoint_dir) if is_spec else np.asarray(value)
    return _unflatten(flat)


def _flatten_legacy(tree, prefix=()):
    """Flattens a msgpack tree whose leaves are arrays or tensorstore specs (with 'driver')."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, Mapping) and "driver" not in value:
            out.update(_flatten_legacy(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


def _orbax_restore(state_dir: epath.Path) -> dict[str, Any]:
    import logging

    import orbax.checkpoint as ocp

    checkpointer = ocp.PyTreeCheckpointer()
    # T5X keeps the step's metadata file one folder up, next to `state/`; orbax warns that
    # it is not inside the item folder, which is where it is not meant to be.
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        metadata = checkpointer.metadata(os.fspath(state_dir))
        tree = getattr(metadata, "item_metadata", None) or metadata
        tree = getattr(tree, "tree", tree)
        return checkpointer.restore(os.fspath(state_dir), restore_args=_numpy_restore_args(tree))
    finally:
        absl_logger.setLevel(level)


def _numpy_restore_args(metadata_tree):
    """Restore every leaf as a host numpy array (no devices or shardings needed)."""
    import jax
    import orbax.checkpoint as ocp

    return jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), metadata_tree)


def _map_leaves(tree, fn):
    if isinstance(tree, Mapping):
        return {k: _map_leaves(v, fn) for k, v in tree.items()}
    return fn(tree)


def read_t5x_params(path: str | os.PathLike) -> Params:
    """Reads the parameters (``target``) of a T5X checkpoint folder, as float32 numpy arrays.

    Args:
        path: ``.../checkpoint_<step>`` (local or ``gs://``), in either layout.

    Raises:
        FlawnError: If the folder is not a T5X checkpoint.
    """
    path = epath.Path(path)
    _check_t5x_dir(path)
    if _is_legacy(path):
        target = _read_legacy_tree(_legacy_contents(path)["target"], os.fspath(path))
    else:
        target = _orbax_restore(path / _ORBAX_STATE)["target"]
    return _map_leaves(target, lambda a: np.asarray(a, dtype=np.float32))


def read_t5x_step(path: str | os.PathLike) -> int | None:
    """The step a T5X checkpoint folder holds, or ``None`` if it is not one."""
    path = epath.Path(path)
    if _is_legacy(path):
        return int(np.asarray(_legacy_contents(path)["state"]["step"]))
    if _is_orbax(path):
        return int(np.asarray(_orbax_restore(path / _ORBAX_STATE)["state"]["step"]))
    return None


# -- T5X: writing --------------------------------------------------------------------------------
def _chunks(shape: tuple[int, ...], target_bytes: int = 64 * 2**20) -> list[int]:
    """Chunk shape for a float32 zarr array: whole rows, about ``target_bytes`` per chunk."""
    if not shape:
        return []
    row = int(np.prod(shape[1:])) * 4 if len(shape) > 1 else 4
    rows = max(1, min(shape[0], target_bytes // max(row, 1)))
    return [rows, *shape[1:]]


def write_t5x_checkpoint(
    params: Mapping[str, Any], model_dir: str | os.PathLike, step: int
) -> epath.Path:
    """Writes parameters as a T5X checkpoint (legacy layout), without T5X.

    Args:
        params: flawn/T5X parameters (``token_embedder``, ``encoder``, ``decoder``).
        model_dir: The folder to hold ``checkpoint_<step>/`` (local or ``gs://``).
        step: The step recorded in it (T5X counts a stage that starts from it from there).

    Returns:
        The checkpoint folder.
    """
    import tensorstore as ts
    from flax import serialization

    final = epath.Path(model_dir) / f"checkpoint_{step}"
    if final.exists() and (final / _LEGACY_FILE).exists():
        raise FlawnError(f"{final} exists already; remove it to write it again")
    tmp = epath.Path(model_dir) / f"checkpoint_{step}.tmp-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    specs = {}
    for path, value in _flatten(to_t5x_shapes(params)).items():
        array = np.asarray(value, dtype=np.float32)
        name = ".".join(("target", *path))
        spec = {
            "driver": "zarr",
            "dtype": "float32",
            "kvstore": {"driver": "file", "path": f"{name}/"},
            "metadata": {
                "chunks": _chunks(array.shape),
                "compressor": {"id": "gzip", "level": 1},
                "shape": list(array.shape),
            },
        }
        store = ts.open(
            _absolute_spec(spec, os.fspath(tmp)), create=True, delete_existing=True
        ).result()
        store.write(array).result()
        specs[path] = spec
    contents = {
        "version": LEGACY_VERSION,
        "optimizer": {
            "state": {"step": np.asarray(step, dtype=np.int32)},
            "target": _unflatten(specs),
        },
    }
    (tmp / _LEGACY_FILE).write_bytes(serialization.msgpack_serialize(contents))
    if os.fspath(final).startswith("gs://"):
        tmp.rename(final)  # gcsfs/epath copy-and-delete: readers look for the msgpack last
    else:
        os.replace(os.fspath(tmp), os.fspath(final))
    return final


# -- flawn ---------------------------------------------------------------------------------------
def _flawn_train_dir(path: str | os.PathLike):
    from flawn.runs.run_dir import RunDir, TrainDir

    run = RunDir(path)
    return run.final_stage() if run.is_sweep_run else TrainDir(path)


def flawn_checkpoint_step(path: str | os.PathLike) -> int:
    """The last checkpoint step of a flawn run or train folder.

    Raises:
        FlawnError: If it holds no checkpoint.
    """
    train_dir = _flawn_train_dir(path)
    steps = train_dir.checkpoint_steps()
    if not steps:
        raise FlawnError(f"{train_dir.checkpoint_dir} holds no checkpoint")
    return steps[-1]


def read_flawn_params(path: str | os.PathLike, step: int | None = None) -> tuple[Params, int]:
    """Reads the parameters of a flawn checkpoint (a run folder's final stage, or a train folder).

    Args:
        path: A flawn run folder or train folder.
        step: Which checkpoint (default: the last).

    Returns:
        ``(params, step)``, params in T5X's shapes (older 3-D attention kernels reshaped).
    """
    import orbax.checkpoint as ocp

    train_dir = _flawn_train_dir(path)
    step = flawn_checkpoint_step(path) if step is None else step
    item = train_dir.checkpoint_dir / str(step) / "default"
    if not item.exists():
        raise FlawnError(f"{item} not found (checkpoints: {train_dir.checkpoint_steps()})")
    checkpointer = ocp.StandardCheckpointer()
    metadata = checkpointer.metadata(os.fspath(item))
    tree = getattr(metadata, "item_metadata", metadata)
    tree = getattr(tree, "tree", tree)
    state = ocp.PyTreeCheckpointer().restore(
        os.fspath(item), restore_args=_numpy_restore_args(tree)
    )
    return to_t5x_shapes(state["params"]), int(step)


def flawn_to_t5x(params: Mapping[str, Any], model_dir: str | os.PathLike, step: int) -> epath.Path:
    """Writes flawn parameters as a T5X checkpoint ``<model_dir>/checkpoint_<step>``."""
    return write_t5x_checkpoint(params, model_dir, step)


def t5x_to_flawn(
    checkpoint: str | os.PathLike,
    train_dir,
    step: int | None = None,
) -> int:
    """Writes a T5X checkpoint's parameters as a flawn checkpoint of a train folder.

    The train folder's ``config.gin`` fixes the model (checked against the
    parameters) and the optimizer whose fresh state is stored with them, so
    ``flawn train`` can continue from the checkpoint and ``flawn eval run``
    can evaluate it.

    Args:
        checkpoint: A T5X ``checkpoint_<step>`` folder.
        train_dir: A :class:`~flawn.runs.TrainDir` (or its path) holding ``config.gin``.
        step: The flawn step to store it as (default: the T5X step).

    Returns:
        The step written.

    Raises:
        FlawnError: If the parameters do not fit the train folder's model.
    """
    import jax.numpy as jnp

    from flawn.runs.run_dir import TrainDir
    from flawn.train.checkpoints import Checkpointer
    from flawn.train.config import load_train_config
    from flawn.train.local import abstract_params, build_model, task_vocabulary
    from flawn.train.optim import make_optimizer

    train_dir = train_dir if isinstance(train_dir, TrainDir) else TrainDir(train_dir)
    config = load_train_config(train_dir)
    params = read_t5x_params(checkpoint)
    model = build_model(config.model, task_vocabulary(config.mixture_or_task_name))
    reference = abstract_params(model, dict(config.task_feature_lengths))
    check_same_layout(params, reference)
    step = read_t5x_step(checkpoint) if step is None else step
    params = _map_leaves(params, jnp.asarray)
    optimizer = make_optimizer(config.optimizer, config.train_steps)
    state = {
        "params": params,
        "opt_state": optimizer.init(params),
        "step": jnp.asarray(step, jnp.int32),
        "examples_seen": np.zeros((), np.int64),
    }
    checkpointer = Checkpointer(train_dir.checkpoint_dir, keep=config.keep_checkpoints)
    try:
        checkpointer.save(step, state)
    finally:
        checkpointer.close()
    return int(step)


# -- import: a T5X checkpoint as a flawn train folder --------------------------------------------
_CHECKPOINT_DIR = re.compile(r"checkpoint_(\d+)")


def require_t5x_checkpoint(path: str | os.PathLike) -> epath.Path:
    """Returns ``path`` if it is one T5X checkpoint folder; else says what to pass instead.

    Raises:
        FlawnError: If it does not exist, is a T5X model dir (naming its newest
            checkpoint), or is not a T5X checkpoint.
    """
    path = epath.Path(path)
    if not path.exists():
        raise FlawnError(f"{path} does not exist; give a T5X checkpoint_<step> folder")
    if not (_is_legacy(path) or _is_orbax(path)) and path.is_dir():
        steps = sorted(
            int(m.group(1))
            for m in (_CHECKPOINT_DIR.fullmatch(child.name) for child in path.iterdir())
            if m
        )
        if steps:
            raise FlawnError(
                f"{path} is a T5X model dir holding {len(steps)} checkpoint(s); give one of "
                f"them, e.g. {path / f'checkpoint_{steps[-1]}'}"
            )
    _check_t5x_dir(path)
    return path


def import_config_text(
    size: str,
    mixture: str,
    feature_lengths: Mapping[str, int],
    train_steps: int,
    batch_size: int,
    gin_files: tuple[str, ...] = (),
    bindings: tuple[str, ...] = (),
) -> str:
    """A train folder's ``config.gin`` for a size: the model file and the fine-tuning run file.

    The result is what ``flawn train --gin_file=gin/models/<size>.gin
    --gin_file=gin/runs/finetune.gin`` with these macros stores, so the
    imported folder is read (and can be trained on) like one ``flawn train`` wrote.

    Args:
        size: A size of :data:`flawn.models.sizes.SIZES` (``gin/models/<size>.gin``).
        mixture: The seqio mixture or task; its vocabulary sets the embedding rows.
        feature_lengths: ``{"inputs": ..., "targets": ...}``.
        train_steps: ``TRAIN_STEPS`` (training the folder further starts after the
            imported step and stops here).
        batch_size: ``BATCH_SIZE``.
        gin_files: More gin files, parsed after the two above.
        bindings: More gin bindings, applied last.

    Raises:
        ConfigError: For an unknown size or an invalid binding.
    """
    import gin

    from flawn import gin_utils
    from flawn.errors import ConfigError
    from flawn.models.sizes import SIZES
    from flawn.runs.run_dir import relocatable_config
    from flawn.train.config import TrainConfig

    if size not in SIZES:
        raise ConfigError(f"unknown size {size!r}; sizes: {', '.join(SIZES)} (flawn model list)")
    macros = [
        f"MIXTURE_OR_TASK_NAME = {mixture!r}",
        f"TASK_FEATURE_LENGTHS = {dict(feature_lengths)!r}",
        f"TRAIN_STEPS = {int(train_steps)}",
        f"BATCH_SIZE = {int(batch_size)}",
        "MODEL_DIR = 'unused'",  # removed from the stored text; bound to the folder on load
        "INIT = 'scratch'",
    ]
    files = [f"gin/models/{size}.gin", "gin/runs/finetune.gin", *gin_files]
    gin_utils.parse(files, [*macros, *bindings])
    try:
        TrainConfig()
    except ValueError as err:
        raise gin_utils.explain_required(err) or ConfigError(str(err)) from err
    text = relocatable_config(gin.config_str())
    gin.clear_config()
    return text


def import_t5x_checkpoint(
    checkpoint: str | os.PathLike, out: str | os.PathLike, config_text: str
) -> dict[str, Any]:
    """Writes a T5X checkpoint as a new flawn train folder (``config.gin``, ``checkpoints/``).

    The folder is assembled next to ``out`` and renamed into place once the
    parameters fit the config's model and are saved, so a failed import leaves
    nothing behind. ``flawn infer --checkpoint OUT``, ``flawn eval run
    --run-dir OUT`` and a stage's ``INIT = 'OUT'`` read it like any train folder.

    Args:
        checkpoint: A T5X ``checkpoint_<step>`` folder (either layout).
        out: The train folder to create; it must not hold a run yet.
        config_text: Its ``config.gin`` (:func:`import_config_text`, or another
            train folder's, whose model the parameters must fit).

    Returns:
        ``source``, ``step``, ``path``, ``mixture`` and ``model`` (the config's
        :class:`~flawn.models.config.T5Config`).

    Raises:
        FlawnError: If the checkpoint is not a T5X one, ``out`` holds a run, or the
            parameters do not fit the config's model (every differing name or shape).
    """
    import shutil

    from flawn.runs.run_dir import RunDir, TrainDir
    from flawn.train.config import load_train_config

    source = require_t5x_checkpoint(checkpoint)
    out_path = epath.Path(out)
    if out_path.exists() and (RunDir(out_path).exists() or any(out_path.iterdir())):
        raise FlawnError(f"{out_path} exists and is not empty; give a new folder for the import")
    staging = TrainDir(out_path.parent / f".{out_path.name}.import-{os.getpid()}")
    if staging.path.exists():
        shutil.rmtree(os.fspath(staging.path))
    staging.write_config(config_text)
    try:
        try:
            step = t5x_to_flawn(source, staging)
        except FlawnError as err:
            raise FlawnError(
                f"{source} does not fit the model of the config given: {err}. Give the size and "
                "the mixture (its vocabulary sets the embedding rows) the checkpoint was "
                "trained with"
            ) from err
        config = load_train_config(staging)
        if out_path.exists():
            out_path.rmdir()  # empty, checked above
        staging.path.rename(out_path)
    finally:
        if staging.path.exists():
            shutil.rmtree(os.fspath(staging.path))
    return {
        "source": os.fspath(source),
        "step": step,
        "path": os.fspath(out_path),
        "mixture": config.mixture_or_task_name,
        "model": config.model,
    }
