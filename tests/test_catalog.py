import dataclasses
import json

import pytest

from flawn.catalog import (
    CATALOG_FILE,
    EXCLUSION_REASONS,
    FILTER_FIELDS,
    VIEWS,
    Catalog,
    Subset,
    load_catalog,
    normalise_language,
)
from flawn.catalog.convert import convert_subsets_tsv, dumps_catalog, write_catalog_file
from flawn.errors import RecordError, RegistryError


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_catalog_holds_the_release_58_datasets_148_subsets_13_3m_examples(catalog):
    assert len(catalog) == 148
    assert len(catalog.dataset_names()) == 58
    assert catalog.total_examples == 13_304_577
    assert len(set(catalog.names())) == 148


@pytest.mark.parametrize(
    ("view", "examples", "datasets", "subsets"),
    [
        # The two published figures...
        ("multilingual_research", 11_772_903, 50, 126),
        ("english_commercial", 1_871_291, 13, 25),
        # ...and the two views the same definitions give.
        ("english_research", 2_252_185, 28, 56),
        ("multilingual_commercial", 6_920_099, 24, 78),
    ],
)
def test_views_reproduce_the_published_figures(catalog, view, examples, datasets, subsets):
    selected = catalog.view(view)
    assert selected.total_examples == examples
    assert len(selected.dataset_names()) == datasets
    assert len(selected) == subsets


def test_exclusions_are_ner_small_and_unreleased_subsets(catalog):
    excluded = catalog.excluded()
    reasons = {reason: len(group) for reason, group in excluded.group_by("excluded").items()}
    assert reasons == {"ner": 13, "not_released": 2, "under_16_examples": 7}
    assert all(s.exclusion_reason == EXCLUSION_REASONS[s.excluded] for s in excluded)
    # Every NER subset is excluded, and no excluded subset is in any view.
    ner = catalog.filter(task_type="NAMED_ENTITY_RECOGNITION")
    assert set(ner.names()) == set(excluded.filter(excluded="ner").names())
    for view in VIEWS:
        assert not set(catalog.view(view).names()) & set(excluded.names())
    assert {s.name for s in excluded.filter(excluded="not_released")} == {
        "mbe_subject",
        "mbe_subject_generation",
    }
    assert len(catalog.included()) + len(excluded) == len(catalog)


def test_research_views_include_the_commercial_ones(catalog):
    for language in ("english", "multilingual"):
        commercial = set(catalog.view(f"{language}_commercial").names())
        research = set(catalog.view(f"{language}_research").names())
        assert commercial < research
    assert set(catalog.view("english_research").names()) < set(
        catalog.view("multilingual_research").names()
    )


def test_language_codes_are_iso(catalog):
    assert normalise_language("jp") == "ja" and normalise_language("NER") == "zxx"
    assert normalise_language("de") == "de"
    languages = set(catalog.group_by("language"))
    assert languages == set(catalog.examples_by("prompt_language")) | set(
        catalog.examples_by("answer_language")
    )
    assert "jp" not in languages and "ner" not in languages
    assert all(len(code) == 2 for code in languages - {"zxx"})
    coliee = catalog["coliee_task4"]
    assert dict(coliee.prompt_language_counts) == {"en": 887, "ja": 887}
    assert catalog["EdgarNER.MainSubset"].answer_languages == ("zxx",)


def test_shared_subset_names_are_qualified_by_dataset(catalog):
    main = catalog.filter(subset_name="MainSubset")
    assert len(main) == 5
    assert all(s.name == f"{s.dataset_name}.MainSubset" for s in main)
    assert catalog["EdgarNER.MainSubset"].key == "EdgarNER-MainSubset"
    assert catalog.by_key("BVADecisions", "bva_decisions_label").name == "bva_decisions_label"
    assert catalog.by_key("BVADecisions", "absent") is None


def test_subsets_are_frozen_and_typed(catalog):
    subset = catalog["bva_decisions_label"]
    assert isinstance(subset, Subset)
    assert subset.dataset_name == "BVADecisions" and subset.examples == 8818
    assert subset.jurisdictions == ("US",) and subset.task_types == ("TEXT_CLASSIFICATION",)
    assert subset.licence == "commercial" and subset.english is True and not subset.is_excluded
    assert subset.prompt_words_mean == 23.4 and subset.answer_words_mean == 3.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        subset.examples = 1
    assert hash(subset) == hash(catalog["bva_decisions_label"])


