"""Typed settings of ``flawn data clean``; each dataclass validates itself.

The settings are part of a cleaned copy's identity: :meth:`CleanConfig.as_dict`
goes into the content hash that names the output folder and into its report.
"""

from __future__ import annotations

import dataclasses
import os

from flawn.errors import ConfigError

#: Benchmarks the decontamination check knows.
BENCHMARKS = ("legalbench", "lawbench")
#: Decontamination defaults (DecontaminationConfig), measured with bench/decontamination.py.
#: LawBench asks about the same CAIL2018 case in up to four tasks (3-1, 3-3, 3-4, 3-5), each
#: time in a different text, so a window in four texts can still be one item's content; the
#: stock governing-law clause of LegalBench's contract tasks is in five.
STOP_TEXTS = 4
#: Ten shared 13-grams: a common span of at least 22 words (about 35 Chinese characters).
#: LawBench's model answers to consultation questions, which quote statutes, are flagged 6 of
#: 448 times at 5 and 2 at 10; halves of long items are caught alike at 5 and 10.
MIN_SHARED = 10
#: A short item copied whole shares all its windows; at 0.5 a contract clause that shares
#: only "... the laws of the state of" with a LegalBench item (2 of its 3 windows) counts.
MIN_COVERAGE = 0.8
#: Which text of an example the language identifier reads.
LANGUAGE_FIELDS = ("text", "prompt", "answer")


def _positive(owner: str, name: str, value: int | float | None, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if value is None or value <= 0:
        raise ConfigError(f"{owner}.{name} must be > 0, got {value!r}")


def _ordered(owner: str, low_name: str, low, high_name: str, high) -> None:
    for name, value in ((low_name, low), (high_name, high)):
        if value is not None and value < 0:
            raise ConfigError(f"{owner}.{name} must be >= 0, got {value}")
    if low is not None and high is not None and low > high:
        raise ConfigError(f"{owner}: {low_name} ({low}) is larger than {high_name} ({high})")


@dataclasses.dataclass(frozen=True)
class LengthConfig:
    """Bounds on an example's length; ``None`` leaves a bound out.

    A word is a token of :mod:`flawn.quality.text` (a CJK character counts as
    a word); characters are counted on the raw text. The prompt is everything
    the model is given (LawInstruct: instruction and prompt; Flan: inputs), the
    answer is the target.

    Attributes:
        min_words: Fewest words of prompt and answer together.
        max_words: Most words of prompt and answer together.
        min_prompt_words: Fewest words of the prompt.
        max_prompt_words: Most words of the prompt.
        min_answer_words: Fewest words of the answer.
        max_answer_words: Most words of the answer.
        min_chars: Fewest characters of prompt and answer together.
        max_chars: Most characters of prompt and answer together.
    """

    min_words: int | None = None
    max_words: int | None = None
    min_prompt_words: int | None = None
    max_prompt_words: int | None = None
    min_answer_words: int | None = None
    max_answer_words: int | None = None
    min_chars: int | None = None
    max_chars: int | None = None

    def __post_init__(self):
        for stem in ("words", "prompt_words", "answer_words", "chars"):
            low, high = f"min_{stem}", f"max_{stem}"
            _ordered("LengthConfig", low, getattr(self, low), high, getattr(self, high))

    @property
    def active(self) -> bool:
        """Whether any bound is set."""
        return any(v is not None for v in dataclasses.asdict(self).values())


@dataclasses.dataclass(frozen=True)
class LanguageConfig:
    """Keep only examples whose detected language is listed.

    Attributes:
        languages: ISO 639-1 codes to keep (``en``, ``de``, ``zh``...), as the
            fastText language identifier names them; empty: no language filter.
        field: What is identified: ``text`` (prompt and answer), ``prompt`` or ``answer``.
        max_chars: Characters of that text given to the identifier (its first
            ones); longer inputs cost time and rarely change the answer.
        min_score: An example whose best language scores below this is removed
            as ``language`` too (0: trust the best guess).
    """

    languages: tuple[str, ...] = ()
    field: str = "text"
    max_chars: int = 500
    min_score: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "languages", tuple(self.languages))
        bad = [code for code in self.languages if not code.isalpha() or code != code.lower()]
        if bad:
            raise ConfigError(
                f"LanguageConfig.languages: {', '.join(map(repr, bad))} are not lower-case "
                "language codes such as en, de, zh"
            )
        if self.field not in LANGUAGE_FIELDS:
            raise ConfigError(f"LanguageConfig.field must be one of {LANGUAGE_FIELDS}")
        _positive("LanguageConfig", "max_chars", self.max_chars, allow_none=False)
        if not 0.0 <= self.min_score <= 1.0:
            raise ConfigError(f"LanguageConfig.min_score must be in [0, 1], got {self.min_score}")

    @property
    def active(self) -> bool:
        """Whether the filter runs."""
        return bool(self.languages)


