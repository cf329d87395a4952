"""Checkpoints resized to an extended vocabulary: written to a folder, or at a stage's start.

:func:`resize_checkpoint` reads any checkpoint a stage can start from
(flawn, T5X or Hugging Face; :func:`flawn.train.checkpoints.read_checkpoint`),
fits its embedding and output layer to the extension
(:mod:`flawn.models.resize`) and writes a Hugging Face T5 folder with the
extended tokenizer as ``spiece.model`` and a record of the extension
(``flawn_vocabulary.json``). That folder is itself a checkpoint a stage can
start from (``INIT``), or ``flawn model export --format t5x`` turns it into a
T5X one.

:func:`fit_to_extension` does the same in memory, for a run whose regime
extends the vocabulary: its first stage starts from the base checkpoint,
resized. A folder this module wrote for the same extension is used as it is.
"""

from __future__ import annotations

import json
import os
from typing import Any

from flawn.errors import FlawnError

#: The record of the extension in a resized checkpoint folder.
MARKER_FILE = "flawn_vocabulary.json"


def read_marker(path: str | os.PathLike) -> dict[str, Any] | None:
    """The extension a checkpoint folder was resized to, or ``None`` for one that was not."""
    file = os.path.join(os.fspath(path), MARKER_FILE)
    if not os.path.isfile(file):
        return None
    with open(file, encoding="utf-8") as f:
        return json.load(f)


def _run_marker(loaded) -> dict[str, Any] | None:
    """The extension of the flawn run a flawn checkpoint belongs to, if that run extended one."""
    from flawn.tokenizer.extension import INFO_FILE

    if loaded.format != "flawn":
        return None
    # <run>/stages/<stage>/checkpoints/<step>: the run folder is four levels up.
    run = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(loaded.path))))
    file = os.path.join(run, "vocab", INFO_FILE)
    if not os.path.isfile(file):
        return None
    with open(file, encoding="utf-8") as f:
        return json.load(f)


def fit_to_extension(loaded, extension, where: str = ""):
    """A loaded checkpoint fitted to an extended vocabulary.

    Args:
        loaded: A :class:`~flawn.train.checkpoints.LoadedCheckpoint` in the
            base vocabulary, or one this module resized to ``extension``.
        extension: The :class:`~flawn.tokenizer.extension.VocabularyExtension`.
        where: Names the run and stage in messages.

    Returns:
        ``loaded`` itself when it was resized to this extension already, else
        a copy with resized parameters (its description says so).

    Raises:
        FlawnError: If the folder was resized to another extension, or its
            embedding does not fit the base vocabulary.
    """
    import dataclasses

    from flawn.models.resize import padded_rows, resize_params

    prefix = f"{where}: " if where else ""
    marker = read_marker(loaded.path) if os.path.isdir(loaded.path) else None
    marker = marker or _run_marker(loaded)
    wanted = extension.to_json()["model_sha256"]
    if marker is not None:
        if marker.get("model_sha256") == wanted:
            return loaded
        raise FlawnError(
            f"{prefix}{loaded.describe()} was trained with or resized to another extended "
            f"vocabulary ({marker.get('model')}, SHA-256 {str(marker.get('model_sha256'))[:12]}), "
            f"not this run's ({extension.model}); start from the base checkpoint instead"
        )
    base_rows = padded_rows(extension.base_size)
    if loaded.embedding_rows > base_rows:
        # Rows beyond the base's are another vocabulary's pieces: resizing would scramble them.
        raise FlawnError(
            f"{prefix}{loaded.describe()} has {loaded.embedding_rows} vocabulary rows, more than "
            f"the base vocabulary's {extension.base_size} ids need ({base_rows}): it was not "
            "trained with the base vocabulary. Start from a checkpoint in the base vocabulary"
        )
    try:
        params = resize_params(loaded.params, extension.resize_plan())
    except FlawnError as err:
        raise FlawnError(f"{prefix}{loaded.describe()}: {err}") from None
    return dataclasses.replace(
        loaded,
        params=params,
        path=loaded.path,
        hf_config=None
        if loaded.hf_config is None
        else {
            **loaded.hf_config,
            "vocab_size": int(params["token_embedder"]["embedding"].shape[0]),
        },
    )


def resize_checkpoint(
    source: str | os.PathLike,
    out: str | os.PathLike,
    extension,
    step: int | None = None,
) -> dict[str, Any]:
    """Writes a checkpoint resized to an extended vocabulary as a Hugging Face T5 folder.

    Args:
        source: A flawn run or train folder, a T5X ``checkpoint_<step>``
            folder, or a Hugging Face T5 folder, in the base vocabulary.
        out: The folder to write (must not hold a model).
        extension: The :class:`~flawn.tokenizer.extension.VocabularyExtension`.
        step: For a flawn source, which checkpoint (default: the newest).

    Returns:
        A summary: ``source``, ``path``, ``rows_before``, ``rows_after``,
        ``added``, ``sentinels`` (``<extra_id_0>``'s old and new id).

    Raises:
        FlawnError: If the source cannot be read or does not fit the base vocabulary.
    """
    from flawn.models import hf
    from flawn.train.checkpoints import read_checkpoint

    loaded = read_checkpoint(source, step)
    if read_marker(loaded.path) is not None:
        raise FlawnError(
            f"{loaded.describe()} was resized already ({MARKER_FILE}); resize the checkpoint it "
            "was made from"
        )
    rows_before = loaded.embedding_rows
    resized = fit_to_extension(loaded, extension)
    model = hf.t5_config_from_hf(loaded.hf_config) if loaded.hf_config else None
    config = hf.write_hf_checkpoint(resized.params, out, model)
    hf.write_hf_tokenizer(out, extension.model, extension.extra_ids)
    hf.write_provenance(out, {"source": loaded.describe(), "step": loaded.step})
    with open(os.path.join(os.fspath(out), MARKER_FILE), "w", encoding="utf-8") as f:
        json.dump(
            {**extension.to_json(), "source": loaded.describe(), "rows_before": rows_before},
            f,
            ensure_ascii=False,
            indent=1,
        )
        f.write("\n")
    return {
        "source": loaded.describe(),
        "path": os.fspath(out),
        "rows_before": rows_before,
        "rows_after": config["vocab_size"],
        "added": len(extension.added),
        "sentinels": extension.sentinel_ids()[0] if extension.sentinel_ids() else None,
    }