def test_filter_exclude_and_group_compose(catalog):
    view = catalog.view("multilingual_research")
    by_jurisdiction = view.group_by("jurisdiction")
    assert sum(group.total_examples for group in by_jurisdiction.values()) == view.total_examples
    assert (
        by_jurisdiction["SWITZERLAND"].total_examples
        == view.examples_by("jurisdiction")["SWITZERLAND"]
    )
    without_us = view.exclude(jurisdiction="US")
    assert len(without_us) + len(by_jurisdiction["US"]) == len(view)
    assert "US" not in without_us.examples_by("jurisdiction")
    eu_or_us_summaries = view.filter(jurisdiction=["EU", "US"], task_type="SUMMARIZATION")
    assert eu_or_us_summaries.names() and all(
        s.task_types == ("SUMMARIZATION",) and s.jurisdictions[0] in ("EU", "US")
        for s in eu_or_us_summaries
    )
    # Multi-valued fields split examples exactly; group_by counts a subset in every group.
    languages = view.examples_by("prompt_language")
    assert sum(languages.values()) == view.total_examples
    assert view.where(lambda s: s.examples > 1_000_000).names() == [
        "brcad5_mc",
        "brcad5_topic",
        "multi_eurlex_level_1",
        "multi_eurlex_level_3",
        "lawng_nli_entailment",
    ]
    assert view.select(["ildc", "bulgarian"]).names() == ["bulgarian", "ildc"]


def test_bad_queries_name_the_problem(catalog):
    with pytest.raises(RegistryError, match="did you mean 'bva_decisions_label'"):
        catalog["bva_decisions_labl"]
    with pytest.raises(RegistryError, match="views are english_commercial"):
        catalog.view("english_comercial")
    with pytest.raises(ValueError, match=r"unknown subset field.*jurisdictions"):
        catalog.filter(jurisdictions="US")
    with pytest.raises(RegistryError, match="'ildcc'"):
        catalog.select(["ildcc", "ildc"])
    assert "jurisdiction" in FILTER_FIELDS


def test_rows_flatten_for_tables(catalog):
    rows = catalog.view("english_commercial").to_rows()
    assert len(rows) == 25
    assert rows[0]["jurisdictions"] == "US" and isinstance(rows[0]["examples"], int)


def test_catalog_file_round_trips_through_the_dataclasses():
    content = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    restored = [Subset.from_json(record).to_json() for record in content["subsets"]]
    assert restored == content["subsets"]
    assert dumps_catalog(content) == CATALOG_FILE.read_text(encoding="utf-8")


@pytest.mark.shared_data
def test_bundled_catalog_equals_a_fresh_conversion(shared_data, tmp_path):
    tsv = shared_data / "lawinstruct" / "subsets.tsv"
    assert dumps_catalog(convert_subsets_tsv(tsv)) == CATALOG_FILE.read_text(encoding="utf-8")
    out = tmp_path / "catalog.json"
    assert write_catalog_file(tsv, out) == 148
    assert load_catalog(out) == load_catalog()


_HEADER = (
    "dataset\tsubset\texamples\tjurisdictions\ttask_types\tprompt_languages\t"
    "answer_languages\tlicence\tenglish\tremoved\tprompt_words_mean\tanswer_words_mean\n"
)


def _row(**overrides):
    values = {
        "dataset": "Demo",
        "subset": "demo",
        "examples": "10",
        "jurisdictions": '{"US": 10}',
        "task_types": '{"QUESTION_ANSWERING": 10}',
        "prompt_languages": '{"en": 6, "jp": 4}',
        "answer_languages": '{"en": 10}',
        "licence": "research",
        "english": "yes",
        "removed": "",
        "prompt_words_mean": "12.5",
        "answer_words_mean": "3.0",
    }
    values.update(overrides)
    return "\t".join(values.values()) + "\n"


