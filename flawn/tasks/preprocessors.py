"""Text preprocessors that turn raw records into ``inputs``/``targets``."""

from __future__ import annotations

import json
import os

import gin
import tensorflow as tf

from flawn.errors import ConfigError
from flawn.sources.lawinstruct import BANK_FILE_NAME
from flawn.tasks.features import METADATA_KEYS

#: How the instruction and the prompt are joined into the model input.
DEFAULT_JOINER = "\n\n"


def load_instruction_bank(path: str | os.PathLike) -> dict[str, dict[str, list[str]]]:
    """Reads an instruction bank: ``{subset: {language: [paraphrase, ...]}}``.

    Index 0 of each list is the canonical instruction.

    Raises:
        ConfigError: Naming the file and entry if the structure is wrong.
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8") as f:
        bank = json.load(f)
    if not isinstance(bank, dict):
        raise ConfigError(
            f"{path}: an instruction bank maps subsets to {{language: [paraphrases]}}"
        )
    for subset, by_language in bank.items():
        if not isinstance(by_language, dict):
            raise ConfigError(f"{path}: entry {subset!r} must map languages to lists")
        for language, paraphrases in by_language.items():
            if not paraphrases or not all(isinstance(p, str) and p.strip() for p in paraphrases):
                raise ConfigError(f"{path}: {subset}/{language} needs non-empty paraphrases")
    return bank


def _bank_table(bank: dict[str, dict[str, list[str]]], bank_size: int, path: str):
    short = [
        f"{subset}/{language} ({len(paraphrases)})"
        for subset, by_language in bank.items()
        for language, paraphrases in by_language.items()
        if len(paraphrases) < bank_size
    ]
    if short:
        raise ConfigError(
            f"instruction bank {path} has fewer than {bank_size} paraphrases for: "
            f"{', '.join(short)}; lower bank_size"
        )
    keys, values = [], []
    for subset, by_language in bank.items():
        for language, paraphrases in by_language.items():
            for index, text in enumerate(paraphrases[:bank_size]):
                keys.append(f"{subset}\t{language}\t{index}")
                values.append(text)
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(keys, values), default_value=""
    )


@gin.configurable(denylist=["dataset", "folder_bank"])
def format_lawinstruct(
    dataset: tf.data.Dataset,
    joiner: str = DEFAULT_JOINER,
    bank_size: int = 0,
    instruction_bank: str | None = None,
    instruction_language: str | None = None,
    folder_bank: str | None = None,
) -> tf.data.Dataset:
    r"""Builds ``inputs`` = instruction + joiner + prompt and ``targets`` = answer.

    A record with an empty prompt uses the instruction alone. The metadata
    fields are kept; the provenance-only fields (source, timestamp) are dropped.
    All parameters are read when the dataset is built, so gin bindings such as
    ``format_lawinstruct.bank_size = 5`` apply to tasks registered earlier.

    Args:
        dataset: LawInstruct records (all 12 fields).
        joiner: The text placed between instruction and prompt.
        bank_size: 0 keeps each record's own instruction. ``k > 0`` replaces it
            by one of the first ``k`` paraphrases of the subset's bank, chosen by
            a hash of the prompt (so each example always gets the same one);
            ``k = 1`` is the canonical instruction. The LawInstruct ablation
            uses k in {1, 2, 5, 10}.
        instruction_bank: JSON bank file (see :func:`load_instruction_bank`);
            ``None`` means ``folder_bank``, else the bundled sample bank.
        instruction_language: Language of the paraphrases (e.g. ``de``);
            ``None`` keeps each record's instruction language.
        folder_bank: The bank found beside the task's shards (set when the
            task is registered, see :data:`flawn.sources.lawinstruct.BANK_FILE_NAME`).

    Returns:
        A dataset of ``inputs``, ``targets`` and the metadata features.

    Raises:
        ConfigError: If the bank lacks enough paraphrases; a subset or
            language missing from the bank stops the pipeline with its key.
    """
    if bank_size < 0:
        raise ConfigError(f"format_lawinstruct.bank_size must be >= 0, got {bank_size}")
    table = None
    if bank_size:
        from flawn import paths  # deferred: avoids an import cycle at package import

        path = (
            instruction_bank
            or folder_bank
            or str(paths.SAMPLE_DATA_DIR / "lawinstruct" / BANK_FILE_NAME)
        )
        table = _bank_table(load_instruction_bank(path), bank_size, path)

    def format_one(features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        instruction = features["instruction"]
        out = {key: features[key] for key in METADATA_KEYS}
        if table is not None:
            language = (
                tf.constant(instruction_language)
                if instruction_language
                else features["instruction_language"]
            )
            index = tf.strings.to_hash_bucket_fast(features["prompt"], bank_size)
            key = tf.strings.join(
                [features["subset_name"], language, tf.strings.as_string(index)], separator="\t"
            )
            instruction = table.lookup(key)
            shown = tf.strings.join(
                [features["subset_name"], language, tf.strings.as_string(index)], separator="/"
            )
            check = tf.debugging.Assert(
                tf.strings.length(instruction) > 0,
                [
                    f"instruction bank {path} has no paraphrase for subset/language/index",
                    shown,
                    "(add it to the bank, or bind format_lawinstruct.instruction_bank to a "
                    "bank that covers the data)",
                ],
            )
            with tf.control_dependencies([check]):
                instruction = tf.identity(instruction)
            out["instruction_language"] = language
        prompt = features["prompt"]
        inputs = tf.cond(
            tf.strings.length(tf.strings.strip(prompt)) > 0,
            lambda: tf.strings.join([instruction, prompt], separator=joiner),
            lambda: instruction,
        )
        out.update({"inputs": inputs, "targets": features["answer"]})
        return out

    return dataset.map(format_one, num_parallel_calls=tf.data.AUTOTUNE)


#: Feature naming the task an example came from; it survives mixing (as a
#: passthrough feature), which is how realised per-source counts are measured.
SOURCE_TASK_KEY = "source_task"


def add_source_task(dataset: tf.data.Dataset, task_name: str) -> tf.data.Dataset:
    """Adds the constant string feature ``source_task`` = ``task_name`` to every example."""
    return dataset.map(
        lambda ex: {**ex, SOURCE_TASK_KEY: tf.constant(task_name)},
        num_parallel_calls=tf.data.AUTOTUNE,
    )
