"""Extending a SentencePiece model with new pieces while keeping every old id.

LaWGPT extends its base tokenizer with legal vocabulary (its
``resources/legal_vocab.txt``): each term becomes a piece of its own, so
legal text takes fewer tokens. flawn does the same to a T5-layout model,
from a word list, from pieces a small SentencePiece model learns on a legal
corpus, or both.

Where the new pieces go. seqio appends ``extra_ids`` sentinels after a
model's pieces (``<extra_id_0>`` is the last id), so a vocabulary of ``P``
pieces has ids ``0..P-1`` for pieces and ``P..P+99`` for the sentinels. The
new pieces are appended to the model: every old piece keeps its id, the
``N`` new pieces get ``P..P+N-1``, and the sentinels move to
``P+N..P+N+99``, still the last ids, where span corruption and T5 expect
them. A model that holds its sentinels as pieces itself (a trailing block of
``<extra_id_N>`` pieces) gets the new pieces before that block, so the rule
is the same either way: every id from the first sentinel on moves up by
``N`` (:meth:`VocabularyExtension.new_id`). A checkpoint trained with the old
vocabulary is resized by the same rule (:mod:`flawn.models.resize`).

The kind of the new pieces:

* ``user_defined`` (the default): SentencePiece matches them in the text
  before it segments the rest, longest match first and without normalising
  them, so each term is one piece wherever it occurs, inside longer strings
  too.
* ``normal``: scored pieces the unigram model picks when they give the best
  segmentation, as LaWGPT adds them. LaWGPT scores them 0, which makes the
  model prefer a new piece plus a rare old one over one common old piece
  (text can get longer). flawn scores a new piece as the base scores its
  best split into old pieces, plus :data:`NORMAL_BONUS` for each token it
  saves: a segmentation with new pieces then scores as the base segmentation
  they stand for plus the bonus per saved token, so new pieces replace the
  splits the base would choose anyway, and longer ones win over shorter
  ones. Normal pieces are matched after normalisation, so their text is
  stored normalised (NFKC turns full-width ``ＡＢＣ`` into ``ABC``, for
  instance).
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as model_pb2

from flawn.errors import FlawnError
from flawn.vocab import EXTRA_IDS

#: Kinds of new piece (see the module docstring).
USER_DEFINED, NORMAL = "user_defined", "normal"
KINDS = (USER_DEFINED, NORMAL)

#: Files an extension writes into its folder.
MODEL_FILE = "extended.model"
PIECES_FILE = "extended.vocab"
BASE_FILE = "base.model"
INFO_FILE = "extension.json"

#: SentencePiece's word-boundary symbol.
WORD_BOUNDARY = "\u2581"

_Piece = model_pb2.ModelProto.SentencePiece
_PIECE_TYPES = {USER_DEFINED: _Piece.USER_DEFINED, NORMAL: _Piece.NORMAL}
_SENTINEL = re.compile(rf"{WORD_BOUNDARY}?<extra_id_\d+>")

#: Score a normal new piece gains per token it saves over its split (log-probability units).
NORMAL_BONUS = 1.0

#: Longest text SentencePiece trains on in one piece; longer texts are cut into chunks.
_CHUNK_CHARACTERS = 2000


def file_digest(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_model(path: str | os.PathLike) -> model_pb2.ModelProto:
    """Parses a SentencePiece ``.model`` file.

    Raises:
        FlawnError: If the file is missing or not a SentencePiece model.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FlawnError(f"SentencePiece model {path} not found")
    proto = model_pb2.ModelProto()
    with open(path, "rb") as f:
        data = f.read()
    try:
        proto.ParseFromString(data)
    except Exception as err:  # protobuf's DecodeError; any failure means "not a model"
        raise FlawnError(f"{path} is not a SentencePiece model ({err})") from err
    if not proto.pieces:
        raise FlawnError(f"{path} is not a SentencePiece model (it has no pieces)")
    return proto


def _processor(proto: model_pb2.ModelProto, dummy_prefix: bool | None = None):
    if dummy_prefix is not None:
        proto = _copy(proto)
        proto.normalizer_spec.add_dummy_prefix = dummy_prefix
    return spm.SentencePieceProcessor(model_proto=proto.SerializeToString())


def _copy(proto: model_pb2.ModelProto) -> model_pb2.ModelProto:
    copy = model_pb2.ModelProto()
    copy.CopyFrom(proto)
    return copy