def test_conversion_normalises_and_validates(tmp_path):
    good = tmp_path / "subsets.tsv"
    good.write_text(_HEADER + _row() + _row(dataset="Other", removed="NER"), encoding="utf-8")
    records = convert_subsets_tsv(good)["subsets"]
    assert records[0]["prompt_languages"] == {"en": 6, "ja": 4}
    # Two datasets share the subset name, so both are qualified.
    assert [r["name"] for r in records] == ["Demo.demo", "Other.demo"]
    assert records[1]["excluded"] == "ner"

    bad = tmp_path / "bad.tsv"
    bad.write_text(_HEADER + _row() + _row(subset="x", jurisdictions='{"US": 9}'), encoding="utf-8")
    with pytest.raises(RecordError, match=r"bad\.tsv:3: inconsistent: .*sums to 9"):
        convert_subsets_tsv(bad)
    bad.write_text(_HEADER + _row(licence="open"), encoding="utf-8")
    with pytest.raises(RecordError, match=r"bad\.tsv:2: bad_value: licence 'open'"):
        convert_subsets_tsv(bad)
    bad.write_text(_HEADER + _row(task_types="{oops"), encoding="utf-8")
    with pytest.raises(RecordError, match=r"bad\.tsv:2: bad_json: column 'task_types'"):
        convert_subsets_tsv(bad)


# --- synthetic catalog shards -------------------------------------------------


def test_catalog_shards_cover_all_148_subsets_with_catalog_metadata(tmp_path, catalog):
    from flawn.samples.catalog_shards import MANIFEST_NAME, scaled_count, write_catalog_shards
    from flawn.sources.lawinstruct import BANK_FILE_NAME, parse_shard_name, read_shard

    written = write_catalog_shards(tmp_path, scale=1e-5, min_examples=2, max_words=12)
    assert len(written) == 148
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert manifest["shards"] == written and manifest["scale"] == 1e-5
    bank = json.loads((tmp_path / BANK_FILE_NAME).read_text(encoding="utf-8"))
    for file_name, count in written.items():
        parts = parse_shard_name(file_name)
        subset = catalog.by_key(parts["dataset"], parts["subset"])
        assert count == scaled_count(subset, 1e-5, 2)
        records = list(read_shard(tmp_path / file_name))
        assert len(records) == count
        for record in records:
            assert record.jurisdiction in subset.jurisdictions
            assert record.task_type in subset.task_types
            assert record.prompt_language in subset.prompt_languages
            assert record.answer_language in subset.answer_languages
            assert len(record.prompt.split()) <= 12 and record.answer
            # The bank beside the shards has every (subset, language, index) of the
            # instruction-bank sweep (k up to 10).
            assert len(bank[record.subset_name][record.instruction_language]) == 10
    # Scaled counts: at least the floor, never above the release's count.
    assert written["BVADecisions-bva_decisions_qa-train-0.jsonl.xz"] == 2
    assert written["BrCAD5-brcad5_topic-train-0.jsonl.xz"] == 18


def test_catalog_shards_are_deterministic_per_subset(tmp_path):
    from flawn.samples.catalog_shards import write_catalog_shards

    names = ["coliee_task4", "EdgarNER.MainSubset", "bulgarian"]
    first = write_catalog_shards(tmp_path / "a", subsets=names, max_words=30, min_examples=3)
    again = write_catalog_shards(tmp_path / "b", subsets=names, max_words=30, min_examples=3)
    alone = write_catalog_shards(
        tmp_path / "c", subsets=["bulgarian"], max_words=30, min_examples=3
    )
    other_seed = write_catalog_shards(
        tmp_path / "d", subsets=["bulgarian"], max_words=30, min_examples=3, seed=1
    )
    assert first == again
    for name in first:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    bulgarian = "EurLexSum-bulgarian-train-0.jsonl.xz"
    assert (tmp_path / "c" / bulgarian).read_bytes() == (tmp_path / "a" / bulgarian).read_bytes()
    assert (tmp_path / "d" / bulgarian).read_bytes() != (tmp_path / "a" / bulgarian).read_bytes()
    assert alone == other_seed == {bulgarian: 3}
    with pytest.raises(RegistryError, match="bulgarain"):
        write_catalog_shards(tmp_path / "e", subsets=["bulgarain"])


