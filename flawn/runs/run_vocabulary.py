"""A run's SentencePiece vocabulary as a checked setting, and its initial checkpoints' vocabulary.

A run's mixtures are tokenized with ``FLAWN_VOCABULARY`` (else flawn's
sample vocabulary). :func:`describe_run_vocabulary` records that file in the
:class:`~flawn.runs.RunSpec` (path, pieces, extra ids, SHA-256) with what the
experiment asked for (``Sweep.vocabulary``: a name in :data:`KNOWN` or a
SentencePiece file), so the vocabulary is part of the run's id.

:func:`vocabulary_problems` then says what would train with the wrong
vocabulary: a run whose mixtures are not tokenized with the vocabulary it
asks for, or a stage that starts from a checkpoint trained with another one
(the public T5 1.1 / Flan-T5 checkpoints: T5's 32,000 pieces + 100 extra
ids; a flawn run: its recorded vocabulary; a Hugging Face folder: its
``spiece.model``). Both backends refuse such a run at launch;
``flawn sweep plan`` shows the problems as warnings.

No file is downloaded: a remote vocabulary is described by name, path and
piece count (:data:`KNOWN`), and a local copy of it (``FLAWN_VOCABULARY``)
is checked by reading it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

from flawn.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class KnownVocabulary:
    """A public vocabulary described without reading it.

    Attributes:
        name: What ``Sweep.vocabulary`` names it.
        path: Where it is published.
        pieces: SentencePiece pieces in the file.
        extra_ids: Sentinel ids appended after them.
        description: For messages.
    """

    name: str
    path: str
    pieces: int
    extra_ids: int
    description: str

    def to_json(self) -> dict[str, Any]:
        """Described as a read file is, without its digest (it is not read here)."""
        return {"name": self.name, "path": self.path, "pieces": self.pieces,
                "extra_ids": self.extra_ids, "sha256": None}  # fmt: skip


#: T5 1.1's and Flan-T5's vocabulary, as flawn loads it (the sentinels as 100 extra ids;
#: T5X's gin files name ``cc_all.32000.100extra``, the same ids with the sentinels as pieces).
T5 = KnownVocabulary(
    "t5",
    "gs://t5-data/vocabs/cc_all.32000/sentencepiece.model",
    32000,
    100,
    "T5 1.1 / Flan-T5's",
)

#: Vocabularies ``Sweep.vocabulary`` may name.
KNOWN: dict[str, KnownVocabulary] = {T5.name: T5}

#: Public checkpoint folders trained with a known vocabulary.
_PUBLIC_CHECKPOINTS = {
    "gs://t5-data/pretrained_models/t5x/t5_1_1_": T5,
    "gs://t5-data/pretrained_models/t5x/flan_t5_": T5,
}


def read_vocabulary_file(path: str, extra_ids: int) -> dict[str, Any]:
    """A local SentencePiece model described: path, pieces, extra ids, SHA-256.

    Raises:
        ConfigError: If the file cannot be read as a SentencePiece model.
    """
    import sentencepiece as spm

    from flawn.tokenizer.extension import file_digest

    try:
        pieces = spm.SentencePieceProcessor(model_file=os.fspath(path)).get_piece_size()
        digest = file_digest(path)
    except (OSError, RuntimeError) as err:
        raise ConfigError(f"cannot read the SentencePiece model {path}: {err}") from err
    return {
        "path": os.path.abspath(os.fspath(path)),
        "pieces": int(pieces),
        "extra_ids": int(extra_ids),
        "sha256": digest,
    }


def _requested(value: str | None) -> dict[str, Any] | None:
    """``Sweep.vocabulary`` described: a known vocabulary, or a local file read here."""
    if value is None:
        return None
    if value in KNOWN:
        return KNOWN[value].to_json()
    if "://" in value or not os.path.isfile(value):
        raise ConfigError(
            f"Sweep.vocabulary = {value!r} is neither a known vocabulary ({', '.join(KNOWN)}) "
            "nor a local SentencePiece file"
        )
    from flawn.vocab import EXTRA_IDS

    return {"name": None, **read_vocabulary_file(value, EXTRA_IDS)}


def describe_run_vocabulary(vocabulary, requested: str | None = None) -> dict[str, Any]:
    """What a run records of its vocabulary (``RunSpec.vocabulary_model``).

    Args:
        vocabulary: The seqio vocabulary its mixtures are tokenized with.
        requested: ``Sweep.vocabulary`` (``None``: whatever the mixtures use).

    Raises:
        ConfigError: If ``requested`` names no known vocabulary or file.
    """
    path = getattr(vocabulary, "sentencepiece_model_file", None)
    extra_ids = int(getattr(vocabulary, "extra_ids", 0) or 0)
    if path and os.path.isfile(path):
        used = read_vocabulary_file(path, extra_ids)
    else:
        used = {"path": path or type(vocabulary).__name__, "pieces": None,
                "extra_ids": extra_ids, "sha256": None}  # fmt: skip
    return {**used, "requested": _requested(requested)}


def describe_stage_vocabularies(stages, requested: str | None = None) -> dict[str, Any]:
    """What a run records of its vocabulary: its first stage's, and any stage's that differs.

    Args:
        stages: ``(stage name, mixture, seqio vocabulary)`` per stage, in order.
        requested: ``Sweep.vocabulary``.

    Returns:
        :func:`describe_run_vocabulary` of the first stage's, with ``stage``
        and ``mixture``, and ``other_stages``: ``{name: description}`` of the
        stages tokenized with another vocabulary.
    """
    (name, mixture, vocabulary), *rest = stages
    first = {**describe_run_vocabulary(vocabulary, requested), "stage": name, "mixture": mixture}
    others = {}
    for name, mixture, vocabulary in rest:
        described = describe_run_vocabulary(vocabulary)
        if _differs(described, first):
            others[name] = {**described, "mixture": mixture}
    if others:
        first["other_stages"] = others
    return first


def identity(recorded: Mapping[str, Any]) -> dict[str, Any] | None:
    """What of a recorded vocabulary is part of the run's id (not where the file lies).

    ``None`` for flawn's sample vocabulary, asked for by nobody: run ids
    from before the vocabulary was recorded stay as they were.
    """
    requested = recorded.get("requested") or {}
    if not requested and recorded.get("sha256") == _sample_digest():
        return None
    return {
        **{k: recorded.get(k) for k in ("pieces", "extra_ids", "sha256")},
        "requested": requested.get("name") or requested.get("sha256"),
    }


def _sample_digest() -> str | None:
    from flawn import paths
    from flawn.tokenizer.extension import file_digest

    return file_digest(paths.SAMPLE_VOCAB) if os.path.isfile(paths.SAMPLE_VOCAB) else None


def _describe(v: Mapping[str, Any]) -> str:
    pieces = f"{v['pieces']:,}" if v.get("pieces") is not None else "? (unreadable here)"
    named = f"{KNOWN[v['name']].description} " if v.get("name") in KNOWN else ""
    return f"{named}{v['path']} ({pieces} pieces + {v['extra_ids']} extra ids)"


def _differs(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two described vocabularies differ, by what is known of both."""
    if (a.get("pieces"), a.get("extra_ids")) != (b.get("pieces"), b.get("extra_ids")):
        return True
    return bool(a.get("sha256") and b.get("sha256") and a["sha256"] != b["sha256"])


