"""Synthetic shards for every catalog subset, at a scaled-down size of the release.

:func:`write_catalog_shards` writes ``{Dataset}-{subset}-train-{i}.jsonl.xz``
files with the 12 release fields for all 148 subsets of the LawInstruct
catalog (or a chosen few), so the code that reads, registers and mixes the
real release can be exercised and timed at its real breadth without the data:

* per-subset example counts are the release's scaled by ``scale`` and
  rounded, raised to ``min_examples`` but never above the release's count;
* prompt and answer lengths (in whitespace-separated words) are drawn from a
  log-normal around the catalog's ``prompt_words_mean`` / ``answer_words_mean``
  (an empty prompt where the mean is 0, at least one answer word);
* dataset, subset, jurisdiction, task type and prompt/answer languages come
  from the catalog, drawn in proportion to its per-value counts; where a
  subset's answers share the prompts' languages, each answer takes its
  prompt's language;
* the words are synthetic: English legal vocabulary for ``en``, pseudo-words
  in the language's script otherwise (runs of characters for scripts written
  without spaces), NER-style tags for ``zxx``. Instructions are English.

Everything is drawn from a ``random.Random`` seeded by ``seed`` and the
subset, so the same arguments write byte-identical files, and writing a
subset alone gives the same file as writing it among all others.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import random
from collections.abc import Collection, Iterator

from flawn.catalog import Catalog, Subset, load_catalog
from flawn.samples.catalog_banks import catalog_instruction_bank
from flawn.sources.lawinstruct import BANK_FILE_NAME, LawInstructRecord, shard_name, write_shard

#: Written into every record's ``source`` field.
CATALOG_SHARD_SOURCE = "synthetic catalog shard written by flawn.samples.catalog_shards"

#: Fixed so the shards are reproducible (release format: MM-DD-YYYY).
CATALOG_SHARD_TIMESTAMP = "11-01-2026"

#: Name of the manifest written next to the shards.
MANIFEST_NAME = "catalog_shards.json"

#: Spread (sigma of the underlying normal) of the log-normal word counts.
LENGTH_SIGMA = 0.5

# Legal-sounding English words; every distinct word is drawn with equal probability.
_ENGLISH_TEXT = (
    "the court held that a party may not rely on any clause of contract where notice was "
    "given after period had expired under applicable statute and plaintiff claimed "
    "damages for breach duty while defendant argued agreement void lack consideration or "
    "because tribunal no jurisdiction over dispute between tenant landlord concerning "
    "lease property judgment lower reversed appeal case remanded further proceedings "
    "consistent with this opinion regarding liability negligence evidence witness "
    "testimony regulation article section paragraph provision obligation right remedy "
    "injunction settlement arbitration privacy data controller processor consent "
    "employee employer wages termination"
)
_ENGLISH_WORDS: tuple[str, ...] = tuple(dict.fromkeys(_ENGLISH_TEXT.split()))

#: Alphabets of the scripts the catalog's languages use (Latin is the default).
_SCRIPTS = {
    "greek": "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώ",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщъьюя",
    "han": "法律条款合同当事人权利义务判决院原告被告责任赔偿规定适用案件证据刑事民事罪名审理",
    "japanese": "のにはをたがでてとしれさあいうえおかきくけこ法律判決裁判所契約権利義務",
    "hangul": "법률조항계약당사자권리의무판결원고피고책임배상규정적용사건증거형사민사",
    "thai": "กขคงจฉชซญดตถทธนบปผพฟภมยรลวศษสหอฮะาิีึืุูเแโใไ",
    "latin": "abcdefghijklmnopqrstuvwxyzáéíóúàèìòùäöüçñ",
}
_LANGUAGE_SCRIPT = {
    "el": "greek",
    "bg": "cyrillic",
    "zh": "han",
    "ja": "japanese",
    "ko": "hangul",
    "th": "thai",
}
# Scripts written without spaces: a "word" of the release statistics is a run
# of characters between spaces, so it is long.
_UNSPACED = {"han": (8, 30), "japanese": (8, 30), "thai": (6, 20)}
_NER_TAGS = ("O", "B-ORG", "I-ORG", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-LAW", "I-LAW")

_INSTRUCTIONS = {
    "TEXT_CLASSIFICATION": "Classify the following legal text from {jurisdiction}.",
    "QUESTION_ANSWERING": "Answer the following legal question ({jurisdiction}).",
    "MULTIPLE_CHOICE": "Choose the correct answer to this legal question ({jurisdiction}).",
    "NATURAL_LANGUAGE_INFERENCE": "Does the premise entail the hypothesis? ({jurisdiction})",
    "SUMMARIZATION": "Summarize the following legal document from {jurisdiction}.",
    "TEXT_GENERATION": "Write the requested legal text ({jurisdiction}).",
    "QUESTION_GENERATION": "Write a legal question answered by this passage ({jurisdiction}).",
    "ARGUMENTATION": "Write a counter-argument to the following position ({jurisdiction}).",
    "NAMED_ENTITY_RECOGNITION": "Tag each token with its named-entity type ({jurisdiction}).",
}
_DEFAULT_INSTRUCTION = "Solve the following legal task ({jurisdiction})."


def _pseudo_words(script: str, count: int = 300) -> tuple[str, ...]:
    rng = random.Random(f"flawn-words:{script}")
    letters = _SCRIPTS[script]
    low, high = _UNSPACED.get(script, (2, 10))
    return tuple("".join(rng.choices(letters, k=rng.randint(low, high))) for _ in range(count))


_WORD_BANKS: dict[str, tuple[str, ...]] = {"en": _ENGLISH_WORDS, "zxx": _NER_TAGS}


def _word_bank(language: str) -> tuple[str, ...]:
    if language not in _WORD_BANKS:
        _WORD_BANKS[language] = _pseudo_words(_LANGUAGE_SCRIPT.get(language, "latin"))
    return _WORD_BANKS[language]


def scaled_count(subset: Subset, scale: float, min_examples: int) -> int:
    """Returns how many examples of ``subset`` to write.

    ``round(examples * scale)``, raised to ``min_examples``, capped at the
    release's own count (a subset never gets more examples than it has).
    """
    return min(subset.examples, max(min_examples, round(subset.examples * scale)))


def _word_count(rng: random.Random, mean: float, minimum: int, max_words: int | None) -> int:
    if mean <= 0:
        return minimum
    mu = math.log(mean) - LENGTH_SIGMA**2 / 2  # so that the mean is `mean`
    count = max(minimum, 1, round(rng.lognormvariate(mu, LENGTH_SIGMA)))
    return min(count, max_words) if max_words else count


def _draw(rng: random.Random, counts: tuple[tuple[str, int], ...]) -> str:
    if len(counts) == 1:
        return counts[0][0]
    values, weights = zip(*counts, strict=True)
    return rng.choices(values, weights=weights)[0]


def _text(rng: random.Random, language: str, words: int) -> str:
    return " ".join(rng.choices(_word_bank(language), k=words))


def synthetic_records(
    subset: Subset, count: int, seed: int = 0, max_words: int | None = None
) -> Iterator[LawInstructRecord]:
    """Yields ``count`` synthetic records of one catalog subset.

    Args:
        subset: The catalog subset whose metadata and lengths to follow.
        count: Number of records.
        seed: Seed of the draws (combined with the subset's key).
        max_words: Optional cap on prompt and answer lengths in words.
    """
    rng = random.Random(f"{seed}:{subset.key}")
    answer_languages = dict(subset.answer_language_counts)
    paired = len(answer_languages) > 1 and set(answer_languages) <= set(subset.prompt_languages)
    for _ in range(count):
        jurisdiction = _draw(rng, subset.jurisdiction_counts)
        task_type = _draw(rng, subset.task_type_counts)
        prompt_language = _draw(rng, subset.prompt_language_counts)
        if paired and prompt_language in answer_languages:
            answer_language = prompt_language
        else:
            answer_language = _draw(rng, subset.answer_language_counts)
        prompt_words = _word_count(rng, subset.prompt_words_mean, 0, max_words)
        answer_words = _word_count(rng, subset.answer_words_mean, 1, max_words)
        template = _INSTRUCTIONS.get(task_type, _DEFAULT_INSTRUCTION)
        yield LawInstructRecord(
            dataset_name=subset.dataset_name,
            subset_name=subset.subset_name,
            source=CATALOG_SHARD_SOURCE,
            instruction_language="en",
            prompt_language=prompt_language,
            answer_language=answer_language,
            jurisdiction=jurisdiction,
            task_type=task_type,
            downloaded_timestamp=CATALOG_SHARD_TIMESTAMP,
            instruction=template.format(jurisdiction=jurisdiction),
            prompt=_text(rng, prompt_language, prompt_words),
            answer=_text(rng, answer_language, answer_words),
        )


def write_catalog_shards(
    out_dir: str | os.PathLike,
    scale: float = 1e-4,
    min_examples: int = 4,
    seed: int = 0,
    subsets: Collection[str] | Catalog | None = None,
    shard_size: int = 1000,
    max_words: int | None = None,
    catalog: Catalog | None = None,
) -> dict[str, int]:
    """Writes synthetic release-format shards for catalog subsets.

    Also writes ``catalog_shards.json`` (:data:`MANIFEST_NAME`): the arguments
    and the record count of every shard; and the instruction bank of the
    written subsets (:data:`~flawn.sources.lawinstruct.BANK_FILE_NAME`, see
    :mod:`flawn.samples.catalog_banks`), which tasks registered from the
    folder use for ``format_lawinstruct.bank_size``.

    Args:
        out_dir: Destination folder (created if needed).
        scale: Fraction of each subset's release count to write.
        min_examples: Floor of each subset's count (capped at its release count).
        seed: Seed of every draw.
        subsets: Catalog names (or a :class:`Catalog`) to write; ``None``: all.
        shard_size: Records per shard; larger subsets get several shards.
        max_words: Optional cap on prompt and answer lengths, in words.
        catalog: The catalog to follow; the bundled one by default.

    Returns:
        ``{shard file name: record count}``, in writing order.

    Raises:
        RegistryError: If a name in ``subsets`` is not in the catalog.
        ValueError: For a non-positive scale, shard size or minimum.
    """
    if not scale > 0 or shard_size <= 0 or min_examples <= 0:
        raise ValueError("scale, shard_size and min_examples must be positive")
    catalog = catalog or load_catalog()
    if subsets is None:
        chosen = catalog
    elif isinstance(subsets, Catalog):
        chosen = subsets
    else:
        chosen = catalog.select(subsets)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for subset in chosen:
        records = list(
            synthetic_records(subset, scaled_count(subset, scale, min_examples), seed, max_words)
        )
        for index, start in enumerate(range(0, len(records), shard_size)):
            name = shard_name(subset.dataset_name, subset.subset_name, "train", index)
            written[name] = write_shard(out / name, records[start : start + shard_size])
    bank = catalog_instruction_bank(chosen, _INSTRUCTIONS, _DEFAULT_INSTRUCTION)
    (out / BANK_FILE_NAME).write_text(
        json.dumps(bank, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    manifest = {
        "scale": scale,
        "min_examples": min_examples,
        "seed": seed,
        "max_words": max_words,
        "shards": written,
    }
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return written