def test_tasks_over_catalog_shards_draw_instructions_from_the_bank_beside_them(
    tmp_path, fresh_catalog_tasks
):
    # The instruction-bank sweep on synthetic shards stopped on "instruction bank has
    # no paraphrase for (subset, language, index)": only the sample bank existed.
    import gin
    import seqio

    from flawn import paths
    from flawn.samples.catalog_shards import write_catalog_shards
    from flawn.sources.lawinstruct import BANK_FILE_NAME
    from flawn.tasks.lawinstruct_catalog import register_catalog_tasks
    from flawn.vocab import load_vocabulary

    names = ["answer", "EdgarNER.MainSubset", "bulgarian"]
    write_catalog_shards(tmp_path, subsets=names, max_words=8, min_examples=12)
    bank = json.loads((tmp_path / BANK_FILE_NAME).read_text(encoding="utf-8"))
    tasks = register_catalog_tasks(
        tmp_path, load_vocabulary(str(paths.SAMPLE_VOCAB)), names, policy="error"
    )
    gin.clear_config()
    gin.parse_config("format_lawinstruct.bank_size = 10")
    try:
        for name in tasks:
            task = seqio.get_mixture_or_task(name)
            seen = set()
            for example in task.get_dataset(None, shuffle=False).as_numpy_iterator():
                subset = example["subset_name"].decode()
                seen.add(example["inputs_pretokenized"].decode().split("\n\n", 1)[0])
            assert seen and seen <= set(bank[subset]["en"]), name
    finally:
        gin.clear_config()


def test_synthetic_lengths_and_languages_follow_the_catalog(catalog):
    from flawn.samples.catalog_shards import synthetic_records

    topic = list(synthetic_records(catalog["brcad5_topic"], 200))
    mean_prompt = sum(len(r.prompt.split()) for r in topic) / len(topic)
    assert abs(mean_prompt - 1375.5) / 1375.5 < 0.1
    assert all(r.prompt_language == "pt" and r.jurisdiction == "BRAZIL" for r in topic)
    briefs = list(synthetic_records(catalog["case_briefs"], 20))  # prompt mean is 0 words
    assert all(r.prompt == "" and r.answer for r in briefs)
    coliee = list(synthetic_records(catalog["coliee_task4"], 200))
    pairs = {(r.prompt_language, r.answer_language) for r in coliee}
    assert pairs == {("en", "en"), ("ja", "ja")}  # answers follow their prompt's language
    entailment = list(synthetic_records(catalog["coliee_task3_passage_entailment"], 50))
    assert {r.answer_language for r in entailment} == {"en"}


# --- one seqio task per catalog subset -----------------------------------------


@pytest.fixture
def fresh_catalog_tasks():
    """Removes the lawinstruct.* tasks a test registers (seqio's registry is global)."""
    import seqio

    before = set(seqio.TaskRegistry.names())
    yield
    for name in set(seqio.TaskRegistry.names()) - before:
        seqio.TaskRegistry.remove(name)


