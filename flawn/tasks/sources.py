"""seqio data sources over local LawInstruct shards and Flan JSONL files.

Both read with flawn's own record readers, so a malformed line stops the
pipeline with the file and line number, and both list their files as shards
so seqio can shuffle and split them across hosts.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence

import seqio
import tensorflow as tf

from flawn.sources.flan import read_flan
from flawn.sources.lawinstruct import FIELDS, read_shard
from flawn.sources.rawtext import read_text
from flawn.tasks.features import GENERAL_METADATA, METADATA_KEYS

#: Records per element handed from Python readers to tf.data (see records_dataset).
_CHUNK = 256

_LAWINSTRUCT_SIGNATURE = {field: tf.TensorSpec(shape=(), dtype=tf.string) for field in FIELDS}
_FLAN_SIGNATURE = {
    "inputs": tf.TensorSpec(shape=(), dtype=tf.string),
    "targets": tf.TensorSpec(shape=(), dtype=tf.string),
    **{key: tf.TensorSpec(shape=(), dtype=tf.string) for key in METADATA_KEYS},
}


def records_dataset(
    records: Callable[[], Iterator[Mapping[str, str]]],
    signature: Mapping[str, tf.TensorSpec],
    chunk: int | None = None,
) -> tf.data.Dataset:
    """A ``tf.data`` dataset of the dicts a Python generator yields, in order.

    Records cross from Python into tf.data in chunks: ``from_generator``'s cost
    per element (over a millisecond on a 2-core host) dwarfs reading a record
    from a shard (about 20 microseconds), so it is paid once per chunk, and
    the chunks are unbatched again inside tf.data.

    Args:
        records: Called once per pass; yields dicts with the signature's keys.
        signature: Scalar ``tf.TensorSpec`` per key.
        chunk: Records per element handed over (default :data:`_CHUNK`).
    """
    size = chunk or _CHUNK
    fields = list(signature)

    def chunks() -> Iterator[dict[str, list[str]]]:
        batch: list[Mapping[str, str]] = []
        for record in records():
            batch.append(record)
            if len(batch) == size:
                yield {field: [r[field] for r in batch] for field in fields}
                batch = []
        if batch:
            yield {field: [r[field] for r in batch] for field in fields}

    chunked = {
        field: tf.TensorSpec(shape=(None, *spec.shape), dtype=spec.dtype)
        for field, spec in signature.items()
    }
    return tf.data.Dataset.from_generator(chunks, output_signature=chunked).unbatch()


class LocalFileSource(seqio.DataSource):
    """A seqio source whose shards are local files read by a Python reader.

    Malformed records follow ``policy`` (``error`` or ``skip``; ``None`` means
    the gin-configured :func:`flawn.sources.policy.bad_record_policy`), and
    every pass over a file adds its counts to :data:`flawn.sources.policy.LEDGER`.

    Attributes:
        signature: The scalar string features of every record, by name.
        policy: The bad-record policy (``None``: gin's).
    """

    def __init__(
        self,
        split_to_files: Mapping[str, Sequence[str]],
        signature: Mapping[str, tf.TensorSpec],
        num_input_examples: Mapping[str, int] | None = None,
        policy: str | None = None,
    ):
        for split, files in split_to_files.items():
            if not files:
                raise FileNotFoundError(f"no files for split {split!r}")
            for path in files:
                if not os.path.exists(path):
                    raise FileNotFoundError(f"data file {path} does not exist")
        self._split_to_files = {split: list(files) for split, files in split_to_files.items()}
        self.signature = dict(signature)
        # None: read the gin-configured policy when the dataset is built.
        self.policy = policy
        super().__init__(
            splits=tuple(split_to_files),
            num_input_examples=dict(num_input_examples) if num_input_examples else None,
            caching_permitted=True,
        )

    @property
    def supports_arbitrary_sharding(self) -> bool:
        """False: shards are whole files, split across hosts file by file."""
        return False

    def __repr__(self) -> str:
        # Two sources over the same files are the same source; registries rely on this.
        return f"{type(self).__name__}({self._split_to_files!r})"

    def list_shards(self, split: str) -> Sequence[str]:
        """The split's files, in order."""
        return self._split_to_files[split]

    def records(self, path: str) -> Iterator[dict[str, str]]:
        """The records of one shard, as the dataset yields them (under the policy)."""
        raise NotImplementedError

    def get_dataset(
        self,
        split: str = "train",
        shuffle: bool = True,
        seed: int | None = None,
        shard_info: seqio.ShardInfo | None = None,
        *,
        sequence_length: Mapping[str, int] | None = None,  # unused, part of the seqio API
        use_cached: bool = False,  # unused
        num_epochs: int | None = 1,  # unused: the Task repeats
    ) -> tf.data.Dataset:
        """Reads the split's files in order (or in a seeded shuffled order)."""
        del sequence_length, use_cached, num_epochs
        files = list(self.list_shards(split))
        if shard_info:
            if shard_info.num_shards > len(files):
                raise ValueError(
                    f"cannot split {len(files)} files across {shard_info.num_shards} hosts; "
                    "write more shards or use fewer hosts"
                )
            files = files[shard_info.index :: shard_info.num_shards]
        if shuffle:
            random.Random(seed).shuffle(files)

        def generate() -> Iterator[dict[str, str]]:
            for path in files:
                yield from self.records(path)

        return records_dataset(generate, self.signature)


class LawInstructSource(LocalFileSource):
    """LawInstruct ``.jsonl.xz`` shards, yielding the 12 release fields as strings."""

    def __init__(
        self,
        split_to_files: Mapping[str, Sequence[str]],
        num_input_examples: Mapping[str, int] | None = None,
        policy: str | None = None,
    ):
        super().__init__(split_to_files, _LAWINSTRUCT_SIGNATURE, num_input_examples, policy)

    def records(self, path: str) -> Iterator[dict[str, str]]:
        """One dict of the 12 release fields per record."""
        for record in read_shard(path, self.policy):
            yield {field: getattr(record, field) for field in FIELDS}


class FlanSource(LocalFileSource):
    """Flan-style ``inputs``/``targets`` JSONL files, with general metadata filled in.

    Attributes:
        dataset_name: The value of the ``dataset_name`` metadata feature.
        task_source: Keep only records of this Flan submix (``None``: all).
        task_name: Keep only records of this Flan task (``None``: all).
    """

    def __init__(
        self,
        split_to_files: Mapping[str, Sequence[str]],
        dataset_name: str = "Flan",
        num_input_examples: Mapping[str, int] | None = None,
        policy: str | None = None,
        task_source: str | None = None,
        task_name: str | None = None,
    ):
        self.dataset_name = dataset_name
        self.task_source = task_source
        self.task_name = task_name
        super().__init__(split_to_files, _FLAN_SIGNATURE, num_input_examples, policy)

    def __repr__(self) -> str:
        return f"FlanSource({self.task_source}/{self.task_name}, {self._split_to_files!r})"

    def records(self, path: str) -> Iterator[dict[str, str]]:
        """``inputs``/``targets`` and metadata per record of the kept submix and task."""
        for record in read_flan(path, self.policy):
            if self.task_source is not None and record.task_source != self.task_source:
                continue
            if self.task_name is not None and record.task_name != self.task_name:
                continue
            yield {
                "inputs": record.inputs,
                "targets": record.targets,
                "dataset_name": self.dataset_name,
                "subset_name": record.task_source or "general",
                **GENERAL_METADATA,
            }


class ConvertedSource(LocalFileSource):
    """Files in any supported format, converted to ``inputs``/``targets`` plus metadata.

    Args:
        split_to_files: Files per split.
        convert: ``convert(path, policy)`` yields ``(inputs, targets)`` pairs.
        metadata: Constant metadata of every example (the :data:`METADATA_KEYS`).
        description: Shown in ``repr`` (identifies the format and template).
        num_input_examples: Optional example counts per split.
        policy: Bad-record policy.
    """

    def __init__(
        self,
        split_to_files: Mapping[str, Sequence[str]],
        convert: Callable[[str, str | None], Iterator[tuple[str, str]]],
        metadata: Mapping[str, str],
        description: str,
        num_input_examples: Mapping[str, int] | None = None,
        policy: str | None = None,
    ):
        missing = [k for k in METADATA_KEYS if k not in metadata]
        if missing:
            raise ValueError(f"metadata lacks {', '.join(missing)}")
        self._convert = convert
        self._metadata = {k: metadata[k] for k in METADATA_KEYS}
        self._description = description
        super().__init__(split_to_files, _FLAN_SIGNATURE, num_input_examples, policy)

    def __repr__(self) -> str:
        return f"ConvertedSource({self._description}, {self._split_to_files!r})"

    def records(self, path: str) -> Iterator[dict[str, str]]:
        """``inputs``/``targets`` per converted record, with the constant metadata."""
        for inputs, targets in self._convert(path, self.policy):
            yield {"inputs": inputs, "targets": targets, **self._metadata}


class TextSource(LocalFileSource):
    """Raw documents for span corruption: the text goes to ``targets``, metadata alongside.

    Args:
        split_to_files: Files per split.
        text_field: ``text`` (MultiLegalPile) or ``content`` (LaWGPT).
        dataset_name: The ``dataset_name`` metadata value.
        num_input_examples: Optional document counts per split.
        policy: Bad-record policy.
    """

    def __init__(
        self,
        split_to_files: Mapping[str, Sequence[str]],
        text_field: str = "text",
        dataset_name: str = "MultiLegalPile",
        num_input_examples: Mapping[str, int] | None = None,
        policy: str | None = None,
    ):
        self.text_field = text_field
        self.dataset_name = dataset_name
        signature = {
            "targets": tf.TensorSpec(shape=(), dtype=tf.string),
            **{key: tf.TensorSpec(shape=(), dtype=tf.string) for key in METADATA_KEYS},
        }
        super().__init__(split_to_files, signature, num_input_examples, policy)

    def __repr__(self) -> str:
        return f"TextSource({self.text_field!r}, {self._split_to_files!r})"

    def records(self, path: str) -> Iterator[dict[str, str]]:
        """One dict per document: the text under ``targets`` and its metadata."""
        stem = os.path.basename(path).split(".")[0]
        for record in read_text(path, self.text_field, self.policy):
            language = record.language or "unknown"
            yield {
                "targets": record.text,
                "dataset_name": self.dataset_name,
                "subset_name": f"{language}_{record.type}" if record.type else stem,
                "jurisdiction": record.jurisdiction or "N/A",
                "task_type": "PRETRAINING",
                "instruction_language": language,
                "prompt_language": language,
                "answer_language": language,
            }
