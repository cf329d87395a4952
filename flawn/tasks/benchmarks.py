"""Every LegalBench and LawBench task as a seqio.Task with its official metric.

T5X's evaluator (on a TPU pod) and flawn's local runner then score through
the same definitions: the same prompts, the same postprocessing (LegalBench
outputs are cut at the first newline) and the same metric functions.

* ``legalbench.<task>``: splits ``train`` (the few-shot rows of a LegalBench
  checkout) and ``test`` (the official rows, from ``data``). Task names are
  made seqio-safe: characters other than letters, digits and ``_`` become
  ``_`` (``maud_cor_standard_(superior_offer)`` becomes
  ``legalbench.maud_cor_standard__superior_offer_``).
* ``lawbench.<id>.<shot>`` (``lawbench.2_1.zero_shot``): split ``test``.

Sources load their full, untruncated rows when a dataset is built. Prompts
are fitted to the input length by the first preprocessor,
:func:`fit_prompts`, because seqio passes ``sequence_length`` to
preprocessors but not to data sources (``Task.get_dataset`` calls
``source.get_dataset(split, shuffle, seed, shard_info)`` only). LegalBench
prompts follow the item-safe policy of :mod:`flawn.evals.legalbench.prompts`
(earliest demonstrations first, then the description, never the test item; an
item that alone is too long keeps its end); LawBench prompts keep their end
(the question). Either way the ``inputs`` token ids are the ones flawn's local
evaluator feeds the model (:mod:`flawn.evals.runner`), EOS included, and
``inputs_pretokenized`` is the text the model sees (for a prompt cut inside,
the prompt's own end from the first character the kept ids cover). LawBench
rows also keep the whole prompt, ``prompt_pretokenized``, which 2-1's scorer
needs. Without fitting, seqio's own trimming (``append_eos_after_trim``) would
keep the *start* of a long prompt: the description, not the test item.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import sentencepiece
import seqio
import tensorflow as tf

from flawn.errors import FlawnError
from flawn.evals.lawbench import scorers as lawbench_scorers
from flawn.evals.lawbench import tasks as lawbench_tasks
from flawn.evals.legalbench import metrics as legalbench_metrics
from flawn.evals.legalbench.table import task_table
from flawn.evals.legalbench.tasks import LegalBenchExample, LegalBenchTask, load_legalbench
from flawn.tasks.features import text_output_features
from flawn.tasks.metadata import record_metadata
from flawn.tasks.sources import records_dataset

LEGALBENCH_PREFIX = "legalbench."
LAWBENCH_PREFIX = "lawbench."
LAWBENCH_SHOTS = ("zero_shot", "one_shot")


def legalbench_task_name(task: str) -> str:
    """The seqio name of a LegalBench task."""
    return LEGALBENCH_PREFIX + re.sub(r"[^\w]", "_", task)


def lawbench_task_name(task_id: str, shot: str = "zero_shot") -> str:
    """The seqio name of a LawBench task, e.g. ``lawbench.2_1.zero_shot``."""
    return f"{LAWBENCH_PREFIX}{task_id.replace('-', '_')}.{shot}"


#: A LawBench row's whole prompt, before fitting. Task 2-1's scorer reads the
#: sentence to correct from it (a cut prompt may lose the line that marks the
#: sentence, or part of the sentence); the ``_pretokenized`` suffix makes
#: ``t5x.infer`` write it to its output next to ``inputs_pretokenized``.
PROMPT_FEATURE = "prompt_pretokenized"

#: A LegalBench row's columns as JSON: :func:`fit_prompts` rebuilds shorter
#: prompts from them. Internal to the preprocessors; no task output carries it.
FIELDS_FEATURE = "prompt_fields"


def _signature(*extra: str) -> dict[str, tf.TensorSpec]:
    keys = ("inputs", "targets", "idx", *extra)
    return {key: tf.TensorSpec(shape=(), dtype=tf.string) for key in keys}


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _text_of_last_ids(vocabulary, text: str, n_ids: int) -> str:
    """The end of ``text`` that the last ``n_ids`` of its token ids encode.

    A prompt cut inside is shown as its original characters, from the first
    one the kept ids cover, rather than as the ids decoded: decoding normalizes
    (NFKC turns ``：`` into ``:``; T5's vocabularies turn newlines into spaces
    and unknown characters into ``⁇``), and LawBench 2-1's scorer finds the
    sentence to correct after the prompt's exact ``句子：`` line. Vocabularies
    that are not SentencePiece (no character offsets) fall back to decoding.
    """
    tokenizer = getattr(vocabulary, "tokenizer", None)
    if isinstance(tokenizer, sentencepiece.SentencePieceProcessor):
        pieces = tokenizer.encode(text, out_type="proto").pieces
        start = pieces[len(pieces) - n_ids].begin  # a byte offset into the UTF-8 text
        return text.encode("utf-8")[start:].decode("utf-8")
    ids = vocabulary.encode(text)
    return vocabulary.decode(list(ids[len(ids) - n_ids :]))


class _BenchmarkSource(seqio.DataSource):
    """Rows of one benchmark task, read when the dataset is built.

    Rows hold the full prompt; :meth:`fit` makes one fit an input length and
    is called by :func:`fit_prompts`.
    """

    #: String features of the rows besides ``inputs``, ``targets`` and ``idx``.
    extra_features: tuple[str, ...] = ()

    def __init__(self, description: str, splits: Sequence[str], vocabulary):
        self._description = description
        self._vocabulary = vocabulary
        super().__init__(splits=tuple(splits), num_input_examples=None, caching_permitted=False)

    @property
    def supports_arbitrary_sharding(self) -> bool:
        return False

    def list_shards(self, split: str) -> Sequence[str]:
        return [split]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._description})"

    def _rows(self, split: str) -> Iterator[dict[str, str]]:
        raise NotImplementedError

    def fit(self, row: Mapping[str, bytes], input_length: int) -> tuple[str, list[int]]:
        """Fits one row's prompt to ``input_length`` tokens, EOS included.

        Args:
            row: The row's features, as the dataset holds them (UTF-8 bytes).
            input_length: The encoder length (at least 2).

        Returns:
            The text the model sees and its token ids *without* EOS, at most
            ``input_length - 1`` of them (``append_eos_after_trim`` appends EOS).
        """
        raise NotImplementedError

    def get_dataset(
        self,
        split: str = "test",
        shuffle: bool = False,
        seed: int | None = None,
        shard_info: seqio.ShardInfo | None = None,
        *,
        sequence_length: Mapping[str, int] | None = None,
        use_cached: bool = False,
        num_epochs: int | None = 1,
    ) -> tf.data.Dataset:
        """The split's full rows (unshuffled: evaluation order is the benchmark's order).

        ``sequence_length`` is part of seqio's interface only: ``Task.get_dataset``
        never passes it to a source, so prompts are fitted by :func:`fit_prompts`.
        """
        del use_cached, num_epochs, seed, sequence_length
        if split not in self.splits:
            raise FlawnError(f"{self._description} has no {split!r} split")
        rows = list(self._rows(split))
        if shard_info and shard_info.num_shards > 1:
            rows = rows[shard_info.index :: shard_info.num_shards]
        dataset = records_dataset(lambda: iter(rows), _signature(*self.extra_features))
        return dataset.shuffle(len(rows) or 1, seed=0) if shuffle else dataset


class LegalBenchSource(_BenchmarkSource):
    """One LegalBench task: prompts from a checkout, rows from it or from ``data``."""

    extra_features = (FIELDS_FEATURE,)

    def __init__(self, task: str, prompts_dir: str, data: str | None, vocabulary):
        self.task = task
        self._prompts_dir = prompts_dir
        self._data = data
        # The task's template, kept from the last split read (every split shares it).
        self._template: LegalBenchTask | None = None
        splits = ("train", "test") if data else ("train",)
        super().__init__(f"legalbench {task} ({prompts_dir}, data {data})", splits, vocabulary)

    def _rows(self, split: str) -> Iterator[dict[str, str]]:
        data = self._data if split == "test" else None
        loaded = load_legalbench(self._prompts_dir, data, split, [self.task])[0]
        self._template = dataclasses.replace(loaded, examples=())
        for example in loaded.examples:
            yield {
                "inputs": loaded.prompt(example),
                "targets": example.answer,
                "idx": str(example.index),
                FIELDS_FEATURE: json.dumps(example.fields, ensure_ascii=False),
            }

    def fit(self, row: Mapping[str, bytes], input_length: int) -> tuple[str, list[int]]:
        """Fits a prompt by :meth:`LegalBenchTask.fit`, the local evaluator's policy.

        An item that alone does not fit keeps its end (``cut_item_start``): a
        seqio pipeline cannot leave an example out the way ``overflow="skip"``
        does locally.
        """
        if self._template is None:
            raise FlawnError(f"{self}: fit() before any rows were read")
        example = LegalBenchExample(
            index=_text(row["idx"]),
            answer=_text(row["targets"]),
            fields=json.loads(_text(row[FIELDS_FEATURE])),
        )
        fitted = self._template.fit(example, self._vocabulary.encode, input_length)
        ids = list(fitted.ids[:-1])
        if fitted.item_cut:  # fitted.text is the item alone, of which the ids are the end
            return _text_of_last_ids(self._vocabulary, fitted.text, len(ids)), ids
        return fitted.text, ids


class LawBenchSource(_BenchmarkSource):
    """One LawBench task file (zero- or one-shot)."""

    extra_features = (PROMPT_FEATURE,)

    def __init__(self, task_id: str, shot: str, data_dir: str, vocabulary):
        self.task_id = task_id
        self.shot = shot
        self._data_dir = data_dir
        super().__init__(f"lawbench {task_id} {shot} ({data_dir})", ("test",), vocabulary)

    def _rows(self, split: str) -> Iterator[dict[str, str]]:
        for example in lawbench_tasks.load_examples(self.task_id, self.shot, self._data_dir):
            yield {
                "inputs": example.prompt,
                "targets": example.gold,
                "idx": str(example.index),
                PROMPT_FEATURE: example.prompt,
            }

    def fit(self, row: Mapping[str, bytes], input_length: int) -> tuple[str, list[int]]:
        """Keeps the end of the prompt (the question and its options), as the local evaluator.

        The same ids as :func:`flawn.evals.generation.encode_prompt`, which the
        local evaluator uses (that module needs JAX, so it is not imported here).
        """
        text = _text(row["inputs"])
        ids = list(self._vocabulary.encode(text))
        room = input_length - 1  # EOS takes the last position
        if len(ids) <= room:
            return text, ids
        return _text_of_last_ids(self._vocabulary, text, room), ids[len(ids) - room :]


def fit_prompts(
    dataset: tf.data.Dataset,
    sequence_length: Mapping[str, int | None] | None = None,
    *,
    source: _BenchmarkSource,
) -> tf.data.Dataset:
    """Fits every prompt to the input length: the first preprocessor of a benchmark task.

    seqio passes ``sequence_length`` to preprocessors, never to sources. With
    an input length, ``inputs`` becomes the token ids of the fitted prompt
    (:meth:`_BenchmarkSource.fit`, without EOS, which ``append_eos_after_trim``
    then appends without cutting anything) and ``inputs_pretokenized`` the
    text the model sees. The ids are carried rather than tokenized again from
    that text because a prompt cut inside a word does not tokenize back to the
    same ids. Without an input length the rows keep their full prompts, as
    text, for :func:`tokenize_text`. Internal features are dropped either way.

    Args:
        dataset: The source's rows.
        sequence_length: seqio's feature lengths, or ``None``.
        source: The task's source.

    Returns:
        The rows with fitted prompts.

    Raises:
        FlawnError: If the input length is below 2 (no room for a token and EOS).
    """
    internal = {FIELDS_FEATURE} & set(dataset.element_spec)

    def public(example):
        return {k: v for k, v in example.items() if k not in internal}

    length = (sequence_length or {}).get("inputs")
    if length is None:
        return dataset.map(public) if internal else dataset
    if length < 2:
        raise FlawnError(f"{source}: an input length of {length} leaves no room for a prompt")
    keys = sorted(dataset.element_spec)

    def fit_row(*values):
        text, ids = source.fit(dict(zip(keys, values, strict=True)), length)
        return text.encode("utf-8"), np.asarray(ids, dtype=np.int32)

    def fit_example(example):
        text, ids = tf.numpy_function(fit_row, [example[k] for k in keys], (tf.string, tf.int32))
        text.set_shape([])
        ids.set_shape([None])
        return {**public(example), "inputs_pretokenized": text, "inputs": ids}

    return dataset.map(fit_example)


def tokenize_text(dataset: tf.data.Dataset, output_features) -> tf.data.Dataset:
    """Tokenizes the output features that are still text, by seqio's ``tokenize``.

    After :func:`fit_prompts` has fitted them, ``inputs`` are token ids already
    and pass through; ``targets`` (and ``inputs`` when nothing was fitted) are
    tokenized, their text kept as ``<feature>_pretokenized``.
    """
    spec = dataset.element_spec
    text_features = {
        key: feature
        for key, feature in output_features.items()
        if key in spec and spec[key].dtype == tf.string
    }
    return seqio.preprocessors.tokenize(dataset, text_features)


def first_line(output, example=None, is_target: bool = False) -> str:
    """LegalBench's postprocessing: the output up to the first newline, stripped."""
    del example, is_target
    text = output.decode("utf-8") if isinstance(output, bytes) else str(output)
    return text.split("\n", 1)[0].strip()