class _BaseSplitter:
    """Splits the text of a new piece as the base model would inside running text."""

    def __init__(self, proto: model_pb2.ModelProto):
        self.inside = _processor(proto, dummy_prefix=False)
        self.word_start = _processor(proto, dummy_prefix=True)

    def _processor_and_text(self, piece: str):
        # A piece without a leading boundary sits inside a word: no dummy prefix, so no
        # stray boundary piece is counted.
        if piece.startswith(WORD_BOUNDARY):
            return self.word_start, piece[1:].replace(WORD_BOUNDARY, " ")
        return self.inside, piece.replace(WORD_BOUNDARY, " ")

    def ids(self, piece: str) -> list[int]:
        """The base ids of ``piece``'s text (the unknown piece when it has none)."""
        processor, text = self._processor_and_text(piece)
        return list(processor.encode(text)) or [processor.unk_id()]

    def score(self, piece: str) -> float:
        """:data:`NORMAL_BONUS` per saved token over the base's score of its best split."""
        processor, text = self._processor_and_text(piece)
        best = processor.nbest_encode_as_proto(text, 2).nbests  # 1 reports no score
        return best[0].score + NORMAL_BONUS * (len(best[0].pieces) - 1)


def sentinel_start(proto: model_pb2.ModelProto) -> int:
    """The id of the first piece of a trailing block of ``<extra_id_N>`` pieces (or the size)."""
    start = len(proto.pieces)
    while start > 0 and _SENTINEL.fullmatch(proto.pieces[start - 1].piece):
        start -= 1
    return start


