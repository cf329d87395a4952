"""Checkpoints: flawn's own (orbax, one folder per step) and the ones a stage may start from.

A train folder's checkpoints are orbax folders ``checkpoints/<step>/``
(:class:`Checkpointer`). A checkpoint whose files were truncated or
corrupted after it was written (a full disk, a copy cut short) is found when
the newest one is looked up: it is reported by step, with the error, and the
one before it is used, both when training resumes and when a model is
restored for evaluation or export.

A stage may also start from a folder of another kind, recognised by its
contents (:func:`checkpoint_format`, :func:`read_checkpoint`): a flawn train
or run folder, a T5X ``checkpoint_<step>`` folder (either layout, read
without T5X), or a Hugging Face T5 / Flan-T5 folder (``config.json`` and
safetensors files).
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import re
import shutil
import sys
import time
import traceback
import warnings
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from flawn.errors import FlawnError

log = logging.getLogger(__name__)

#: The orbax item inside a step folder (CheckpointManager's default item name).
_ITEM = "default"
#: Prefix of a step folder set aside because it could not be read.
UNREADABLE_PREFIX = "unreadable-"


class CheckpointError(FlawnError):
    """A checkpoint cannot be read."""


def _short(err: BaseException) -> str:
    """An error in one line; tensorstore appends its whole JSON spec, which says nothing more."""
    text = f"{type(err).__name__}: {err}".splitlines()[0] if str(err) else type(err).__name__
    text = text.split(" [tensorstore_spec=")[0]
    # Long temporary paths sit in the middle; the cause is at the end, so keep both ends.
    return text if len(text) <= 600 else f"{text[:280]} ... {text[-300:]}"


def _quiet_absl():
    """Silences absl's warnings; returns a function that restores its level.

    Orbax warns that the step-level metadata file is not in the item folder;
    it is not meant to be there, so the warning says nothing.
    """
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    return lambda: absl_logger.setLevel(level)


def _numpy_args(tree):
    return jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)


def _item_tree(item: str):
    """The stored tree's metadata (structure, shapes) of an orbax item; ``None`` if unreadable."""
    metadata = ocp.PyTreeCheckpointer().metadata(item)
    tree = getattr(metadata, "item_metadata", metadata)
    return getattr(tree, "tree", tree)


def _read_item(item: str, keys: tuple[str, ...] | None = None) -> dict:
    """Reads an orbax item as host numpy arrays, all of it or only some top-level keys."""
    restore = _quiet_absl()
    try:
        tree = _item_tree(item)
        if tree is None:
            # Orbax returns no metadata when it cannot read it; a plain restore raises the
            # error that says why (a truncated file, a bad manifest). Its warning about
            # shardings read from file is moot on this path.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return jax.tree.map(np.asarray, ocp.PyTreeCheckpointer().restore(item))
        if keys is not None:
            tree = {k: tree[k] for k in keys}
        args = ocp.args.PyTreeRestore(
            item=tree, restore_args=_numpy_args(tree), partial_restore=keys is not None
        )
        return ocp.PyTreeCheckpointer().restore(item, args=args)
    finally:
        restore()


#: How many stored values :func:`_verify_item` reads at a time (bounds its memory).
_VERIFY_BATCH = 64


def _verify_item(item: str) -> None:
    """Reads every stored value of an orbax item; raises the first read's error, naming the file.

    Reads the item's key-value store directly (tensorstore's OCDBT driver,
    waited on without asyncio), a batch at a time, so a truncated or missing
    file is named in the error; orbax's own read error often is not. Items of
    other layouts are left to orbax's error.
    """
    import tensorstore as ts  # deferred: only a read needs it

    if not os.path.isfile(os.path.join(item, "manifest.ocdbt")):
        return
    store = ts.KvStore.open({"driver": "ocdbt", "base": f"file://{item}/"}).result()
    keys = store.list().result()
    for start in range(0, len(keys), _VERIFY_BATCH):
        reads = [store.read(key) for key in keys[start : start + _VERIFY_BATCH]]
        failed = None
        for read in reads:  # every read is waited on before raising: none is left running
            try:
                read.result()
            except Exception as err:  # tensorstore raises ValueError with the status text
                failed = failed or err
        if failed is not None:
            raise failed


