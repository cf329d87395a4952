"""SentencePiece vocabularies: training a small one and loading it for seqio.

flawn follows the T5 conventions (pad=0, eos=1, unk=2, no bos, 100 sentinel
``extra_ids`` for span corruption) so a sample vocabulary and the real
Flan-T5 vocabulary are interchangeable everywhere.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Iterable

import sentencepiece as spm

#: Sentinel tokens appended to the vocabulary, as in T5.
EXTRA_IDS = 100


def train_sentencepiece(
    texts: Iterable[str], model_prefix: str | os.PathLike, vocab_size: int = 2000
) -> str:
    """Trains a unigram SentencePiece model with T5's special-token layout.

    Args:
        texts: Training sentences (any iterable; read once).
        model_prefix: Output path without extension; ``.model`` and ``.vocab``
            are written next to it.
        vocab_size: Number of pieces, including the 256 byte-fallback pieces.

    Returns:
        The path of the written ``.model`` file.
    """
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts)),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        byte_fallback=True,
        split_digits=True,
        num_threads=1,  # single-threaded training is reproducible
        shuffle_input_sentence=False,
        minloglevel=2,
    )
    path = f"{os.fspath(model_prefix)}.model"
    with open(path, "wb") as out:
        out.write(model.getvalue())
    return path


def local_copy(model_path: str) -> str:
    """A local copy of a remote (``gs://``) SentencePiece model, made once in flawn's cache.

    Raises:
        ConfigError: If it cannot be read from this host, saying what to do.
    """
    import hashlib

    from etils import epath

    from flawn.errors import ConfigError
    from flawn.runs.fingerprint import cache_dir

    key = hashlib.sha256(model_path.encode("utf-8")).hexdigest()[:16]
    local = cache_dir() / "vocabularies" / key / os.path.basename(model_path)
    if local.is_file():
        return str(local)
    try:
        data = epath.Path(model_path).read_bytes()
    except Exception as err:
        raise ConfigError(
            f"the vocabulary {model_path} cannot be read from this host "
            f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); copy it to a local "
            f"file (gcloud storage cp {model_path} .) and set FLAWN_VOCABULARY to that file"
        ) from None
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(local)  # whole or absent
    return str(local)


@functools.cache
def load_vocabulary(model_path: str, extra_ids: int = EXTRA_IDS):
    """Returns a cached ``seqio.SentencePieceVocabulary`` for a model file.

    Args:
        model_path: A SentencePiece ``.model`` file; a remote one (``gs://``)
            is read through a local copy (:func:`local_copy`).
        extra_ids: Number of sentinel ids appended after the pieces.

    Raises:
        ConfigError: If a remote file cannot be read from this host.
    """
    import seqio  # deferred: pulls in TensorFlow

    if "://" in model_path:
        model_path = local_copy(model_path)
    if not os.path.exists(model_path):
        raise FileNotFoundError(
            f"SentencePiece model {model_path} not found; run `flawn samples write` to "
            "regenerate the bundled sample vocabulary"
        )
    return seqio.SentencePieceVocabulary(model_path, extra_ids=extra_ids)