def _fix(v: Mapping[str, Any], name_it: bool = True) -> str:
    """How to tokenize with ``v``: FLAWN_VOCABULARY at (a local copy of) it."""
    named = f"Sweep.vocabulary = {v['name']!r} and " if name_it and v.get("name") else ""
    if "://" in str(v.get("path")):
        local = f"{v.get('name') or 'vocabulary'}.model"
        return (
            f"set {named}FLAWN_VOCABULARY to a local copy of {v['path']} (gcloud storage cp "
            f"{v['path']} {local})"
        )
    return f"set {named}FLAWN_VOCABULARY={v['path']}"


def checkpoint_vocabulary(init: str) -> dict[str, Any] | None:
    """The vocabulary a starting checkpoint was trained with, where it can be told.

    Public T5 1.1 / Flan-T5 checkpoints: T5's; a flawn run folder (or one
    of its stages): its recorded ``vocabulary_model`` (none when the run
    extended its vocabulary: resizing handles that); a Hugging
    Face folder: its ``spiece.model``. ``None`` for anything else (a T5X
    checkpoint folder records no vocabulary).
    """
    for prefix, known in _PUBLIC_CHECKPOINTS.items():
        if init.startswith(prefix):
            return known.to_json()
    if "://" in init or not os.path.isdir(init):
        return None
    spec_path = os.path.join(init, "spec.json")
    stage_parent = os.path.dirname(os.path.abspath(init))
    if not os.path.isfile(spec_path) and os.path.basename(stage_parent) == "stages":
        spec_path = os.path.join(os.path.dirname(stage_parent), "spec.json")  # a run's stage
    if os.path.isfile(spec_path):
        with open(spec_path, encoding="utf-8") as f:
            spec = json.load(f)
        recorded = spec.get("vocabulary_model")
        if recorded and spec.get("vocabulary"):
            return None  # an extended vocabulary: checked against its recipe when training
        return dict(recorded) if recorded else None
    spiece = os.path.join(init, "spiece.model")
    if os.path.isfile(spiece):
        config_path = os.path.join(init, "tokenizer_config.json")
        extra_ids = 100
        if os.path.isfile(config_path):
            with open(config_path, encoding="utf-8") as f:
                extra_ids = int(json.load(f).get("extra_ids", 100))
        return read_vocabulary_file(spiece, extra_ids)
    return None