def _named_read_error(item: str, err: Exception) -> Exception:
    """The error that says why an item cannot be read, naming the file where one can.

    Called only after orbax's read failed, so a readable checkpoint is read
    once here, not twice: orbax's error often names no file ("Event loop is
    closed", a short read), while reading the key-value store directly
    (:func:`_verify_item`) names the file cut short. The late callbacks of
    orbax's failed read are kept off the console by the unraisable-hook
    filter every :class:`Checkpointer` installs.
    """
    try:
        _verify_item(item)
    except Exception as named:  # tensorstore raises ValueError with the status text
        return named
    return err


def _check_room(directory: str, step: int, previous: int | None) -> None:
    """Raises :class:`CheckpointError` if the disk cannot hold another checkpoint.

    The checkpoint before (``previous``, if any) is the measure: orbax
    compresses, so the arrays' sizes would overstate it. Orbax writing to a
    full disk fails only after a traceback from each of its writer threads;
    checking first gives one line saying what to do.
    """
    if previous is None:
        return
    folder = os.path.join(directory, str(previous))
    needed = sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(folder)
        for name in names
    )
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise CheckpointError(
            _disk_full(
                directory,
                step,
                f"{free:,} bytes free, {needed:,} needed as for step {previous}",
            )
        )


def _remove_partial(directory: str, step: int, settle: float = 0.5, limit: float = 10.0) -> None:
    """Removes the half-written folder of ``step`` once no late write brings it back.

    When a write fails, orbax raises while tensorstore's writes already under
    way go on in its own threads (they cannot be cancelled or joined from
    here) and may create the folder again after a first removal. So the
    folder is removed until it has stayed absent for ``settle`` seconds
    (``limit`` bounds the wait; only this failure path waits).
    """
    prefix = f"{step}.orbax-checkpoint-tmp"
    deadline = time.monotonic() + limit
    absent_since = None
    while time.monotonic() < deadline:
        partial = [name for name in os.listdir(directory) if name.startswith(prefix)]
        for name in partial:
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
        now = time.monotonic()
        if partial or absent_since is None:
            absent_since = now
        elif now - absent_since >= settle:
            return
        time.sleep(0.05)


def _disk_full(directory: str, step: int, detail: str) -> str:
    return (
        f"the checkpoint of step {step} cannot be written to {directory}: the disk is full "
        f"({detail}); free space there (or move the run folder) and launch again: training "
        "resumes from the last checkpoint written"
    )


def _late_orbax_callback(unraisable) -> bool:
    """Whether an unraisable error is an in-flight tensorstore call finishing into a closed loop.

    When one of orbax's concurrent writes fails (a disk filling up), orbax
    closes its event loop at once; the writes still in flight finish later
    and their callbacks raise ``RuntimeError: Event loop is closed`` from
    ``call_soon_threadsafe``, one traceback each. The failure itself is
    raised and reported; these say nothing more.
    """
    err = unraisable.exc_value
    if not isinstance(err, RuntimeError) or str(err) != "Event loop is closed":
        return False
    frames = traceback.extract_tb(unraisable.exc_traceback)
    return any(frame.name == "call_soon_threadsafe" for frame in frames)


def _install_unraisable_filter() -> None:
    """Routes orbax's late callback errors to the debug log; all others as before.

    Those are :func:`_late_orbax_callback` errors and the unretrieved read
    errors of :func:`_unretrieved_read_error`.
    """
    previous = sys.unraisablehook
    if getattr(previous, "_flawn_filter", False):
        return

    def hook(unraisable):
        if _late_orbax_callback(unraisable):
            log.debug("a tensorstore call finished after orbax closed its event loop (ignored)")
        else:
            previous(unraisable)

    hook._flawn_filter = True
    sys.unraisablehook = hook
    logging.getLogger("asyncio").addFilter(_unretrieved_read_error)


def _unretrieved_read_error(record: logging.LogRecord) -> bool:
    """Keeps asyncio's "Task exception was never retrieved" for orbax's sibling reads quiet.

    When one of orbax's concurrent reads of a broken checkpoint fails, orbax
    raises that error (reported as the checkpoint being unreadable) and
    drops the reads still running; asyncio logs each one's own failure,
    with a traceback, when the task is collected. They add nothing to the
    error already reported, so they go to the debug log.
    """
    error = record.exc_info[1] if record.exc_info else None
    if (
        record.getMessage().startswith("Task exception was never retrieved")
        and error is not None
        and "tensorstore_spec" in str(error)
    ):
        log.debug("a concurrent orbax read failed after the first failure: %s", _short(error))
        return False
    return True


class _Collected(logging.Filter):
    """Holds back orbax's log records (absl's logger) so they can go with the error instead."""

    def __init__(self):
        super().__init__()
        self.records: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({_short(record.exc_info[1])})"
        self.records.append(f"{record.levelname}: {text}")
        return False


