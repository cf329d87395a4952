"""Registering LawInstruct subsets and Flan files as seqio tasks."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence

import seqio

from flawn import paths
from flawn.errors import ConfigError
from flawn.sources.alpaca import PLAIN_TEMPLATE, PromptTemplate, read_alpaca
from flawn.sources.counting import usable_examples
from flawn.sources.flan import read_flan
from flawn.sources.lawinstruct import BANK_FILE_NAME, METADATA_FIELDS, find_shards, read_shard
from flawn.sources.rawtext import read_text
from flawn.sources.sharegpt import conversation_examples, read_sharegpt
from flawn.tasks.features import GENERAL_METADATA, text_output_features
from flawn.tasks.metadata import record_metadata
from flawn.tasks.preprocessors import add_source_task, format_lawinstruct
from flawn.tasks.sources import ConvertedSource, FlanSource, LawInstructSource, TextSource
from flawn.tasks.span_corruption import span_corruption
from flawn.vocab import load_vocabulary

#: Prefix of the bundled sample tasks.
SAMPLE_LAWINSTRUCT_PREFIX = "sample_lawinstruct."
SAMPLE_GENERAL_TASK = "sample_flan.general"
#: Prefix of the bundled MultiLegalPile-style pretraining tasks.
SAMPLE_PRETRAINING_PREFIX = "sample_mlp."
#: The bundled instruction banks (paraphrases per subset and language).
SAMPLE_INSTRUCTION_BANKS = paths.SAMPLE_DATA_DIR / "lawinstruct" / BANK_FILE_NAME
#: Prefix of the bundled per-submix Flan tasks, ``sample_flan.<submix>.<task>``.
SAMPLE_FLAN_PREFIX = "sample_flan"


#: Steps every text task ends with: tokenize, the cache point, then EOS.
_POSTPROCESSING = (
    seqio.preprocessors.tokenize,
    seqio.CacheDatasetPlaceholder(),
    seqio.preprocessors.append_eos_after_trim,
)


def default_shuffle_buffer_size() -> int:
    """Seqio's shuffle buffer (1000 examples), or ``FLAWN_SHUFFLE_BUFFER_SIZE`` when set.

    Filling a task's buffer is what a pipeline spends its first seconds on
    (about a second per task on a CPU); the test suite sets a small buffer so
    that each of its many short trainings starts quickly. Real runs keep seqio's.

    Raises:
        ConfigError: If the variable is set to anything but a positive integer.
    """
    text = os.environ.get("FLAWN_SHUFFLE_BUFFER_SIZE", "").strip()
    if not text:
        return seqio.SHUFFLE_BUFFER_SIZE
    if not text.isdigit() or int(text) <= 0:
        raise ConfigError(f"FLAWN_SHUFFLE_BUFFER_SIZE must be a positive integer, got {text!r}")
    return int(text)


def add_task(
    name: str,
    source: seqio.DataSource,
    preprocessors: list,
    vocabulary,
    postprocessing: Sequence = _POSTPROCESSING,
    shuffle_buffer_size: int | None = None,
) -> seqio.Task:
    """Registers a flawn text task: ``preprocessors``, ``source_task``, then ``postprocessing``.

    Args:
        name: The task name.
        source: Its seqio data source.
        preprocessors: Steps that produce ``inputs``/``targets`` (and metadata).
        vocabulary: Vocabulary of both features.
        postprocessing: Tokenize, cache point, EOS (or a custom sequence, e.g.
            with span corruption).
        shuffle_buffer_size: Examples in seqio's shuffle buffer. By default
            seqio's 1000, but at most one epoch when the source knows its train
            size: seqio shuffles after repeating, so a larger buffer only
            re-preprocesses a small task many times before its first example.

    Returns:
        The task (an identical re-registration returns the existing one).

    Raises:
        ValueError: If the name is taken by a task over a different source.
    """
    if shuffle_buffer_size is None:
        size = source.num_input_examples("train") if "train" in source.splits else None
        cap = default_shuffle_buffer_size()
        shuffle_buffer_size = min(cap, size) if size else cap
    if name in seqio.TaskRegistry.names():
        # Re-registering the identical definition (e.g. a module re-import) is harmless;
        # anything else would silently change what a name means, so refuse it.
        existing = seqio.TaskRegistry.get(name)
        if repr(existing.source) == repr(source):
            return existing
        raise ValueError(f"task {name!r} is already registered with a different source")
    return seqio.TaskRegistry.add(
        name,
        source=source,
        shuffle_buffer_size=shuffle_buffer_size or default_shuffle_buffer_size(),
        preprocessors=[
            *preprocessors,
            functools.partial(add_source_task, task_name=name),
            *postprocessing,
        ],
        output_features=text_output_features(vocabulary),
        metric_fns=[],
    )


def register_lawinstruct_subset(
    name: str,
    shard_dir: str | os.PathLike,
    subset_name: str,
    vocabulary: seqio.Vocabulary,
    splits: Sequence[str] = ("train",),
    num_examples: Mapping[str, int] | None = None,
    policy: str | None = None,
    metadata: Mapping[str, str] | None = None,
    dataset_name: str | None = None,
    shuffle_buffer_size: int | None = None,
) -> seqio.Task:
    """Registers one LawInstruct subset, read from local shards, as a seqio task.

    Args:
        name: The task name.
        shard_dir: Folder holding ``{Dataset}-{subset}-{split}-{i}.jsonl.xz`` files,
            and optionally the instruction bank of its subsets
            (:data:`~flawn.sources.lawinstruct.BANK_FILE_NAME`), which then
            serves ``format_lawinstruct.bank_size`` unless gin binds a bank.
        subset_name: The subset to read.
        vocabulary: Vocabulary of ``inputs`` and ``targets``.
        splits: Splits to register; each must have at least one shard.
        num_examples: Optional example counts per split (used by
            examples-proportional mixing).
        policy: Bad-record policy, ``error`` or ``skip`` (``None``: the
            gin-configured default).
        metadata: The subset's metadata fields (``jurisdiction``, ``task_type``,
            languages, ``licence``...); by default the metadata fields of the
            first record of the first shard.
        dataset_name: Only this dataset's shards (needed when several datasets
            share the subset name, e.g. ``MainSubset``).
        shuffle_buffer_size: See :func:`add_task`.

    Returns:
        The registered task.

    Raises:
        FileNotFoundError: If a split has no shards in ``shard_dir``.
    """
    split_to_files = {}
    for split in splits:
        files = find_shards(shard_dir, subset_name, split, dataset_name)
        if not files:
            raise FileNotFoundError(
                f"no {split} shards for subset {subset_name!r} in {shard_dir} "
                f"(expected files like <Dataset>-{subset_name}-{split}-0.jsonl.xz)"
            )
        split_to_files[split] = files
    source = LawInstructSource(split_to_files, num_input_examples=num_examples, policy=policy)
    formatter = format_lawinstruct
    bank = os.path.join(os.fspath(shard_dir), BANK_FILE_NAME)
    if os.path.isfile(bank):
        formatter = functools.partial(format_lawinstruct, folder_bank=bank)
    task = add_task(name, source, [formatter], vocabulary, shuffle_buffer_size=shuffle_buffer_size)
    if metadata is None:
        first = next(read_shard(split_to_files[splits[0]][0], policy="skip"), None)
        metadata = {field: getattr(first, field) for field in METADATA_FIELDS} if first else {}
    record_metadata(name, "legal", metadata)
    return task


def register_flan_file(
    name: str,
    files: Sequence[str],
    vocabulary: seqio.Vocabulary,
    dataset_name: str = "Flan",
    num_examples: int | None = None,
) -> seqio.Task:
    """Registers Flan-style JSONL files (train split) as a seqio task.

    Args:
        name: The task name.
        files: ``inputs``/``targets`` JSONL files, optionally compressed.
        vocabulary: Vocabulary of ``inputs`` and ``targets``.
        dataset_name: Value of the ``dataset_name`` metadata feature.
        num_examples: Optional number of training examples.

    Returns:
        The registered task.
    """
    source = FlanSource(
        {"train": list(files)},
        dataset_name=dataset_name,
        num_input_examples={"train": num_examples} if num_examples else None,
    )
    task = add_task(name, source, [], vocabulary)
    record_metadata(name, "general", {"dataset_name": dataset_name, **GENERAL_METADATA})
    return task


def register_bundled_samples(sample_dir: str | os.PathLike = paths.SAMPLE_DATA_DIR) -> list[str]:
    """Registers every bundled sample source as a task.

    Args:
        sample_dir: A folder written by :func:`flawn.samples.writer.write_samples`.

    Returns:
        The names of the registered tasks.
    """
    sample_dir = os.fspath(sample_dir)
    manifest_path = os.path.join(sample_dir, "MANIFEST.json")
    if not os.path.exists(manifest_path):
        raise FileNotFoundError(
            f"{manifest_path} is missing; run `flawn samples write` to regenerate the sample data"
        )
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    vocabulary = load_vocabulary(os.path.join(sample_dir, manifest["vocab"]))

    counts: dict[str, int] = {}
    for shard, count in manifest["lawinstruct"].items():
        subset = shard.split("-")[1]
        counts[subset] = counts.get(subset, 0) + count
    names = []
    for subset, count in sorted(counts.items()):
        task = register_lawinstruct_subset(
            SAMPLE_LAWINSTRUCT_PREFIX + subset,
            os.path.join(sample_dir, "lawinstruct"),
            subset,
            vocabulary,
            num_examples={"train": count},
        )
        names.append(task.name)
    flan_files = [os.path.join(sample_dir, "flan", name) for name in sorted(manifest["flan"])]
    general = register_flan_file(
        SAMPLE_GENERAL_TASK, flan_files, vocabulary, num_examples=sum(manifest["flan"].values())
    )
    names.append(general.name)
    for tasks in register_flan_tasks(SAMPLE_FLAN_PREFIX, flan_files, vocabulary).values():
        names.extend(tasks)
    for file_name in sorted(manifest.get("multilegalpile", {})):
        stem = file_name.split("_train")[0]
        task = register_pretraining_text(
            f"{SAMPLE_PRETRAINING_PREFIX}{stem}",
            [os.path.join(sample_dir, "multilegalpile", file_name)],
            vocabulary,
        )
        names.append(task.name)
    return names


def sample_lawinstruct_tasks() -> list[str]:
    """Returns the names of the registered bundled LawInstruct sample tasks, sorted."""
    return sorted(n for n in seqio.TaskRegistry.names() if n.startswith(SAMPLE_LAWINSTRUCT_PREFIX))


def _files_and_count(
    files: Sequence[str], read, reader: str, policy: str | None
) -> tuple[list[str], int]:
    """The files and their usable examples, counted through the policy (flawn.sources.counting)."""
    files = _existing(files)
    return files, usable_examples(files, read, reader, policy)


def _existing(files: Sequence[str]) -> list[str]:
    files = [os.fspath(f) for f in files]
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        raise FileNotFoundError(f"data file(s) not found: {', '.join(missing)}")
    return files


def register_alpaca_file(
    name: str,
    files: Sequence[str],
    vocabulary: seqio.Vocabulary,
    metadata: Mapping[str, str],
    template: PromptTemplate = PLAIN_TEMPLATE,
    kind: str = "legal",
    policy: str | None = None,
) -> seqio.Task:
    """Registers Alpaca-style files (JSON array or JSONL) as a seqio task (train split).

    Args:
        name: The task name.
        files: The files.
        vocabulary: Vocabulary of ``inputs`` and ``targets``.
        metadata: The :data:`METADATA_FIELDS` of every example (dataset name,
            jurisdiction, task type, languages...).
        template: How instruction and input become ``inputs``
            (e.g. LaWGPT's ``law_template.json`` via ``load_prompt_template``).
        kind: ``legal`` or ``general``.
        policy: Bad-record policy.

    Returns:
        The registered task (its example count is read from the files).
    """

    def convert(path: str, policy: str | None):
        for record in read_alpaca(path, policy):
            yield template.render(record.instruction, record.input), record.output

    files, count = _files_and_count(files, read_alpaca, "alpaca", policy)
    source = ConvertedSource(
        {"train": files},
        convert,
        metadata,
        f"alpaca, template {template.description!r}",
        {"train": count},
        policy,
    )
    task = add_task(name, source, [], vocabulary)
    record_metadata(name, kind, metadata)
    return task


def register_sharegpt_file(
    name: str,
    files: Sequence[str],
    vocabulary: seqio.Vocabulary,
    metadata: Mapping[str, str],
    kind: str = "legal",
    policy: str | None = None,
) -> seqio.Task:
    """Registers ShareGPT-style conversations: one example per assistant turn.

    Args:
        name: The task name.
        files: The files (JSON array or JSONL of ``{"conversations": [...]}``).
        vocabulary: Vocabulary of ``inputs`` and ``targets``.
        metadata: The :data:`METADATA_FIELDS` of every example.
        kind: ``legal`` or ``general``.
        policy: Bad-record policy.

    Returns:
        The registered task (its example count is the number of assistant turns).
    """

    def convert(path: str, policy: str | None):
        for conversation in read_sharegpt(path, policy):
            yield from conversation_examples(conversation)

    def read_examples(path: str, policy: str | None, stats):
        for conversation in read_sharegpt(path, policy, stats):
            yield from conversation_examples(conversation)

    files, total = _files_and_count(files, read_examples, "sharegpt_turns", policy)
    source = ConvertedSource(
        {"train": files}, convert, metadata, "sharegpt", {"train": total}, policy
    )
    task = add_task(name, source, [], vocabulary)
    record_metadata(name, kind, metadata)
    return task


def register_pretraining_text(
    name: str,
    files: Sequence[str],
    vocabulary: seqio.Vocabulary,
    text_field: str = "text",
    dataset_name: str = "MultiLegalPile",
    metadata: Mapping[str, str] | None = None,
    policy: str | None = None,
) -> seqio.Task:
    """Registers raw legal text as a T5 span-corruption task (continued pretraining).

    The corruption rate and span length are gin parameters of
    :func:`flawn.tasks.span_corruption.span_corruption`.

    Args:
        name: The task name.
        files: JSONL (or JSON array) files of documents.
        vocabulary: The vocabulary; its last 100 ids are the sentinels.
        text_field: ``text`` (MultiLegalPile) or ``content`` (LaWGPT).
        dataset_name: The ``dataset_name`` metadata value.
        metadata: Metadata recorded for grouping (default: from the first document).
        policy: Bad-record policy.

    Returns:
        The registered task (its example count is the number of documents).
    """
    files, count = _files_and_count(
        files,
        lambda path, policy, stats: read_text(path, text_field, policy, stats),
        f"text:{text_field}",
        policy,
    )
    source = TextSource({"train": files}, text_field, dataset_name, {"train": count}, policy)
    postprocessing = (
        seqio.preprocessors.tokenize,
        seqio.CacheDatasetPlaceholder(),
        span_corruption,
        seqio.preprocessors.append_eos_after_trim,
    )
    task = add_task(name, source, [], vocabulary, postprocessing)
    if metadata is None:
        first = next(read_text(files[0], text_field, "skip"), None)
        metadata = {
            "dataset_name": dataset_name,
            "jurisdiction": first.jurisdiction or "N/A",
            "task_type": "PRETRAINING",
            "prompt_language": first.language or "unknown",
        }
    record_metadata(name, "pretraining", metadata)
    return task


def register_flan_tasks(
    prefix: str,
    files: Sequence[str],
    vocabulary: seqio.Vocabulary,
    dataset_name: str = "Flan",
) -> dict[str, list[str]]:
    """Registers one task per (submix, task) found in Flan-style files.

    Records are grouped by their ``task_source`` (the Flan 2022 submix:
    ``flan2021``, ``t0``, ``niv2``, ``cot``, ``dialog``) and ``task_name``;
    each group becomes the task ``<prefix>.<task_source>.<task_name>`` with
    its exact example count (the files are scanned once).

    Returns:
        ``{submix: [task names]}``.
    """
    files = _existing(files)
    counts: dict[tuple[str, str], int] = {}
    for path in files:
        for record in read_flan(path):
            key = (record.task_source or "unknown", record.task_name or "unknown")
            counts[key] = counts.get(key, 0) + 1
    by_submix: dict[str, list[str]] = {}
    for (submix, task_name), count in sorted(counts.items()):
        name = f"{prefix}.{submix}.{task_name}"
        source = FlanSource(
            {"train": files},
            dataset_name=dataset_name,
            num_input_examples={"train": count},
            task_source=submix,
            task_name=task_name,
        )
        add_task(name, source, [], vocabulary)
        record_metadata(
            name,
            "general",
            {
                "dataset_name": dataset_name,
                "subset_name": submix,
                "flan_task": task_name,
                **GENERAL_METADATA,
            },
        )
        by_submix.setdefault(submix, []).append(name)
    return by_submix