def legalbench_metric(
    task: str, metric: str, targets: Sequence[str], predictions: Sequence[str]
) -> dict[str, float]:
    """The task's official LegalBench metric, as a seqio metric function."""
    fn = legalbench_metrics.metric_fn(metric, task)
    return {metric: float(fn(list(predictions), list(targets)))}


def lawbench_target(task_id: str, output, example=None, is_target: bool = False):
    """Postprocessing for LawBench: task 2-1's targets carry the prompt (the sentence to fix).

    The prompt is the whole one (:data:`PROMPT_FEATURE`), as the local
    evaluator scores with; an example without it (a ``t5x.infer`` file of an
    older flawn) falls back to ``inputs_pretokenized``, the fitted prompt.
    """
    text = output.decode("utf-8") if isinstance(output, bytes) else str(output)
    if is_target and task_id == "2-1" and example is not None:
        prompt = example.get(PROMPT_FEATURE) or example["inputs_pretokenized"]
        return {
            "gold": text,
            "prompt": prompt.decode("utf-8") if isinstance(prompt, bytes) else prompt,
        }
    return text


def benchmark_preprocessors(source: _BenchmarkSource) -> list:
    """The preprocessors of a benchmark task: fit prompts, tokenize, append EOS."""
    return [
        functools.partial(fit_prompts, source=source),
        tokenize_text,
        seqio.preprocessors.append_eos_after_trim,
    ]