@dataclasses.dataclass(frozen=True)
class VocabularyExtension:
    """An extended SentencePiece model and how its ids relate to its base's.

    Ids here are the ids of the whole vocabulary as seqio sees it: the
    model's pieces, then ``extra_ids`` sentinels.

    Attributes:
        base_model: The base ``.model`` file (a copy next to the extended one,
            so a folder can be moved and still resize checkpoints).
        model: The extended ``.model`` file.
        added: The new pieces, in id order (the first has id ``first_added``).
        kind: ``user_defined`` or ``normal``.
        base_pieces: Pieces of the base model.
        first_added: Id of the first new piece: the base's pieces before its
            sentinel block (all of them, for a model without in-model sentinels).
        extra_ids: Sentinel ids seqio appends after the pieces.
        skipped: Terms and corpus pieces not added, counted by reason.
        origins: New pieces counted by where they came from (``terms``, ``corpus``).
        base_source: Where the base model was copied from.
    """

    base_model: str
    model: str
    added: tuple[str, ...]
    kind: str
    base_pieces: int
    first_added: int
    extra_ids: int = EXTRA_IDS
    skipped: Mapping[str, int] = dataclasses.field(default_factory=dict)
    origins: Mapping[str, int] = dataclasses.field(default_factory=dict)
    base_source: str = ""

    @property
    def base_size(self) -> int:
        """Ids of the base vocabulary (pieces plus sentinels)."""
        return self.base_pieces + self.extra_ids

    @property
    def size(self) -> int:
        """Ids of the extended vocabulary."""
        return self.base_size + len(self.added)

    def new_id(self, old_id: int) -> int:
        """Where an id of the base vocabulary is in the extended one.

        Raises:
            ValueError: If ``old_id`` is not an id of the base vocabulary.
        """
        if not 0 <= old_id < self.base_size:
            raise ValueError(f"id {old_id} is not in the base vocabulary (0..{self.base_size - 1})")
        return old_id if old_id < self.first_added else old_id + len(self.added)

    def sentinel_ids(self) -> list[tuple[int, int]]:
        """``(old id, new id)`` of every sentinel, ``<extra_id_0>`` first."""
        old = [self.base_size - 1 - i for i in range(self.base_size - self.first_added)]
        return [(i, self.new_id(i)) for i in old]

    def sub_pieces(self) -> list[list[int]]:
        """For each new piece, the base ids the base tokenizer splits its text into.

        The text is split as it would be inside running text: a piece without
        a leading word boundary is encoded without SentencePiece's dummy
        prefix, so no stray boundary piece is counted. A piece the base
        cannot split into anything (all of it normalised away) gets the
        unknown piece.
        """
        splitter = _BaseSplitter(read_model(self.base_model))
        return [splitter.ids(piece) for piece in self.added]

    def resize_plan(self):
        """The :class:`~flawn.models.resize.VocabularyResize` that fits a checkpoint to this."""
        from flawn.models.resize import VocabularyResize

        return VocabularyResize(
            old_size=self.base_size,
            first_moved=self.first_added,
            sources=tuple(tuple(ids) for ids in self.sub_pieces()),
        )

    def to_json(self, folder: str | None = None) -> dict[str, Any]:
        """What ``extension.json`` holds: the fields and the files' digests.

        Args:
            folder: Write the paths of files in this folder relative to it.
        """
        value = {
            **dataclasses.asdict(self),
            "added": list(self.added),
            "base_sha256": file_digest(self.base_model),
            "model_sha256": file_digest(self.model),
        }
        if folder is not None:
            for key in ("base_model", "model"):
                if os.path.dirname(os.path.abspath(value[key])) == os.path.abspath(folder):
                    value[key] = os.path.basename(value[key])
        return value

    @classmethod
    def from_json(cls, value: Mapping[str, Any], folder: str | None = None) -> VocabularyExtension:
        """Rebuilds an extension from :meth:`to_json`; relative paths are taken from ``folder``."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in value.items() if k in fields}
        kept["added"] = tuple(kept["added"])
        if folder is not None:
            for key in ("base_model", "model"):
                if not os.path.isabs(kept[key]):
                    kept[key] = os.path.join(folder, kept[key])
        return cls(**kept)


def load_extension(folder: str | os.PathLike) -> VocabularyExtension:
    """Reads the extension an earlier :func:`extend_vocabulary` wrote into ``folder``.

    Raises:
        FlawnError: If ``folder`` has no ``extension.json``, or its model
            file is not the one the extension recorded.
    """
    folder = os.fspath(folder)
    path = os.path.join(folder, INFO_FILE)
    if not os.path.isfile(path):
        raise FlawnError(
            f"{folder} holds no vocabulary extension ({INFO_FILE} is missing); write one with "
            "`flawn model extend-vocab`"
        )
    with open(path, encoding="utf-8") as f:
        value = json.load(f)
    extension = VocabularyExtension.from_json(value, folder)
    if file_digest(extension.model) != value.get("model_sha256"):
        raise FlawnError(
            f"{extension.model} is not the model {path} describes (its SHA-256 differs); "
            "extend the vocabulary again"
        )
    return extension


def _chunks(texts: Iterable[str]) -> Iterable[str]:
    """Lines of at most :data:`_CHUNK_CHARACTERS` (SentencePiece skips longer sentences)."""
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            for start in range(0, len(line), _CHUNK_CHARACTERS):
                yield line[start : start + _CHUNK_CHARACTERS]


def pieces_from_corpus(
    texts: Iterable[str],
    count: int,
    base_model: str | os.PathLike,
    vocab_size: int | None = None,
) -> list[str]:
    """The ``count`` best pieces a unigram model learns on ``texts`` that the base lacks.

    A SentencePiece unigram model of ``vocab_size`` pieces (default ``2 *
    count + 100``; fewer when the corpus cannot support that many) is trained
    on the texts with the base's normalisation, single-threaded so the result
    is reproducible; its normal pieces that are not pieces of the base are
    ranked by their score (log-probability), best first.

    Args:
        texts: The corpus (documents or lines; long lines are cut into chunks).
        count: How many pieces to return at most.
        base_model: The model being extended.
        vocab_size: Pieces of the model trained on the corpus.

    Returns:
        At most ``count`` pieces (fewer when the corpus yields fewer new ones).

    Raises:
        FlawnError: If the corpus is empty or SentencePiece cannot train on it.
    """
    if count <= 0:
        return []
    base = read_model(base_model)
    sentences = list(_chunks(texts))
    if not sentences:
        raise FlawnError("the corpus for new pieces holds no text")
    trained = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=trained,
            vocab_size=vocab_size or 2 * count + 100,
            model_type="unigram",
            hard_vocab_limit=False,
            character_coverage=0.9995,
            normalization_rule_name=base.normalizer_spec.name or "nmt_nfkc",
            split_digits=base.trainer_spec.split_digits,
            num_threads=1,  # single-threaded training is reproducible
            shuffle_input_sentence=False,
            minloglevel=2,
        )
    except RuntimeError as err:
        raise FlawnError(f"SentencePiece could not learn pieces from the corpus: {err}") from err
    proto = model_pb2.ModelProto()
    proto.ParseFromString(trained.getvalue())
    known = {p.piece for p in base.pieces}
    candidates = [
        p
        for p in proto.pieces
        if p.type == _Piece.NORMAL and p.piece not in known and p.piece != WORD_BOUNDARY
    ]
    candidates.sort(key=lambda p: -p.score)  # stable: equal scores keep the model's order
    return [p.piece for p in candidates[:count]]


def _vetted(
    candidates: Sequence[tuple[str, str]], base: model_pb2.ModelProto, kind: str
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """The candidates that can become new pieces, and the others counted by reason."""
    normalizer = _processor(base, dummy_prefix=False)
    known = {p.piece for p in base.pieces}
    seen: set[str] = set()
    kept, skipped = [], collections.Counter()
    for piece, origin in candidates:
        if any(ch.isspace() for ch in piece):
            skipped["contains whitespace"] += 1
            continue
        if kind == NORMAL:
            body = piece.removeprefix(WORD_BOUNDARY)
            piece = piece[: len(piece) - len(body)] + normalizer.normalize(body)
        if not piece or piece == WORD_BOUNDARY:
            skipped["empty"] += 1
        elif _SENTINEL.fullmatch(piece.removeprefix(WORD_BOUNDARY)):
            skipped["looks like a sentinel"] += 1
        elif piece in known:
            skipped["already a piece of the base"] += 1
        elif kind == USER_DEFINED and WORD_BOUNDARY + piece in known:
            # Matched before segmentation, it would split the word piece "▁term" in two.
            skipped["already a piece of the base as a word"] += 1
        elif piece in seen:
            skipped["duplicate"] += 1
        else:
            seen.add(piece)
            kept.append((piece, origin))
    return kept, {k: v for k, v in skipped.items() if v}


def extend_vocabulary(
    base_model: str | os.PathLike,
    out_dir: str | os.PathLike,
    terms: Sequence[str] = (),
    corpus_pieces: Sequence[str] = (),
    kind: str = USER_DEFINED,
    extra_ids: int = EXTRA_IDS,
    word_start: bool = False,
) -> VocabularyExtension:
    """Writes the base model with new pieces appended, and a description of the ids.

    Writes into ``out_dir``: ``extended.model``, ``extended.vocab`` (one
    ``piece<TAB>score`` line per piece, as ``spm_train`` writes) and
    ``extension.json`` (the :class:`VocabularyExtension`). Terms come first,
    then corpus pieces; a candidate that is already a piece of the base, or
    repeats an earlier one, is skipped and counted.

    Args:
        base_model: The SentencePiece model to extend (T5 layout: pad 0, eos
            1, unk 2).
        out_dir: The folder to write (created).
        terms: Terms to add, e.g. from
            :func:`flawn.sources.lawgpt.load_legal_vocabulary`.
        corpus_pieces: Pieces to add, e.g. from :func:`pieces_from_corpus`.
        kind: ``user_defined`` or ``normal`` (see the module docstring).
        extra_ids: Sentinels seqio appends after the pieces (flawn: 100).
        word_start: Add each term with a leading word boundary (``▁term``),
            the form a word takes after a space: for languages written with
            spaces. Without it a term is added as written (LaWGPT's Chinese
            terms), and a ``user_defined`` term whose ``▁term`` is a piece of
            the base already is skipped: matched on its own it would split
            that word piece in two.

    Returns:
        The extension.

    Raises:
        FlawnError: If the kind is unknown, nothing is left to add, or the
            written model does not keep every old piece's id.
    """
    if kind not in KINDS:
        raise FlawnError(f"unknown kind of piece {kind!r}; use one of {KINDS}")
    base_model = os.path.abspath(os.fspath(base_model))
    base = read_model(base_model)
    prefix = WORD_BOUNDARY if word_start else ""
    candidates = [(t if t.startswith(WORD_BOUNDARY) else prefix + t, "terms") for t in terms]
    candidates += [(p, "corpus") for p in corpus_pieces]
    kept, skipped = _vetted(candidates, base, kind)
    if not kept:
        reasons = ", ".join(f"{n} {r}" for r, n in skipped.items()) or "none given"
        raise FlawnError(f"no new pieces to add to {base_model} ({reasons})")

    start = sentinel_start(base)
    extended = _copy(base)
    del extended.pieces[start:]
    splitter = _BaseSplitter(base)
    for piece, _ in kept:
        score = splitter.score(piece) if kind == NORMAL else 0.0  # see the module docstring
        extended.pieces.add(piece=piece, score=score)
        extended.pieces[-1].type = _PIECE_TYPES[kind]
    extended.pieces.extend(base.pieces[start:])
    extended.trainer_spec.vocab_size = len(extended.pieces)

    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    base_copy = os.path.join(out, BASE_FILE)
    if os.path.abspath(base_copy) != base_model:
        shutil.copyfile(base_model, base_copy)
    model_path = os.path.join(out, MODEL_FILE)
    with open(model_path, "wb") as f:
        f.write(extended.SerializeToString())
    with open(os.path.join(out, PIECES_FILE), "w", encoding="utf-8") as f:
        f.writelines(f"{p.piece}\t{p.score:g}\n" for p in extended.pieces)
    extension = VocabularyExtension(
        base_model=os.path.abspath(base_copy),
        model=os.path.abspath(model_path),
        added=tuple(piece for piece, _ in kept),
        kind=kind,
        base_pieces=len(base.pieces),
        first_added=start,
        extra_ids=extra_ids,
        skipped=skipped,
        origins=dict(collections.Counter(origin for _, origin in kept)),
        base_source=base_model,
    )
    check_extension(extension)
    with open(os.path.join(out, INFO_FILE), "w", encoding="utf-8") as f:
        json.dump(extension.to_json(out), f, ensure_ascii=False, indent=1)
        f.write("\n")
    return extension


def extend_from_files(
    base_model: str | os.PathLike,
    out_dir: str | os.PathLike,
    terms_file: str | os.PathLike | None = None,
    corpus_files: Sequence[str | os.PathLike] = (),
    pieces: int = 0,
    kind: str = USER_DEFINED,
    extra_ids: int = EXTRA_IDS,
    word_start: bool = False,
) -> VocabularyExtension:
    """:func:`extend_vocabulary` with terms and corpus read from files.

    Args:
        base_model: The SentencePiece model to extend.
        out_dir: The folder to write.
        terms_file: A one-term-per-line word list
            (:func:`flawn.sources.lawgpt.load_legal_vocabulary`), or ``None``.
        corpus_files: Files to learn ``pieces`` pieces from
            (:func:`flawn.tokenizer.lengths.read_texts`).
        pieces: How many pieces to learn from the corpus.
        kind: ``user_defined`` or ``normal``.
        extra_ids: Sentinels seqio appends after the pieces.
        word_start: Add each term as a word (``▁term``).

    Raises:
        FlawnError: If there is neither a word list nor a corpus, a corpus
            without ``pieces``, or a file cannot be read.
    """
    from flawn.sources.lawgpt import load_legal_vocabulary
    from flawn.tokenizer.lengths import read_texts

    if not terms_file and not corpus_files:
        raise FlawnError("give a word list, a corpus to learn pieces from, or both")
    if corpus_files and pieces <= 0:
        raise FlawnError("a corpus needs a number of pieces to learn from it")
    terms = load_legal_vocabulary(terms_file) if terms_file else []
    learned: list[str] = []
    if corpus_files:
        texts = [text for path in corpus_files for text in read_texts(path)]
        learned = pieces_from_corpus(texts, pieces, base_model)
    return extend_vocabulary(base_model, out_dir, terms, learned, kind, extra_ids, word_start)


def check_extension(extension: VocabularyExtension) -> None:
    """Checks an extended model against its base: old ids kept, new pieces where recorded.

    Raises:
        FlawnError: Naming the first id that differs.
    """
    old = spm.SentencePieceProcessor(model_file=extension.base_model)
    new = spm.SentencePieceProcessor(model_file=extension.model)
    if new.get_piece_size() != old.get_piece_size() + len(extension.added):
        raise FlawnError(
            f"{extension.model} has {new.get_piece_size()} pieces, expected "
            f"{old.get_piece_size()} + {len(extension.added)}"
        )
    for old_id in range(old.get_piece_size()):
        new_id = extension.new_id(old_id)
        if new.id_to_piece(new_id) != old.id_to_piece(old_id):
            raise FlawnError(
                f"{extension.model}: id {new_id} is {new.id_to_piece(new_id)!r}, but it should "
                f"be the base's piece {old_id} {old.id_to_piece(old_id)!r}"
            )
    for offset, piece in enumerate(extension.added):
        if new.id_to_piece(extension.first_added + offset) != piece:
            raise FlawnError(f"{extension.model}: new piece {piece!r} is not at its recorded id")
