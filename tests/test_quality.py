"""flawn.quality without TensorFlow: tokens, filters, deduplication, decontamination, reports.

Benchmark folders are written by the tests in the layouts of a LegalBench
checkout (``tasks/<task>/base_prompt.txt`` + ``test.tsv``) and of LawBench's
``data/{zero_shot,one_shot}/<id>.json``; the tests on ../shared/data skip
when it is absent.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from flawn.errors import ConfigError, FlawnError
from flawn.quality import contaminated_tasks
from flawn.quality.benchmarks import load_items, load_lawbench_items, load_legalbench_items
from flawn.quality.config import (
    DecontaminationConfig,
    DedupConfig,
    LanguageConfig,
    LengthConfig,
)
from flawn.quality.contamination import Decontaminator
from flawn.quality.counts import SourceCounts, apply_stage
from flawn.quality.dedup import ExactDeduplicator, NearDeduplicator, lsh_bands
from flawn.quality.example import Example
from flawn.quality.language import LanguageFilter, identify
from flawn.quality.length import LengthFilter
from flawn.quality.report import write_report
from flawn.quality.text import content_key, normalize, tokenize
from flawn.quality.units import units

# Seventy-one words of made-up contract prose; with the answer word, 68 five-word
# shingles. Changing two adjacent words changes 6 of them: Jaccard 62/74 = 0.84 >= 0.8.
# Changing every fourth word leaves no shingle intact.
BASE_TEXT = (
    "The supplier shall deliver the goods to the buyer at the place named in the order "
    "within thirty days after the order is accepted and shall bear every risk of loss or "
    "damage until the goods are handed over to the carrier chosen by the buyer in writing "
    "unless the parties agree otherwise in a signed amendment to this master agreement "
    "which governs all orders placed under it by either party"
)
BASE = BASE_TEXT.split(" ")

PLANTED = (
    "the lessee shall return the premises broom clean and in good repair at the end of the term"
)
CJK_PLANTED = "根据中华人民共和国民法典第五百七十七条的规定当事人一方不履行合同义务"
# contract_qa item 0 of the fixture below: 26 words, 14 13-grams; PLANTED alone has 6 of them.
ITEM = f"Section 4. {PLANTED}, and the deposit is returned afterwards."


def _variant(changes: dict[int, str]) -> str:
    words = list(BASE)
    for position, word in changes.items():
        words[position] = word
    return " ".join(words)


def _examples(texts: list[tuple[int, str]]) -> list[Example]:
    return [Example(source, None, text, "answer") for source, text in texts]


def _run(stage: str, judge, examples: list[Example], sources: int = 1):
    counts = [SourceCounts(f"source{i}") for i in range(sources)]
    for i, c in enumerate(counts):
        c.stage("read").input = c.stage("read").kept = sum(e.source == i for e in examples)
    kept = apply_stage(stage, examples, judge, counts)
    for c in counts:
        c.check()  # read == kept + removed, after this filter
    return kept, counts


# --- text -----------------------------------------------------------------------------------


def test_tokens_are_words_and_cjk_characters():
    assert tokenize("The Lessee's  RENT, payable (monthly)!") == [
        "the",
        "lessee",
        "s",
        "rent",
        "payable",
        "monthly",
    ]
    assert tokenize("民法典第５条规定") == ["民", "法", "典", "第", "5", "条", "规", "定"]
    assert tokenize("Art. 5 ＺＧＢ：gilt") == ["art", "5", "zgb", "gilt"]
    assert normalize("  Hello\n\tWORLD ") == "hello world"
    assert content_key("A  b!", "c") == content_key("a, b", "C.")
    assert content_key("a b", "c") != content_key("a", "b c")
    assert content_key("ab", "c") != content_key("a b", "c")


def test_decontamination_units_cut_chinese_into_words():
    # Thirteen characters were one n-gram; jieba makes them six words, so that an n-gram
    # (13 units) of Chinese is about as long as one of English.
    assert units("民法典第５条规定，ＡＢＣ Rent") == [
        "民法典",
        "第",
        "5",
        "条",
        "规定",
        "abc",
        "rent",
    ]
    assert len(units(CJK_PLANTED)) == 14 < len(tokenize(CJK_PLANTED))
    # A run is cut on its own: pasting the text elsewhere does not change its words.
    assert units(f"问题：{CJK_PLANTED}。")[1:] == units(CJK_PLANTED)
    assert units("The Lessee's RENT!") == tokenize("The Lessee's RENT!")


# --- configs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: LengthConfig(min_words=10, max_words=5),
        lambda: LanguageConfig(languages=("EN",)),
        lambda: DedupConfig(threshold=0.0),
        lambda: DedupConfig(num_perm=128, bands=5),
        lambda: DecontaminationConfig(benchmarks=("mmlu",)),
        lambda: DecontaminationConfig(ngram=13, min_tokens=14),
        lambda: DecontaminationConfig(min_shared=0),
        lambda: DecontaminationConfig(min_coverage=0.0),
        lambda: DecontaminationConfig(min_coverage=1.5),
        lambda: DecontaminationConfig(stop_texts=0),
    ],
)
def test_configs_validate_themselves(make):
    with pytest.raises(ConfigError):
        make()


def test_lsh_bands_suit_the_threshold():
    bands = lsh_bands(0.8, 128)
    rows = 128 // bands
    assert 128 % bands == 0
    # The S-curve's midpoint (1/b)^(1/r) sits just below the threshold.
    assert 0.6 < (1 / bands) ** (1 / rows) < 0.85


# --- deduplication ----------------------------------------------------------------------------


def _jaccard(a: str, b: str) -> float:
    from flawn.quality.dedup import shingles

    first, second = set(shingles(tokenize(a), 5)), set(shingles(tokenize(b), 5))
    return len(first & second) / len(first | second)


def test_exact_and_near_duplicates_are_counted_exactly():
    unrelated = " ".join(reversed(BASE))
    examples = _examples(
        [
            (0, " ".join(BASE)),  # kept: first occurrence
            (0, " ".join(BASE).upper()),  # exact duplicate after normalisation
            (0, _variant({10: "fifteen", 11: "business"})),  # near duplicate
            (0, unrelated),  # same words, other order: kept
            (0, "A short different example."),  # kept
        ]
    )
    assert _jaccard(examples[0].text, examples[2].text) == pytest.approx(62 / 74)
    kept, counts = _run("exact_dedup", ExactDeduplicator(), examples)
    assert len(kept) == 4
    assert counts[0].stages["exact_dedup"].removed == {"exact_duplicate": 1}
    near = NearDeduplicator(DedupConfig())
    kept, counts = _run("near_dedup", near, kept)
    assert [e.prompt for e in kept] == [examples[0].prompt, unrelated, examples[4].prompt]
    assert counts[0].stages["near_dedup"].removed == {"near_duplicate": 1}
    assert near.last_similarity >= 0.8


def test_a_rewrite_is_not_a_near_duplicate():
    rewrite = _variant({i: f"other{i}" for i in range(0, 60, 4)})  # every 4th word changed
    kept, counts = _run(
        "near_dedup",
        NearDeduplicator(DedupConfig()),
        _examples([(0, " ".join(BASE)), (0, rewrite)]),
    )
    assert len(kept) == 2
    assert counts[0].stages["near_dedup"].removed_total == 0


def test_duplicates_across_sources_keep_the_first_source():
    exact, near = ExactDeduplicator(), NearDeduplicator(DedupConfig())
    counts = [SourceCounts("lawinstruct"), SourceCounts("flan")]
    examples = _examples(
        [
            (0, " ".join(BASE)),
            (1, " ".join(BASE)),  # the same legal task shipped in the general data
            (1, _variant({5: "seller"})),
            (1, "nothing alike at all"),
        ]
    )
    twins = []
    for stage, judge in (("exact_dedup", exact), ("near_dedup", near)):

        def recording(example, judge=judge):
            reason = judge(example)
            if reason:
                twins.append((reason, judge.last_twin_source))
            return reason

        examples = apply_stage(stage, examples, recording, counts)
    assert [e.source for e in examples] == [0, 1]
    assert twins == [("exact_duplicate", 0), ("near_duplicate", 0)]
    assert counts[1].stages["exact_dedup"].removed == {"exact_duplicate": 1}
    assert counts[1].stages["near_dedup"].removed == {"near_duplicate": 1}
    assert counts[0].stages["exact_dedup"].removed_total == 0


def test_near_deduplication_is_deterministic():
    texts = [(0, _variant({i % 60: f"w{i}"})) for i in range(40)]

    def run():
        kept, _ = _run("near_dedup", NearDeduplicator(DedupConfig(threshold=0.7)), _examples(texts))
        return [e.prompt for e in kept]

    assert run() == run()


# --- length and language ------------------------------------------------------------------------


def test_length_filter_names_the_bound_and_reconciles():
    judge = LengthFilter(LengthConfig(min_words=3, max_words=8, max_chars=40))
    examples = _examples(
        [(0, "one"), (0, "one two three"), (0, " ".join(["w"] * 12)), (0, "x" * 60 + " y")]
    )
    kept, counts = _run("length", judge, examples)
    # "one" + "answer" is 2 words; 12 words + answer is too many; 60 chars are too many.
    assert [e.prompt for e in kept] == ["one two three"]
    assert counts[0].stages["length"].removed == {"min_words": 1, "max_words": 1, "max_chars": 1}


def test_language_identification_of_known_sentences():
    sentences = {
        "en": "The tenant shall pay the rent on the first day of each month to the landlord.",
        "de": "Der Mieter hat die Miete am ersten Tag eines jeden Monats an den Vermieter zahlen.",
        "fr": "Le locataire doit payer le loyer le premier jour de chaque mois au bailleur.",
        "it": "Il conduttore deve pagare il canone il primo giorno di ogni mese al locatore.",
        "zh": "承租人应当在每月第一日按照本合同载明的地址向出租人支付租金。",
    }
    for language, sentence in sentences.items():
        assert identify(sentence)[0] == language
    assert identify("12345 ---") == ("und", 0.0)
    judge = LanguageFilter(LanguageConfig(languages=("en", "de")))
    examples = [Example(0, None, s, "") for s in sentences.values()]
    kept, counts = _run("language", judge, examples)
    assert [e.prompt for e in kept] == [sentences["en"], sentences["de"]]
    assert counts[0].stages["language"].removed == {"language": 3}


# --- decontamination -------------------------------------------------------------------------


def write_legalbench(root: pathlib.Path, rows: dict[str, list[tuple[str, str]]]) -> pathlib.Path:
    """A LegalBench-checkout-shaped folder: tasks/<task>/base_prompt.txt and test.tsv."""
    for task, items in rows.items():
        folder = root / "tasks" / task
        folder.mkdir(parents=True)
        (folder / "base_prompt.txt").write_text("Classify.\n\nText: {{text}}\nAnswer:")
        lines = ["index\tanswer\ttext"] + [f"{i}\t{a}\t{t}" for i, (t, a) in enumerate(items)]
        (folder / "test.tsv").write_text("\n".join(lines) + "\n")
    return root


def write_lawbench(root: pathlib.Path, tasks: dict[str, list[dict]]) -> pathlib.Path:
    """A LawBench-data-shaped folder: zero_shot/<id>.json."""
    (root / "zero_shot").mkdir(parents=True)
    for task, items in tasks.items():
        (root / "zero_shot" / f"{task}.json").write_text(json.dumps(items, ensure_ascii=False))
    return root


@pytest.fixture
def benchmark_dirs(tmp_path):
    legalbench = write_legalbench(
        tmp_path / "legalbench",
        {
            "abercrombie": [
                ("The mark Ivory for a product made of elephant tusks.", "generic"),  # 10 words
                ("The mark Tasty for bread.", "descriptive"),  # too short to check
            ],
            "contract_qa": [
                (ITEM, "Yes"),
                ("Nothing in this agreement grants a licence to any patent of either party.", "No"),
            ],
        },
    )
    instruction = "请根据下列事实和法律条文回答问题并给出最终的答案和依据"  # shared: template
    lawbench = write_lawbench(
        tmp_path / "lawbench",
        {
            "3-1": [
                {"instruction": instruction, "question": f"事实：{CJK_PLANTED}。", "answer": "A"},
                {
                    "instruction": instruction,
                    "question": "事实：被告人盗窃他人财物数额较大。",
                    "answer": "B",
                },
                {
                    "instruction": instruction,
                    "question": "事实：原告与被告签订借款合同一份。",
                    "answer": "C",
                },
            ]
        },
    )
    return legalbench, lawbench


def test_benchmark_items_are_read_with_flawns_loaders(benchmark_dirs):
    legalbench, lawbench = benchmark_dirs
    tasks, items = load_legalbench_items(legalbench)
    assert [(t.task, t.split, t.items) for t in tasks] == [
        ("abercrombie", "test", 2),
        ("contract_qa", "test", 2),
    ]
    assert items[0].texts == ("The mark Ivory for a product made of elephant tusks.", "generic")
    tasks, items = load_lawbench_items(lawbench)
    assert [(t.task, t.split, t.items) for t in tasks] == [("3-1", "zero_shot", 3)]
    with pytest.raises(FlawnError, match="no LegalBench task folders"):
        load_legalbench_items(lawbench)


def _decontaminate(benchmark_dirs, texts, remove=True, **settings):
    legalbench, lawbench = benchmark_dirs
    config = DecontaminationConfig(
        benchmarks=("legalbench", "lawbench"),
        legalbench_dir=str(legalbench),
        lawbench_dir=str(lawbench),
        remove=remove,
        **settings,
    )
    decontaminator = Decontaminator(config, progress=False)
    examples = _examples(texts)
    decontaminator.scan(examples)
    counts = [SourceCounts("a"), SourceCounts("b")]
    for i, c in enumerate(counts):
        c.stage("read").input = c.stage("read").kept = sum(e.source == i for e in examples)
    kept = apply_stage("decontamination", examples, decontaminator, counts)
    for c in counts:
        c.check()
    return decontaminator, examples, kept, counts


def test_decontamination_finds_planted_items(benchmark_dirs):
    texts = [
        (0, f"Quote: {ITEM} Says clause 9."),  # contract_qa 0, whole
        (0, "The Mark IVORY for a product made of elephant tusks!"),  # whole short item
        (1, f"问题：事实：{CJK_PLANTED}。应当承担违约责任。"),  # LawBench 3-1 item 0's question
        (1, "请根据下列事实和法律条文回答问题并给出最终的答案和依据"),  # the instruction: clean
        (0, f"Summarise: {PLANTED}, says clause 9."),  # 6 of the item's 14 13-grams: clean
        (1, f"问题：{CJK_PLANTED[:13]}，应当承担违约责任。"),  # 13 characters (the old rule): clean
        (0, "The lessee shall return the premises broom clean."),  # shorter than 13: clean
        (0, "The mark Tasty for bread."),  # item below min_tokens: not checked
    ]
    decontaminator, examples, _, counts = _decontaminate(benchmark_dirs, texts)
    flagged = [bool(e.overlaps) for e in examples]
    assert flagged == [True, True, True, False, False, False, False, False]
    assert counts[0].stages["decontamination"].removed == {"contaminated": 2}
    assert counts[1].stages["decontamination"].removed == {"contaminated": 1}
    summary = decontaminator.summary(["a", "b"])
    assert summary["contaminated_tasks"] == {
        "legalbench": ["abercrombie", "contract_qa"],
        "lawbench": ["3-1"],
    }
    rows = {(r["source"], r["task"]): r for r in summary["by_source"]}
    assert rows[("a", "contract_qa")]["items_overlapped"] == 1
    assert rows[("a", "contract_qa")]["share"] == 0.5
    assert rows[("b", "3-1")]["items_overlapped"] == 1
    tasks = {t["task"]: t for t in summary["tasks"]}
    assert tasks["abercrombie"]["unchecked_items"] == 1
    assert tasks["3-1"]["unchecked_items"] == 1  # six words
    assert decontaminator.index.item_ngrams[2] == 14  # contract_qa 0 (the answer is too short)


def test_decontamination_thresholds_are_settings(benchmark_dirs):
    texts = [(0, f"Summarise: {PLANTED}, says clause 9.")]  # shares 6 of 14 13-grams
    for settings, flagged in (
        ({}, False),
        ({"min_shared": 6}, True),
        ({"min_shared": 7}, False),
        ({"min_coverage": 0.4}, True),
        ({"min_coverage": 0.45}, False),
    ):
        _, examples, _, _ = _decontaminate(benchmark_dirs, texts, **settings)
        assert bool(examples[0].overlaps) is flagged, settings


def test_decontamination_can_only_report(benchmark_dirs):
    texts = [(0, f"Quote: {ITEM}"), (1, "unrelated text")]
    decontaminator, examples, kept, _ = _decontaminate(benchmark_dirs, texts, remove=False)
    assert len(kept) == 2 and examples[0].overlaps
    assert decontaminator.summary(["a", "b"])["contaminated_tasks"]["legalbench"] == ["contract_qa"]


STOCK = "This Agreement shall be governed by and construed in accordance with the laws of the State"
UNIQUE = [
    "The licensee may not sublicense the software to any affiliate without prior consent",
    "Payments are due within forty five days of the invoice date and bear no interest",
    "Either party may terminate on ninety days notice if the other party becomes insolvent",
    "The supplier warrants that the goods conform to the specification for twelve months",
    "Confidential information excludes anything the recipient knew before the disclosure",
]


@pytest.fixture
def stock_dirs(tmp_path):
    """Five items in three tasks end in the same stock clause; one item is only that clause.

    Two items per task: too few for the clause to be any task's template.
    """
    rows = {
        "cuad_governing_law": [(f"{text}. {STOCK} of Delaware.", "Yes") for text in UNIQUE[:2]],
        "cuad_notice": [(f"{text}. {STOCK} of Ohio.", "No") for text in UNIQUE[2:4]],
        "contract_qa": [(f"{UNIQUE[4]}. {STOCK} of Ohio.", "No"), (f"{STOCK}.", "Yes")],
    }
    legalbench = write_legalbench(tmp_path / "legalbench", rows)
    lawbench = write_lawbench(tmp_path / "lawbench", {"3-1": []})
    return legalbench, lawbench


def test_a_stock_phrase_alone_never_triggers(stock_dirs):
    texts = [
        (0, f"{STOCK}."),  # the whole of contract_qa item 1
        (0, " ".join([f"{STOCK} of Delaware."] * 10)),
        (1, f"Clause: {UNIQUE[0]}. {STOCK} of Delaware. Answer: Yes"),  # cuad item 0, whole
    ]
    decontaminator, examples, _, _ = _decontaminate(stock_dirs, texts, stop_texts=4)
    assert [bool(e.overlaps) for e in examples] == [False, False, True]
    assert [decontaminator.items[i].item for i in examples[2].overlaps] == ["0"]
    assert decontaminator.index.stop_list > 0
    tasks = {t["task"]: t for t in decontaminator.summary(["a", "b"])["tasks"]}
    assert tasks["contract_qa"]["stoplisted_items"] == 1  # item 1: nothing left to match
    assert tasks["contract_qa"]["stoplisted_ngrams"] > 0
    # Without the stop list the stock clause is item 1's content, and any copy of it counts.
    _, examples, _, _ = _decontaminate(stock_dirs, texts, stop_texts=None)
    assert [bool(e.overlaps) for e in examples] == [True, True, True]
    assert [decontaminator.items[i].task for i in examples[1].overlaps] == ["contract_qa"]


def test_a_passage_reused_by_many_items_is_not_stock(tmp_path):
    # LegalBench labels one supply-chain statement for ten tasks: one text, not stock phrasing.
    statement = " ".join(UNIQUE)
    rows = {f"supply_chain_disclosure_{i}": [(statement, "Yes")] for i in range(6)}
    dirs = (
        write_legalbench(tmp_path / "legalbench", rows),
        write_lawbench(tmp_path / "lb", {"3-1": []}),
    )
    decontaminator, examples, _, _ = _decontaminate(
        dirs, [(0, f"Statement: {statement}")], stop_texts=4
    )
    assert decontaminator.index.stop_list == 0
    assert len(examples[0].overlaps) == 6


def test_decontamination_on_the_shared_benchmarks(shared_data):
    import csv

    rows_file = shared_data / "legalbench" / "tasks" / "contract_nli_explicit_identification"
    with open(rows_file / "train.tsv", encoding="utf-8", newline="") as f:
        row = next(csv.DictReader(f, delimiter="\t"))
    lawbench_item = json.loads(
        (shared_data / "lawbench" / "data" / "zero_shot" / "1-2.json").read_text("utf-8")
    )[3]
    config = DecontaminationConfig(benchmarks=("legalbench", "lawbench"))
    tasks, items = load_items(config.benchmarks)
    # Index the two tasks the planted text comes from (the whole index takes ~10 s).
    wanted = {"contract_nli_explicit_identification", "1-2"}
    tasks = [t for t in tasks if t.task in wanted]
    items = [i for i in items if i.task in wanted]
    decontaminator = Decontaminator(config, tasks, items, progress=False)
    words = row["text"].split()
    examples = _examples(
        [
            (0, "Context: " + " ".join(words[2:40]) + " ..."),  # 38 words: 26 13-grams
            (0, "训练数据：" + lawbench_item["question"]),
            (0, "An instruction about something else entirely, with no benchmark text in it."),
        ]
    )
    decontaminator.scan(examples)
    hit_tasks = [{items[i].task for i in e.overlaps} for e in examples]
    assert "contract_nli_explicit_identification" in hit_tasks[0]
    assert "1-2" in hit_tasks[1]
    assert hit_tasks[2] == set()


# --- reports ---------------------------------------------------------------------------------


def test_contaminated_tasks_from_a_report(tmp_path, benchmark_dirs):
    decontaminator, *_ = _decontaminate(benchmark_dirs, [(0, f"Quote: {ITEM}"), (1, "x")])
    counts = SourceCounts("a")
    counts.stage("read")
    report = {
        "mixture": "m",
        "name": "m.clean",
        "folder": "m-0",
        "hash": "0",
        "filter_order": ["read"],
        "settings": {},
        "counts": [counts.as_dict()],
        "totals": {"read": 0, "kept": 0, "removed": {}},
        "contamination": decontaminator.summary(["a", "b"]),
    }
    write_report(tmp_path, report)
    assert contaminated_tasks(tmp_path) == ["contract_qa"]
    assert contaminated_tasks(tmp_path / "report.json", "lawbench") == []
    assert contaminated_tasks(tmp_path / "contamination.tsv") == ["contract_qa"]
    assert "contract_qa" in (tmp_path / "report.md").read_text()
    report["contamination"] = None
    write_report(tmp_path, report)
    with pytest.raises(FlawnError, match="--decontaminate"):
        contaminated_tasks(tmp_path)
    with pytest.raises(FlawnError, match="does not exist"):
        contaminated_tasks(tmp_path / "nowhere")


def test_importing_the_report_reader_stays_light():
    import subprocess
    import sys

    code = (
        "import sys; from flawn.quality import contaminated_tasks; "
        "print('tensorflow' in sys.modules or 'jax' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