def test_register_catalog_tasks_reads_each_subsets_own_shards(tmp_path, fresh_catalog_tasks):
    import seqio

    from flawn import paths
    from flawn.samples.catalog_shards import write_catalog_shards
    from flawn.tasks.lawinstruct_catalog import register_catalog_tasks, task_name
    from flawn.vocab import load_vocabulary

    vocabulary = load_vocabulary(str(paths.SAMPLE_VOCAB))
    subsets = ["EdgarNER.MainSubset", "IndianNER.MainSubset", "ildc", "bulgarian"]
    written = write_catalog_shards(
        tmp_path, subsets=subsets, min_examples=3, shard_size=2, max_words=20
    )
    assert len(written) == 8  # 3 or 4 records per subset, 2 per shard
    # The release's counts, for one subset...
    assert register_catalog_tasks(tmp_path, vocabulary, ["ildc"], num_examples="catalog") == [
        "lawinstruct.ildc"
    ]
    assert seqio.get_mixture_or_task("lawinstruct.ildc").num_input_examples("train") == 37387
    # ...and counted from the shards for the others (all found subsets when none are named).
    with pytest.raises(ValueError, match="already registered over the same shards with 37387"):
        register_catalog_tasks(tmp_path, vocabulary)
    seqio.TaskRegistry.remove("lawinstruct.ildc")
    names = register_catalog_tasks(tmp_path, vocabulary)
    assert names == [  # catalog (release table) order
        "lawinstruct.EdgarNER.MainSubset",
        "lawinstruct.bulgarian",
        "lawinstruct.ildc",
        "lawinstruct.IndianNER.MainSubset",
    ]
    assert register_catalog_tasks(tmp_path, vocabulary) == names  # idempotent
    assert task_name("ildc") == "lawinstruct.ildc"
    edgar = seqio.get_mixture_or_task("lawinstruct.EdgarNER.MainSubset")
    assert edgar.num_input_examples("train") == 3
    assert [p.rsplit("/", 1)[-1] for p in edgar.source.list_shards("train")] == [
        "EdgarNER-MainSubset-train-0.jsonl.xz",
        "EdgarNER-MainSubset-train-1.jsonl.xz",
    ]
    assert edgar.shuffle_buffer_size == 3  # one epoch, not seqio's 1000
    from flawn.tasks.metadata import task_metadata

    assert task_metadata("lawinstruct.EdgarNER.MainSubset").get("excluded") == "ner"
    assert task_metadata("lawinstruct.bulgarian").get("prompt_language") == "bg"
    ildc = seqio.get_mixture_or_task("lawinstruct.ildc")
    assert ildc.num_input_examples("train") == 4
    lengths = {"inputs": 32, "targets": 8}
    examples = list(ildc.get_dataset(lengths, shuffle=False).as_numpy_iterator())
    assert len(examples) == 4 and {ex["jurisdiction"] for ex in examples} == {b"INDIA"}

    # Asking for a view fails naming every subset without shards.
    english_research = load_catalog().view("english_research")
    with pytest.raises(
        FileNotFoundError, match=r"55 of 56 .*\n  bva_decisions_label \(expected "
    ) as err:
        register_catalog_tasks(tmp_path, vocabulary, english_research)
    assert "  ildc (" not in str(err.value)
    with pytest.raises(ValueError, match="no count for bulgarian"):
        register_catalog_tasks(
            tmp_path, vocabulary, ["ildc", "bulgarian"], num_examples={"ildc": 4}
        )
    with pytest.raises(ValueError, match="num_examples must be one of"):
        register_catalog_tasks(tmp_path, vocabulary, num_examples="guess")
    with pytest.raises(RegistryError, match="did you mean 'ildc'"):
        register_catalog_tasks(tmp_path, vocabulary, ["ildcc"])


def test_a_folder_without_catalog_shards_is_an_error(tmp_path, sample_dir):
    from flawn import paths
    from flawn.tasks.lawinstruct_catalog import find_catalog_shards, register_catalog_tasks
    from flawn.vocab import load_vocabulary

    # The bundled samples follow the release naming but are not catalog subsets.
    assert find_catalog_shards(sample_dir / "lawinstruct") == {}
    with pytest.raises(FileNotFoundError, match="no shards of any catalog subset"):
        register_catalog_tasks(sample_dir / "lawinstruct", load_vocabulary(str(paths.SAMPLE_VOCAB)))
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        find_catalog_shards(tmp_path / "absent")


def test_catalog_tasks_carry_catalog_metadata(catalog):
    from flawn.tasks.lawinstruct_catalog import catalog_metadata

    fields = catalog_metadata(catalog["swiss_judgment_multiple_choice"])
    assert fields == {
        "dataset_name": "SwissJudgmentPrediction",
        "subset_name": "swiss_judgment_multiple_choice",
        "catalog_name": "swiss_judgment_multiple_choice",
        "jurisdiction": "SWITZERLAND",
        "task_type": "MULTIPLE_CHOICE",
        "prompt_language": "de",
        "answer_language": "en",
        "licence": "commercial",
        "english": "no",
        "excluded": "",
    }