def _warn_unreadable(directory: str, step: int, error: str, instead: int) -> None:
    log.warning(
        "the checkpoint at step %d in %s cannot be read (%s); using step %d, the newest that can "
        "be read",
        step,
        directory,
        error,
        instead,
    )


class Checkpointer:
    """Saves and restores ``{"params", "opt_state", "step"}`` pytrees by step.

    :meth:`latest_step` is the newest step that can be *read*: the newest
    checkpoint is read once (to host memory) before it is named, and one that
    fails is reported with a warning naming its step and the error, and the
    previous one is tried. The next :meth:`save` sets such folders aside
    (``unreadable-<step>-<time>``), so training can write those steps again.

    Args:
        directory: The checkpoint folder (``TrainDir.checkpoint_dir``).
        keep: How many most recent checkpoints to keep.
    """

    def __init__(self, directory: str | os.PathLike, keep: int = 2):
        _install_unraisable_filter()
        self.directory = os.path.abspath(os.fspath(directory))
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True),
        )
        self._readable: set[int] = set()
        self._unreadable: dict[int, str] = {}
        self._reported: set[int] = set()

    def steps(self) -> list[int]:
        """Steps of the complete checkpoints present, ascending (readable or not)."""
        return sorted(self._manager.all_steps())

    def unreadable(self) -> dict[int, str]:
        """Steps found unreadable so far, with their errors."""
        return dict(self._unreadable)

    def _item(self, step: int) -> str:
        return os.path.join(self.directory, str(step), _ITEM)

    def check(self, step: int) -> str | None:
        """Reads a checkpoint fully: ``None`` if it can be read, else the error in one line."""
        if step in self._readable:
            return None
        if step not in self._unreadable:
            try:
                _read_item(self._item(step))
            except Exception as err:  # orbax and tensorstore raise many kinds; any means unreadable
                self._unreadable[step] = _short(_named_read_error(self._item(step), err))
            else:
                self._readable.add(step)
                return None
        return self._unreadable[step]

    def latest_step(self) -> int | None:
        """The step of the newest checkpoint that can be read, or ``None`` if there is none.

        Newer checkpoints that cannot be read are reported with a warning
        naming their step and error (once per step).

        Raises:
            CheckpointError: If there are checkpoints but none can be read.
        """
        steps = self.steps()
        for step in reversed(steps):
            if self.check(step) is None:
                for bad in steps:
                    if bad > step and bad not in self._reported:
                        self._reported.add(bad)
                        _warn_unreadable(self.directory, bad, self._unreadable[bad], step)
                return step
        if steps:
            errors = "; ".join(f"step {s}: {self._unreadable[s]}" for s in reversed(steps))
            raise CheckpointError(
                f"no checkpoint in {self.directory} can be read ({errors}); remove the folder "
                "to train this stage from its start"
            )
        return None

    def save(self, step: int, state: Any) -> None:
        """Saves ``state`` at ``step`` and waits until it is on disk.

        Unreadable checkpoints of this step or later (training went on from
        an earlier one) are set aside first: orbax would refuse to write the
        same step and silently skip any step below its newest.

        Raises:
            CheckpointError: If the checkpoint cannot be written (a full disk:
                checked before writing, with the last checkpoint's size as
                the measure, and found while writing). The
                half-written folder is removed; orbax's log records of the
                failure go with the error (``__notes__``), not to the console.
        """
        _check_room(self.directory, step, max(self.steps(), default=None))
        stale = sorted(s for s in self._unreadable if s >= step)
        for old in stale:
            aside = os.path.join(self.directory, f"{UNREADABLE_PREFIX}{old}-{int(time.time())}")
            os.replace(os.path.join(self.directory, str(old)), aside)
            log.warning(
                "the unreadable checkpoint of step %d was moved to %s, since training went on "
                "from an earlier step; delete it once you no longer need it",
                old,
                aside,
            )
            del self._unreadable[old]
        if stale:
            self._manager.reload()
        collected = _Collected()
        absl_logger = logging.getLogger("absl")
        absl_logger.addFilter(collected)
        try:
            self._manager.save(step, args=ocp.args.StandardSave(state))
            self._manager.wait_until_finished()
        except Exception as err:  # orbax and tensorstore raise many kinds
            _remove_partial(self.directory, step)
            full = getattr(err, "errno", None) == errno.ENOSPC or any(
                sign in str(err) for sign in ("RESOURCE_EXHAUSTED", "os_error_code='28'")
            )
            message = (
                _disk_full(self.directory, step, _short(err))
                if full
                else f"the checkpoint of step {step} cannot be written to {self.directory} "
                f"({_short(err)})"
            )
            error = CheckpointError(message)
            for line in collected.records:
                error.add_note(f"orbax: {line}")
            raise error from err
        finally:
            absl_logger.removeFilter(collected)
        self._readable.add(step)

    def saved_keys(self, step: int) -> set[str]:
        """The top-level keys stored in a checkpoint."""
        restore = _quiet_absl()
        try:
            metadata = ocp.StandardCheckpointer().metadata(self._item(step))
        finally:
            restore()
        return set(getattr(metadata, "item_metadata", metadata).keys())

    def restore(
        self, state_like: dict, step: int | None = None, optional: tuple[str, ...] = ()
    ) -> dict:
        """Restores a checkpoint into the structure of ``state_like``.

        Args:
            state_like: A dict pytree (or abstract pytree) with the target structure.
            step: Which step; defaults to the latest readable one.
            optional: Top-level keys that checkpoints written by older versions
                may lack; they are left out of the result when absent.

        Raises:
            FileNotFoundError: If there is no checkpoint to restore.
            CheckpointError: If the checkpoint of ``step`` cannot be read.
        """
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        if step in self._unreadable:
            raise CheckpointError(
                f"the checkpoint at step {step} in {self.directory} cannot be read: "
                f"{self._unreadable[step]}"
            )
        try:
            if optional:
                present = self.saved_keys(step)
                state_like = {
                    k: v for k, v in state_like.items() if k not in optional or k in present
                }
            abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_like)
            return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
        except FileNotFoundError:
            raise
        except Exception as err:
            if os.path.isdir(os.path.join(self.directory, str(step))) and self.check(step):
                raise CheckpointError(
                    f"the checkpoint at step {step} in {self.directory} cannot be read: "
                    f"{self._unreadable[step]}"
                ) from err
            raise

    def close(self) -> None:
        """Releases the manager's resources."""
        self._manager.close()