def _add(name, source, vocabulary, postprocess_fn, metric_fns, metadata) -> None:
    if name in seqio.TaskRegistry.names():
        return
    seqio.TaskRegistry.add(
        name,
        source=source,
        preprocessors=benchmark_preprocessors(source),
        output_features=text_output_features(vocabulary),
        postprocess_fn=postprocess_fn,
        metric_fns=metric_fns,
    )
    record_metadata(name, "legal", metadata)


def register_legalbench_tasks(
    prompts_dir: str | os.PathLike,
    vocabulary,
    data: str | os.PathLike | None = None,
    tasks: Sequence[str] | None = None,
) -> list[str]:
    """Registers LegalBench tasks (all automatically scored ones by default).

    Args:
        prompts_dir: A LegalBench checkout (``tasks/<task>/base_prompt.txt`` and ``train.tsv``).
        vocabulary: Vocabulary of inputs and targets.
        data: Official test rows (TSV folders or a parquet export); without it
            only the ``train`` split exists.
        tasks: Task names (default: every task of the table but ``rule_qa``).

    Returns:
        The registered seqio task names.
    """
    table = task_table()
    names = []
    for task in tasks or [
        t for t, info in table.items() if info.metric != legalbench_metrics.MANUAL
    ]:
        info = table[task]
        name = legalbench_task_name(task)
        source = LegalBenchSource(
            task, os.fspath(prompts_dir), os.fspath(data) if data else None, vocabulary
        )
        _add(
            name,
            source,
            vocabulary,
            first_line,
            [functools.partial(legalbench_metric, task, info.metric)],
            {
                "dataset_name": "LegalBench",
                "subset_name": task,
                "jurisdiction": "US",
                "task_type": info.category,
                "prompt_language": "en",
            },
        )
        names.append(name)
    return names


def register_lawbench_tasks(
    data_dir: str | os.PathLike, vocabulary, shots: Sequence[str] = LAWBENCH_SHOTS
) -> list[str]:
    """Registers the 20 LawBench tasks for each setting in ``shots``."""
    names = []
    for task_id, info in lawbench_tasks.task_table().items():
        for shot in shots:
            name = lawbench_task_name(task_id, shot)
            _add(
                name,
                LawBenchSource(task_id, shot, os.fspath(data_dir), vocabulary),
                vocabulary,
                functools.partial(lawbench_target, task_id),
                [lawbench_scorers.seqio_metric(task_id)],
                {
                    "dataset_name": "LawBench",
                    "subset_name": f"{task_id}.{shot}",
                    "jurisdiction": "CHINA",
                    "task_type": info.level,
                    "prompt_language": "zh",
                },
            )
            names.append(name)
    return names