def vocabulary_problems(spec) -> list[str]:
    """What in a run would train with the wrong vocabulary (empty when nothing).

    The run's vocabulary is the one it asks for (``Sweep.vocabulary``), else
    the one its mixtures are tokenized with; the mixtures' must be it, and
    so must be each starting checkpoint's, where that can be told.

    Args:
        spec: A :class:`~flawn.runs.RunSpec`.
    """
    used = spec.vocabulary_model
    if not used:
        return []
    problems = []
    requested = used.get("requested")
    tokenized = [(used.get("stage"), used), *(used.get("other_stages") or {}).items()]
    for stage_name, theirs in tokenized:
        what = f"stage {stage_name}'s mixture {theirs.get('mixture')!r}"
        if requested is not None and _differs(requested, theirs):
            problems.append(
                f"the run asks for the vocabulary {_describe(requested)} (Sweep.vocabulary), but "
                f"{what} is tokenized with {_describe(theirs)}; {_fix(requested, name_it=False)}"
            )
        elif requested is None and theirs is not used:
            problems.append(
                f"{what} is tokenized with {_describe(theirs)}, stage {used.get('stage')}'s with "
                f"{_describe(used)}: a run's stages share one vocabulary; register their "
                "mixtures with one (FLAWN_VOCABULARY)"
            )
    wanted = requested or used
    for stage in spec.stages:
        if stage.init in ("scratch", "previous"):
            continue
        try:
            theirs = checkpoint_vocabulary(stage.init)
        except (OSError, ValueError, ConfigError) as err:
            problems.append(
                f"stage {stage.name}: cannot tell the vocabulary of {stage.init} ({err})"
            )
            continue
        if theirs is not None and _differs(theirs, wanted):
            problems.append(
                f"stage {stage.name}: the initial checkpoint {stage.init} was trained with "
                f"{_describe(theirs)}, not the run's {_describe(wanted)}; {_fix(theirs)}, or "
                "start from scratch"
            )
    return problems


def check_run_vocabulary(spec) -> None:
    """Raises :class:`ConfigError` with :func:`vocabulary_problems`, if any."""
    problems = vocabulary_problems(spec)
    if problems:
        raise ConfigError("; ".join(problems))
