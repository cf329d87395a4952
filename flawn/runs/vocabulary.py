"""A run's extended vocabulary: the regime's recipe, its files, the mixtures its stages train on.

A regime may extend the vocabulary before its first stage, as LaWGPT does
with its legal terms (``gin/regimes/lawgpt.gin``)::

    Regime.vocabulary_extension = {'terms': 'legal_vocab.txt', 'corpus': None,
                                   'pieces': 0, 'kind': 'user_defined', 'word_start': False}

When a run is resolved, this becomes a :class:`VocabularyRecipe`: the base
model (the vocabulary of the stages' mixtures), the files' digests and the
options. Its hash tags the vocabulary; it is recorded in the RunSpec and
bound in every stage's gin config::

    import flawn.runs.vocabulary
    TrainConfig.mixture_or_task_name = @extended_mixture()
    extended_mixture.name = 'demo.legal'           # the stage's mixture
    extended_mixture.recipe = {...}
    extended_mixture.model_dir = %MODEL_DIR
    sized_t5_config.vocab_size = 0                 # rows from the extended vocabulary

so the run id changes with the word list, the corpus or the base, and every
process that builds a stage's ``TrainConfig`` (training, evaluation, export,
planning) trains on or reads ``vocab_<hash>:<mixture>``, the stage's mixture
tokenized with the extended vocabulary (:mod:`flawn.mixtures.vocabulary`).
The model file is the run folder's ``vocab/extended.model``, which the
backend writes before the first stage; where a run folder holds none yet
(a sweep being planned), it is built from the recipe into a temporary folder.
A stage that starts from a checkpoint in the base vocabulary starts from it
resized (:func:`flawn.train.resized_checkpoint.fit_to_extension`).
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import gin

from flawn.errors import ConfigError

#: Keys of ``Regime.vocabulary_extension``.
OPTION_KEYS = ("terms", "corpus", "pieces", "kind", "word_start")
#: The recipe's file in the run's vocab folder.
RECIPE_FILE = "recipe.json"

#: Extensions built outside a run folder in this process, by recipe key.
_BUILT: dict[str, str] = {}


def extension_requested(options: Mapping[str, Any] | None) -> bool:
    """Whether ``Regime.vocabulary_extension`` asks for an extension (terms or a corpus)."""
    return bool(options) and bool(options.get("terms") or options.get("corpus"))


def check_options(options: Mapping[str, Any], where: str = "Regime.vocabulary_extension") -> None:
    """Validates ``Regime.vocabulary_extension`` (files are checked when the run is resolved).

    Raises:
        ValueError: Naming the key that is wrong and what it takes.
    """
    from flawn.tokenizer.extension import KINDS

    if not isinstance(options, Mapping):
        raise ValueError(f"{where} must be a dict with keys {list(OPTION_KEYS)}, got {options!r}")
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise ValueError(f"{where} has unknown key(s) {unknown}; it takes {list(OPTION_KEYS)}")
    kind = options.get("kind") or "user_defined"
    if kind not in KINDS:
        raise ValueError(f"{where}['kind'] must be one of {list(KINDS)}, got {kind!r}")
    pieces = options.get("pieces") or 0
    if not isinstance(pieces, int) or pieces < 0:
        raise ValueError(f"{where}['pieces'] must be a number of pieces >= 0, got {pieces!r}")
    if options.get("corpus") and not pieces:
        raise ValueError(
            f"{where} names a corpus but 'pieces' is 0; say how many pieces to learn from it"
        )
    if not isinstance(options.get("word_start", False), bool):
        raise ValueError(f"{where}['word_start'] must be True or False")
    if pieces and not options.get("corpus"):
        raise ValueError(f"{where}['pieces'] = {pieces} needs a 'corpus' to learn them from")


@dataclasses.dataclass(frozen=True)
class VocabularyRecipe:
    """Everything that decides a run's extended vocabulary.

    Attributes:
        base_model: The base SentencePiece model (the stages' mixtures' vocabulary).
        base_sha256: Its digest.
        extra_ids: Sentinels of the base vocabulary.
        terms: A one-term-per-line word list, or ``None``.
        terms_sha256: Its digest.
        corpus: Files to learn pieces from (:func:`flawn.tokenizer.lengths.read_texts`).
        corpus_sha256: Their digests.
        pieces: Pieces to learn from the corpus.
        kind: ``user_defined`` or ``normal``.
        word_start: Add each term as a word (``▁term``), for languages with spaces.
    """

    base_model: str
    base_sha256: str
    extra_ids: int
    terms: str | None = None
    terms_sha256: str | None = None
    corpus: tuple[str, ...] = ()
    corpus_sha256: tuple[str, ...] = ()
    pieces: int = 0
    kind: str = "user_defined"
    word_start: bool = False

    @property
    def key(self) -> str:
        """The recipe's hash (12 hex digits); the same recipe builds the same model."""
        from flawn.runs.spec import content_hash

        return content_hash(self.to_json())

    @property
    def tag(self) -> str:
        """Names the vocabulary in task and mixture names: ``vocab_<key>``."""
        return f"vocab_{self.key}"

    def to_json(self) -> dict[str, Any]:
        """A dict of plain literals (it is written into gin configs)."""
        value = dataclasses.asdict(self)
        value["corpus"] = list(self.corpus)
        value["corpus_sha256"] = list(self.corpus_sha256)
        return value

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> VocabularyRecipe:
        """Rebuilds a recipe from :meth:`to_json`."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in value.items() if k in fields}
        kept["corpus"] = tuple(kept.get("corpus") or ())
        kept["corpus_sha256"] = tuple(kept.get("corpus_sha256") or ())
        return cls(**kept)

    def build(self, out_dir: str | os.PathLike):
        """Builds the extended vocabulary into ``out_dir`` from the recipe's files.

        Returns:
            The :class:`~flawn.tokenizer.extension.VocabularyExtension`.

        Raises:
            ConfigError: If a file is missing or no longer has the digest the
                run was resolved with.
        """
        from flawn.tokenizer.extension import extend_from_files, file_digest

        files = [(self.base_model, self.base_sha256)]
        files += [(self.terms, self.terms_sha256)] if self.terms else []
        files += list(zip(self.corpus, self.corpus_sha256, strict=True))
        for path, digest in files:
            if not os.path.isfile(path):
                raise ConfigError(f"the run's vocabulary extension needs {path}, which is missing")
            if file_digest(path) != digest:
                raise ConfigError(
                    f"{path} changed since the run was planned (its SHA-256 differs); plan the "
                    "run again (it becomes a new run)"
                )
        os.makedirs(out_dir, exist_ok=True)
        extension = extend_from_files(
            self.base_model,
            out_dir,
            self.terms,
            self.corpus,
            self.pieces,
            self.kind,
            self.extra_ids,
            self.word_start,
        )
        with open(os.path.join(out_dir, RECIPE_FILE), "w", encoding="utf-8") as f:
            json.dump({**self.to_json(), "key": self.key}, f, indent=1)
            f.write("\n")
        return extension


def _absolute(path: str, where: str) -> str:
    if not os.path.isfile(path):
        raise ConfigError(f"{where}: {path} is not a file")
    return os.path.abspath(path)


def make_recipe(
    options: Mapping[str, Any], vocabulary, where: str = "Regime.vocabulary_extension"
) -> VocabularyRecipe:
    """The recipe of ``Regime.vocabulary_extension`` for a base vocabulary.

    Args:
        options: The regime's ``vocabulary_extension``.
        vocabulary: The base seqio ``SentencePieceVocabulary``.
        where: Names the regime in messages.

    Raises:
        ConfigError: If a file is missing or the base is not a SentencePiece model.
    """
    from flawn.tokenizer.extension import file_digest

    try:
        check_options(options, where)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    base = getattr(vocabulary, "sentencepiece_model_file", None)
    if not base or not os.path.isfile(base):
        raise ConfigError(
            f"{where}: the stages' vocabulary ({type(vocabulary).__name__}) is not a local "
            "SentencePiece model file, so it cannot be extended"
        )
    terms = options.get("terms")
    terms = _absolute(str(terms), f"{where}['terms']") if terms else None
    corpus = options.get("corpus") or ()
    corpus = (corpus,) if isinstance(corpus, str) else tuple(corpus)
    corpus = tuple(_absolute(str(p), f"{where}['corpus']") for p in corpus)
    base = os.path.abspath(base)
    return VocabularyRecipe(
        base_model=base,
        base_sha256=file_digest(base),
        extra_ids=int(getattr(vocabulary, "extra_ids", 0) or 0),
        terms=terms,
        terms_sha256=file_digest(terms) if terms else None,
        corpus=corpus,
        corpus_sha256=tuple(file_digest(p) for p in corpus),
        pieces=int(options.get("pieces") or 0),
        kind=options.get("kind") or "user_defined",
        word_start=bool(options.get("word_start", False)),
    )


def stage_bindings(recipe: VocabularyRecipe, mixture: str, sized_vocabulary: bool) -> list[str]:
    """The gin bindings that make a stage train on ``mixture`` with the extended vocabulary.

    Args:
        recipe: The run's recipe.
        mixture: The stage's mixture.
        sized_vocabulary: Whether the model size fixes its vocabulary rows
            (the T5 sizes' 32,128); they are then sized from the extended
            vocabulary instead.
    """
    bindings = [
        "import flawn.runs.vocabulary",
        "TrainConfig.mixture_or_task_name = @extended_mixture()",
        f"extended_mixture.name = {mixture!r}",
        f"extended_mixture.recipe = {recipe.to_json()!r}",
        "extended_mixture.model_dir = %MODEL_DIR",
    ]
    if sized_vocabulary:
        bindings.append("sized_t5_config.vocab_size = 0")
    return bindings


def _read_recipe_key(folder) -> str | None:
    from etils import epath

    path = epath.Path(folder) / RECIPE_FILE
    return json.loads(path.read_text(encoding="utf-8")).get("key") if path.exists() else None


def _process_temp_dir(prefix: str) -> str:
    """A temporary folder that lives as long as this process (vocabularies read it lazily)."""
    folder = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _local_copy(folder) -> str:
    """A local folder with ``folder``'s files (``folder`` itself when it is local)."""
    from etils import epath

    if os.path.isdir(os.fspath(folder)):
        return os.fspath(folder)
    local = _process_temp_dir("flawn-vocab-")
    for path in epath.Path(folder).iterdir():
        (epath.Path(local) / path.name).write_bytes(path.read_bytes())
    return local


def write_run_vocabulary(run_dir, recipe: VocabularyRecipe):
    """Builds the run's extended vocabulary into ``<run>/vocab/`` (once) and returns it.

    Raises:
        ConfigError: If the folder holds another recipe's vocabulary.
    """
    from etils import epath

    from flawn.tokenizer.extension import load_extension

    folder = run_dir.vocab_dir
    key = _read_recipe_key(folder)
    if key is not None and key != recipe.key:
        raise ConfigError(
            f"{folder} holds the vocabulary of another recipe ({key}, not {recipe.key}); "
            "this folder belongs to another run"
        )
    if key is None:
        built = tempfile.mkdtemp(prefix="flawn-vocab-")
        try:
            recipe.build(built)
            folder.mkdir(parents=True, exist_ok=True)
            # The recipe last: its presence says the folder is complete.
            names = sorted(os.listdir(built), key=lambda n: n == RECIPE_FILE)
            for name in names:
                (folder / name).write_bytes((epath.Path(built) / name).read_bytes())
        finally:
            shutil.rmtree(built, ignore_errors=True)
    return load_extension(_local_copy(folder))


def _run_folders(model_dir: str) -> Sequence[str]:
    """The folders that may hold a stage's run vocabulary: the run folder above a stage folder."""
    from etils import epath

    path = epath.Path(model_dir)
    return [os.fspath(path), os.fspath(path.parent.parent)]


def run_extension(recipe: VocabularyRecipe, model_dir: str | None = None):
    """The extension a stage uses: its run folder's, else one built from the recipe.

    Args:
        recipe: The run's recipe.
        model_dir: The stage's folder (``<run>/stages/<stage>``), or a bare
            train folder; ``None`` or a folder without a vocabulary builds it.
    """
    from flawn.runs.run_dir import RunDir
    from flawn.tokenizer.extension import load_extension

    for folder in _run_folders(model_dir) if model_dir else ():
        vocab = RunDir(folder).vocab_dir
        try:
            key = _read_recipe_key(vocab)
        except (OSError, ValueError):  # an unreadable folder is one without a vocabulary
            key = None
        if key == recipe.key:
            return load_extension(_local_copy(vocab))
    if recipe.key not in _BUILT:
        folder = _process_temp_dir(f"flawn-{recipe.tag}-")
        recipe.build(folder)
        _BUILT[recipe.key] = folder
    return load_extension(_BUILT[recipe.key])


@gin.configurable
def extended_mixture(
    name: str = gin.REQUIRED,
    recipe: Mapping[str, Any] = gin.REQUIRED,
    model_dir: str | None = None,
) -> str:
    """Registers ``name`` under the run's extended vocabulary and returns the variant's name.

    Bound by the stages of a regime that extends the vocabulary (see the
    module docstring); ``TrainConfig.mixture_or_task_name`` is its result.

    Args:
        name: The stage's mixture or task.
        recipe: The run's :class:`VocabularyRecipe`, as :meth:`VocabularyRecipe.to_json` gives it.
        model_dir: The stage's folder, where the run's vocabulary is looked for.
    """
    from flawn.mixtures.vocabulary import with_vocabulary
    from flawn.vocab import load_vocabulary

    parsed = VocabularyRecipe.from_json(recipe)
    extension = run_extension(parsed, model_dir)
    vocabulary = load_vocabulary(extension.model, extension.extra_ids)
    return with_vocabulary(name, vocabulary, parsed.tag)