@dataclasses.dataclass(frozen=True)
class DedupConfig:
    """Exact and near-duplicate removal.

    Attributes:
        exact: Remove examples whose prompt and answer have the same tokens as an
            earlier kept one's (case, punctuation and spacing aside).
        near: Remove examples whose estimated Jaccard similarity with an earlier
            kept one is at least ``threshold``.
        threshold: Jaccard threshold over word shingles.
        num_perm: MinHash permutations (more: a finer estimate, slower).
        shingle: Words per shingle; a text with fewer words is one shingle.
        bands: LSH bands (``None``: chosen for ``threshold``, see
            :func:`flawn.quality.dedup.lsh_bands`); must divide ``num_perm``.
        seed: Seed of the MinHash permutations (same seed, same result).
    """

    exact: bool = True
    near: bool = True
    threshold: float = 0.8
    num_perm: int = 128
    shingle: int = 5
    bands: int | None = None
    seed: int = 1

    def __post_init__(self):
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"DedupConfig.threshold must be in (0, 1], got {self.threshold}")
        _positive("DedupConfig", "num_perm", self.num_perm, allow_none=False)
        _positive("DedupConfig", "shingle", self.shingle, allow_none=False)
        if self.bands is not None and (self.bands <= 0 or self.num_perm % self.bands):
            raise ConfigError(
                f"DedupConfig.bands ({self.bands}) must be > 0 and divide "
                f"num_perm ({self.num_perm})"
            )

    @property
    def active(self) -> bool:
        """Whether any duplicate is removed."""
        return self.exact or self.near