def read_params(directory: str | os.PathLike, step: int | None = None) -> tuple[dict, int]:
    """Reads only the parameters of a flawn checkpoint, as host numpy arrays.

    No model, optimizer or vocabulary is built, so any train folder can be
    read without its data being registered. Older checkpoints' 3-D attention
    kernels come back in T5X's 2-D shapes.

    Args:
        directory: A train folder's ``checkpoints/`` folder.
        step: Which step (default: the newest readable one; unreadable newer
            ones are reported with a warning naming the step and the error).

    Returns:
        ``(params, step)``.

    Raises:
        CheckpointError: If there is no (readable) checkpoint.
    """
    from flawn.t5x.checkpoints import to_t5x_shapes

    directory = os.path.abspath(os.fspath(directory))
    steps = (
        sorted(int(p) for p in os.listdir(directory) if p.isdigit())
        if os.path.isdir(directory)
        else []
    )
    if not steps:
        raise CheckpointError(f"{directory} holds no checkpoint")
    if step is not None and step not in steps:
        raise CheckpointError(f"{directory} has no checkpoint at step {step} (steps: {steps})")
    errors: dict[int, str] = {}
    for candidate in [step] if step is not None else list(reversed(steps)):
        item = os.path.join(directory, str(candidate), _ITEM)
        try:
            params = _read_item(item, ("params",))
        except Exception as err:  # orbax and tensorstore raise many kinds; any means unreadable
            errors[candidate] = _short(_named_read_error(item, err))
            continue
        for bad, error in errors.items():
            _warn_unreadable(directory, bad, error, candidate)
        return to_t5x_shapes(params["params"]), int(candidate)
    listed = "; ".join(f"step {s}: {e}" for s, e in errors.items())
    raise CheckpointError(f"no checkpoint in {directory} can be read ({listed})")


# -- checkpoints a stage may start from ----------------------------------------------------------
#: The kinds of folder a stage's ``init`` may name.
FLAWN, T5X, HF = "flawn", "t5x", "hf"
_FORMAT_NAMES = {
    FLAWN: "flawn checkpoint",
    T5X: "T5X checkpoint",
    HF: "Hugging Face T5 folder",
}


def train_dir_of(path: str | os.PathLike):
    """The train folder a flawn path names: a train folder, or a run folder's final stage."""
    from flawn.runs.run_dir import RunDir, TrainDir

    run = RunDir(path)
    return run.final_stage() if run.is_sweep_run else TrainDir(path)