@dataclasses.dataclass(frozen=True)
class DecontaminationConfig:
    """N-gram overlap of training examples with benchmark items.

    Attributes:
        benchmarks: Which benchmarks to check, from :data:`BENCHMARKS`; empty: none.
        ngram: Units per n-gram (13 words; Chinese is cut into words, see
            :mod:`flawn.quality.units`).
        min_tokens: A benchmark text field shorter than ``ngram`` tokens but at
            least this long is matched as a whole (its complete token
            sequence must occur in the training example); shorter fields
            (labels such as ``Yes``) are not checked.
        template_share: An n-gram found in at least this share of one task's
            items (and in at least ``template_min_items`` of them) is the
            task's template, e.g. LawBench's instruction, and is not checked.
        template_min_items: See ``template_share``.
        stop_texts: An n-gram found in more than this many distinct texts of
            the checked benchmarks' items (all tasks together; a text that
            several items reuse verbatim counts once) is on the stop list and
            not checked: stock text the benchmarks repeat (statutes many
            LawBench items quote, LegalBench's governing-law clauses) says
            nothing about which item a training example copied. ``None``: no
            stop list.
        min_shared: An example overlaps an item when they share at least
            this many distinct n-grams (after the template and the stop list) ...
        min_coverage: ... or when the shared n-grams are at least this share
            of the item's n-grams (so a short item copied whole counts, and a
            long one copied in large part).
        remove: Remove overlapping training examples (else only report them).
        legalbench_dir: A LegalBench checkout or LegalBench-format folder
            (``tasks/<task>/`` with ``base_prompt.txt`` and ``test.tsv`` or
            ``train.tsv``); ``None``: ``FLAWN_LEGALBENCH_DIR``, else ``../shared/data/legalbench``.
        legalbench_data: Where the official LegalBench split rows are, when not
            in the task folders (see :func:`flawn.evals.legalbench.tasks.load_legalbench`);
            ``None``: ``FLAWN_LEGALBENCH_DATA`` when set.
        lawbench_dir: LawBench's ``data`` folder (``{zero_shot,one_shot}/<id>.json``);
            ``None``: ``FLAWN_LAWBENCH_DIR``, else ``../shared/data/lawbench/data``.
    """

    benchmarks: tuple[str, ...] = ()
    ngram: int = 13
    min_tokens: int = 8
    template_share: float = 0.5
    template_min_items: int = 3
    stop_texts: int | None = STOP_TEXTS
    min_shared: int = MIN_SHARED
    min_coverage: float = MIN_COVERAGE
    remove: bool = True
    legalbench_dir: str | None = None
    legalbench_data: str | None = None
    lawbench_dir: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "benchmarks", tuple(self.benchmarks))
        unknown = [b for b in self.benchmarks if b not in BENCHMARKS]
        if unknown:
            raise ConfigError(
                f"unknown benchmark(s) {', '.join(unknown)} to decontaminate against; "
                f"choose from {', '.join(BENCHMARKS)}"
            )
        _positive("DecontaminationConfig", "ngram", self.ngram, allow_none=False)
        if not 0 < self.min_tokens <= self.ngram:
            raise ConfigError(
                f"DecontaminationConfig.min_tokens must be in [1, ngram={self.ngram}], "
                f"got {self.min_tokens}"
            )
        if not 0.0 < self.template_share <= 1.0:
            raise ConfigError(
                f"DecontaminationConfig.template_share must be in (0, 1], got {self.template_share}"
            )
        _positive("DecontaminationConfig", "template_min_items", self.template_min_items, False)
        _positive("DecontaminationConfig", "stop_texts", self.stop_texts)
        _positive("DecontaminationConfig", "min_shared", self.min_shared, allow_none=False)
        if not 0.0 < self.min_coverage <= 1.0:
            raise ConfigError(
                f"DecontaminationConfig.min_coverage must be in (0, 1], got {self.min_coverage}"
            )
        for name in ("legalbench_dir", "legalbench_data", "lawbench_dir"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, os.fspath(value))

    @property
    def active(self) -> bool:
        """Whether any benchmark is checked."""
        return bool(self.benchmarks)


@dataclasses.dataclass(frozen=True)
class CleanConfig:
    """Everything ``flawn data clean`` does to a mixture.

    Filters run in this order (:data:`FILTER_ORDER`): the reader's bad-record
    policy, length, language, decontamination, exact duplicates, near
    duplicates. Filters that judge an example on its own come first, so a
    duplicate is only ever removed in favour of a twin that is kept.

    Attributes:
        length: Length bounds.
        language: Language filter.
        decontamination: Benchmark overlap check.
        dedup: Duplicate removal (``None``: no deduplication).
        policy: Bad-record policy of the readers, ``error`` or ``skip``
            (``None``: the gin-configured default).
        batch_size: Examples judged together (decontamination is vectorised per batch).
    """

    length: LengthConfig = dataclasses.field(default_factory=LengthConfig)
    language: LanguageConfig = dataclasses.field(default_factory=LanguageConfig)
    decontamination: DecontaminationConfig = dataclasses.field(
        default_factory=DecontaminationConfig
    )
    dedup: DedupConfig | None = None
    policy: str | None = None
    batch_size: int = 1024

    def __post_init__(self):
        if self.policy not in (None, "error", "skip"):
            raise ConfigError(f"CleanConfig.policy must be error or skip, got {self.policy!r}")
        _positive("CleanConfig", "batch_size", self.batch_size, allow_none=False)

    def as_dict(self) -> dict:
        """A JSON-friendly view (what the content hash and the report record)."""
        return dataclasses.asdict(self)


#: The order in which removals are attributed; an example is removed by the first that rejects it.
FILTER_ORDER = ("read", "length", "language", "decontamination", "exact_dedup", "near_dedup")