def checkpoint_format(path: str | os.PathLike) -> str | None:
    """What kind of checkpoint a local folder holds, by its contents.

    Returns:
        ``"hf"`` (``config.json`` and ``*.safetensors``), ``"t5x"`` (a T5X
        ``checkpoint_<step>`` folder: a ``checkpoint`` msgpack file, or
        ``state/_METADATA`` of T5X's orbax layout), ``"flawn"`` (a train
        folder's ``config.gin`` or a run folder's ``spec.json``), or ``None``.
    """
    from flawn.models.hf import is_hf_checkpoint
    from flawn.runs.run_dir import RunDir

    path = os.fspath(path)
    if not os.path.isdir(path):
        return None
    if is_hf_checkpoint(path):
        return HF
    # The two layouts flawn.t5x.checkpoints reads.
    if os.path.isfile(os.path.join(path, "checkpoint")) or os.path.isfile(
        os.path.join(path, "state", "_METADATA")
    ):
        return T5X
    if RunDir(path).exists():
        return FLAWN
    return None


def describe_unknown(path: str | os.PathLike) -> str:
    """Why a folder is not a checkpoint flawn can start from, and what was expected."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        return f"{path} does not exist"
    hint = ""
    nested = sorted(
        (n for n in os.listdir(path) if re.fullmatch(r"checkpoint_\d+", n)),
        key=lambda n: int(n.split("_")[1]),
    )
    if nested:
        hint = f" (it holds T5X checkpoints; name one, e.g. {os.path.join(path, nested[-1])})"
    elif os.path.isfile(os.path.join(path, "config.json")):
        hint = " (it has config.json but no *.safetensors weights; PyTorch .bin files are not read)"
    return (
        f"{path} is not a checkpoint flawn can start from{hint}: expected a flawn train or run "
        "folder (config.gin or spec.json), a T5X checkpoint_<step> folder, or a Hugging Face T5 "
        "folder (config.json and model.safetensors or sharded *.safetensors)"
    )


@dataclasses.dataclass
class LoadedCheckpoint:
    """Parameters read from a checkpoint folder of any kind.

    Attributes:
        params: flawn / T5X parameter tree of float32 numpy arrays.
        format: ``"flawn"``, ``"t5x"`` or ``"hf"``.
        path: The folder read (for flawn, the step folder).
        step: The checkpoint's step, where it has one.
        hf_config: A Hugging Face folder's ``config.json``.
    """

    params: dict
    format: str
    path: str
    step: int | None = None
    hf_config: dict | None = None

    def describe(self) -> str:
        """One line for logs and errors, e.g. ``T5X checkpoint /x/checkpoint_1000 (step 1000)``."""
        step = f" (step {self.step})" if self.step is not None else ""
        return f"{_FORMAT_NAMES[self.format]} {self.path}{step}"

    @property
    def embedding_rows(self) -> int:
        """Rows of the token embedding: the most ids a vocabulary used with it may have."""
        return int(np.shape(self.params["token_embedder"]["embedding"])[0])


def read_checkpoint(path: str | os.PathLike, step: int | None = None) -> LoadedCheckpoint:
    """Reads the parameters of a flawn, T5X or Hugging Face checkpoint folder.

    Args:
        path: The folder (see :func:`checkpoint_format`).
        step: For a flawn folder, which checkpoint (default: the newest readable).

    Raises:
        FlawnError: If the folder is none of these, or cannot be read.
    """
    path = os.fspath(path)
    kind = checkpoint_format(path)
    if kind == HF:
        from flawn.models.hf import read_hf_checkpoint

        params, config = read_hf_checkpoint(path)
        return LoadedCheckpoint(params, HF, path, hf_config=config)
    if kind == T5X:
        from flawn.t5x.checkpoints import read_t5x_params

        match = re.fullmatch(r"checkpoint_(\d+)", os.path.basename(os.path.normpath(path)))
        return LoadedCheckpoint(
            read_t5x_params(path), T5X, path, int(match.group(1)) if match else None
        )
    if kind == FLAWN:
        train_dir = train_dir_of(path)
        params, read_step = read_params(train_dir.checkpoint_dir, step)
        return LoadedCheckpoint(
            params, FLAWN, os.fspath(train_dir.checkpoint_dir / str(read_step)), read_step
        )
    raise FlawnError(describe_unknown(path))


# -- export --------------------------------------------------------------------------------------
#: Formats :func:`export_checkpoint` writes.
EXPORT_FORMATS = (HF, T5X)


def _flawn_model_and_vocabulary(train_dir) -> tuple[Any, Any, str | None]:
    """A flawn train folder's model shape and vocabulary, or ``None`` with the reason.

    The vocabulary is the one its mixture resolves to here (as evaluation
    resolves it), so the mixture's tasks must be registrable.
    """
    from flawn.train.config import load_train_config

    try:
        # The tasks register gin configurables, which must happen before a config is parsed.
        import flawn.tasks  # noqa: F401
    except Exception as err:  # TensorFlow or seqio missing or broken on this host
        tasks_error = _short(err)
    else:
        tasks_error = None
    try:
        config = load_train_config(train_dir)
    except Exception as err:  # a config from another flawn version, unregistered configurables
        return None, None, f"its config.gin cannot be read ({_short(err)})"
    if tasks_error:
        return config.model, None, f"flawn's tasks cannot be imported ({tasks_error})"
    try:
        from flawn.train.local import task_vocabulary

        return config.model, task_vocabulary(config.mixture_or_task_name), None
    except Exception as err:  # the mixture may need data or environment this host lacks
        return config.model, None, f"its mixture's vocabulary cannot be resolved ({_short(err)})"


def export_checkpoint(
    source: str | os.PathLike,
    out: str | os.PathLike,
    format: str = HF,
    step: int | None = None,
    max_shard_bytes: int | None = None,
) -> dict[str, Any]:
    """Writes a checkpoint (flawn, T5X or Hugging Face) as Hugging Face or T5X files.

    A flawn source is a run folder (its final stage) or a train folder; its
    newest readable checkpoint is exported unless ``step`` says which. Only
    parameters are written; nothing is downloaded.

    Args:
        source: The folder to export (see :func:`checkpoint_format`).
        out: For ``hf``, the model folder to write (``config.json``,
            ``model.safetensors`` or shards with their index,
            ``generation_config.json``, and the run's SentencePiece model as
            ``spiece.model`` where it can be resolved); for ``t5x``, the model
            folder that gets ``checkpoint_<step>/``.
        format: ``hf`` or ``t5x``.
        step: For a flawn source, which checkpoint.
        max_shard_bytes: For ``hf``, the largest safetensors shard.

    Returns:
        A summary: ``source``, ``step``, ``format``, ``path`` written, ``config``
        (``hf``), ``tokenizer`` (whether ``spiece.model`` was written, or why not).

    Raises:
        FlawnError: If the source cannot be read or ``out`` already holds a model.
    """
    from flawn.models import hf

    if format not in EXPORT_FORMATS:
        raise FlawnError(f"unknown export format {format!r}; use one of {EXPORT_FORMATS}")
    loaded = read_checkpoint(source, step)
    summary: dict[str, Any] = {
        "source": loaded.describe(),
        "step": loaded.step,
        "format": format,
    }
    if format == T5X:
        from flawn.t5x.checkpoints import flawn_to_t5x

        written = flawn_to_t5x(loaded.params, out, loaded.step or 0)
        return {**summary, "path": os.fspath(written)}

    model = vocabulary = None
    tokenizer = "not written: the source is not a flawn run"
    if loaded.format == FLAWN:
        model, vocabulary, reason = _flawn_model_and_vocabulary(train_dir_of(source))
        if reason:
            tokenizer = f"not written: {reason}"
    elif loaded.format == HF:
        model = hf.t5_config_from_hf(loaded.hf_config)
    config = hf.write_hf_checkpoint(
        loaded.params,
        out,
        model,
        max_shard_bytes=max_shard_bytes or hf.DEFAULT_MAX_SHARD_BYTES,
    )
    if vocabulary is not None:
        model_file = getattr(vocabulary, "sentencepiece_model_file", None)
        if not model_file:
            tokenizer = f"not written: {type(vocabulary).__name__} is not a SentencePiece model"
        elif vocabulary.vocab_size > config["vocab_size"]:
            tokenizer = (
                f"not written: the vocabulary ({vocabulary.vocab_size} ids) is larger than the "
                f"embedding ({config['vocab_size']} rows)"
            )
        else:
            hf.write_hf_tokenizer(out, model_file, getattr(vocabulary, "extra_ids", 0))
            tokenizer = f"spiece.model (from {model_file})"
    hf.write_provenance(out, {"source": summary["source"], "step": loaded.step})
    return {**summary, "path": os.fspath(out), "config": config, "tokenizer": tokenizer}
