"""``flawn data clean`` end to end: filters, the versioned copy, its report and its registration."""

from __future__ import annotations

import gzip
import json
import pathlib
import uuid

import pytest

from flawn.cli import main
from flawn.quality.units import units

# A sentence of the bundled LawInstruct sample (contract clauses), planted in a LegalBench-
# shaped test split so that decontamination has something to find in demo.general_plus_legal.
PLANTED = (
    "This Agreement shall be governed by and construed in accordance with the laws of the "
    "State of Georgia"
)
LONG = (
    "The court held that the employer must give written notice of the termination to the "
    "employee at least thirty days before the last working day and that a notice given by "
    "email is valid only when the employment contract expressly allows notices in that form "
    "and the employee has confirmed receipt in writing within three days of the notice"
)


def _write_benchmarks(root: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    task = root / "legalbench" / "tasks" / "contract_qa"
    task.mkdir(parents=True)
    (task / "base_prompt.txt").write_text("Question: {{text}}\nAnswer:")
    (task / "test.tsv").write_text(
        f"index\tanswer\ttext\n0\tYes\t{PLANTED}.\n1\tNo\tThe parties may assign this deal.\n"
    )
    lawbench = root / "lawbench" / "zero_shot"
    lawbench.mkdir(parents=True)
    item = {
        "instruction": "回答问题",
        "question": "合同无效的法律后果是什么呢请具体说明",
        "answer": "A",
    }
    (lawbench / "1-1.json").write_text(json.dumps([item], ensure_ascii=False))
    return root / "legalbench", root / "lawbench"


def _expected_overlaps(ngram: int = 13) -> dict[str, int]:
    """Per sample task, records overlapping PLANTED's item (an independent count).

    The item has fewer than ``min_shared`` (10) 13-grams, so a record overlaps it when it
    holds at least 0.8 of them (``min_coverage``); no 13-gram of two items is a stop word.
    """
    import seqio

    from flawn.quality.example import FORMATS
    from flawn.quality.sources import mixture_sources

    tokens = units(PLANTED)
    grams = {tuple(tokens[i : i + ngram]) for i in range(len(tokens) - ngram + 1)}
    assert len(grams) < 10
    counts = {}
    _, sources = mixture_sources("demo.general_plus_legal")
    for source in sources:
        fmt = FORMATS[source.format]
        found = 0
        for path in seqio.get_mixture_or_task(source.task).source.list_shards("train"):
            for record in fmt.read(path, "error"):
                words = units(fmt.prompt(record)) + units(fmt.answer(record))
                shared = {tuple(words[i : i + ngram]) for i in range(len(words) - ngram + 1)}
                found += len(shared & grams) >= 0.8 * len(grams)
        counts[source.task] = found
    return counts


def _assert_reconciles(counts: dict) -> None:
    previous = None
    for stage in counts["stages"].values():
        assert stage["input"] == stage["kept"] + sum(stage["removed"].values())
        if previous is not None:
            assert stage["input"] == previous["kept"]
        previous = stage
    assert counts["read"] == counts["kept"] + sum(counts["removed"].values())


def test_clean_demo_mixture_through_the_cli(tmp_path, capsys):

    from flawn.mixtures.plan import plan_mixture
    from flawn.quality import contaminated_tasks
    from flawn.quality.registration import register_cleaned
    from flawn.sources.flan import read_flan
    from flawn.sources.lawinstruct import FIELDS, read_shard

    legalbench, lawbench = _write_benchmarks(tmp_path / "bench")
    argv = [
        "data",
        "clean",
        "demo.general_plus_legal",
        "--dedup",
        "--decontaminate",
        "legalbench,lawbench",
        "--legalbench-dir",
        str(legalbench),
        "--lawbench-dir",
        str(lawbench),
        "--stop-texts",  # not the defaults (the fixture's item has fewer than 10 13-grams)
        "5",
        "--min-shared",
        "12",
        "--out",
        str(tmp_path / "out"),
        "--quiet",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    (folder,) = [p for p in (tmp_path / "out").iterdir() if not p.is_symlink()]
    assert (tmp_path / "out" / "demo.general_plus_legal.latest").resolve() == folder.resolve()
    assert folder.name.startswith("demo.general_plus_legal-")
    assert "legalbench: 1 task(s) overlap the input data: contract_qa" in out
    report = json.loads((folder / "report.json").read_text())
    settings = report["settings"]["decontamination"]
    assert [settings[k] for k in ("stop_texts", "min_shared", "min_coverage")] == [5, 12, 0.8]
    assert report["filter_order"] == [
        "read",
        "decontamination",
        "exact_dedup",
        "near_dedup",
    ]
    expected = _expected_overlaps()
    assert sum(expected.values()) > 0
    for counts in report["counts"]:
        _assert_reconciles(counts)
        assert (
            counts["stages"]["decontamination"]["removed"].get("contaminated", 0)
            == (expected[counts["source"]])
        )
    totals = {c["source"]: c for c in report["counts"]}
    assert totals["sample_flan.general"]["read"] == 9000
    assert report["totals"]["read"] == 9000 + 8500
    assert contaminated_tasks(folder) == ["contract_qa"]
    assert (
        (folder / "report.md").read_text().startswith("# Cleaned copy of demo.general_plus_legal")
    )

    # The copy is in the sources' own formats and holds exactly the kept examples.
    for source in report["sources"]:
        files = [folder / source["output_dir"] / f for f in source["output_files"]]
        if source["format"] == "lawinstruct":
            assert all(f.name.endswith(".jsonl.xz") for f in files)
            records = [r for f in files for r in read_shard(f, "error")]
            assert records and set(vars(records[0])) == set(FIELDS)
        else:
            assert [f.name for f in files] == ["general-train-0.jsonl.gz"]
            with gzip.open(files[0], "rt") as stream:
                assert set(json.loads(stream.readline())) >= {"inputs", "targets"}
            records = [r for f in files for r in read_flan(f, "error")]
        assert len(records) == source["kept"] == totals[source["task"]]["kept"]

    # Same inputs and settings: the same folder, reused.
    assert main(argv) == 0
    assert "reused" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [folder.name, "demo.general_plus_legal.latest"]
    )

    # Registered, the cleaned mixture plans with the kept counts and the original's rates.
    name = register_cleaned(folder)
    assert name == "demo.general_plus_legal.clean"
    assert register_cleaned(folder) == name  # idempotent
    plan = plan_mixture(
        name, 2, 4, {"inputs": 64, "targets": 16}, pack=False, sample=4, measure=False
    )
    kept = {f"{name}:{task}": c["kept"] for task, c in totals.items()}
    assert {row.source: row.num_examples for row in plan.rows} == kept
    legal_share = sum(r.share for r in plan.rows if "lawinstruct" in r.source)
    assert legal_share == pytest.approx(0.5)  # legal_share_of_total(0.5) carried over


def test_clean_a_crafted_mixture_with_every_filter(tmp_path):
    from flawn import paths
    from flawn.mixtures import ExamplesProportional, register_mixture
    from flawn.quality.config import (
        CleanConfig,
        DedupConfig,
        LanguageConfig,
        LengthConfig,
    )
    from flawn.quality.pipeline import clean_mixture
    from flawn.sources.flan import FlanRecord, write_flan
    from flawn.sources.lawinstruct import FIELDS, LawInstructRecord, write_shard
    from flawn.tasks.registry import register_flan_file, register_lawinstruct_subset
    from flawn.vocab import load_vocabulary

    tag = uuid.uuid4().hex[:8]
    vocabulary = load_vocabulary(str(paths.SAMPLE_VOCAB))

    def legal(prompt: str, answer: str) -> LawInstructRecord:
        values = dict.fromkeys(FIELDS, "en")
        values.update(
            dataset_name="NaturalInstructionsLegal",
            subset_name=f"ni_{tag}",
            downloaded_timestamp="2026-01-01",
            instruction="Answer the legal question.",
            prompt=prompt,
            answer=answer,
        )
        return LawInstructRecord(**values)

    shards = tmp_path / "lawinstruct"
    shards.mkdir()
    write_shard(
        shards / f"NaturalInstructionsLegal-ni_{tag}-train-0.jsonl.xz",
        [
            legal(LONG, "Yes"),
            legal("Short one.", "No"),  # 7 words with the instruction: too short
            legal(LONG.replace("thirty", "sixty"), "Yes"),  # near duplicate (same source)
        ],
    )
    flan_file = tmp_path / "flan" / "general-train-0.jsonl.gz"
    flan_file.parent.mkdir()
    write_flan(
        flan_file,
        [
            FlanRecord(f"Answer the legal question.\n{LONG}", "Yes", "niv2", "legal"),  # exact
            FlanRecord(
                f"Answer the legal question.\n{LONG.replace('email', 'post')}",
                "Yes",
                "niv2",
                "legal",
            ),  # near duplicate of the legal source's example
            FlanRecord(
                "Der Arbeitgeber muss die Kündigung dem Arbeitnehmer mindestens dreissig Tage "
                "vor dem letzten Arbeitstag schriftlich mitteilen.",
                "Ja",
            ),  # language
            FlanRecord("What is the capital city of France, the country?", "Paris"),  # kept
        ],
    )
    with gzip.open(flan_file, "at") as stream:
        stream.write('{"inputs": "no targets"}\n')  # malformed: skipped under policy skip
    legal_task = register_lawinstruct_subset(
        f"quality_{tag}.legal", shards, f"ni_{tag}", vocabulary, num_examples={"train": 3}
    ).name
    general_task = register_flan_file(
        f"quality_{tag}.general", [str(flan_file)], vocabulary, num_examples=4
    ).name
    mixture = f"quality_{tag}.mix"
    register_mixture(
        mixture, [(legal_task, ExamplesProportional()), (general_task, ExamplesProportional())]
    )
    config = CleanConfig(
        length=LengthConfig(min_words=8),
        language=LanguageConfig(languages=("en",)),
        dedup=DedupConfig(),
        policy="skip",
    )
    result = clean_mixture(mixture, tmp_path / "out", config, progress=False)
    counts = {c["source"]: c for c in result.report["counts"]}
    for c in counts.values():
        _assert_reconciles(c)
    assert counts[legal_task]["removed"] == {
        "length:min_words": 1,
        "near_dedup:near_duplicate": 1,
    }
    assert counts[legal_task]["kept"] == 1
    assert counts[general_task]["read"] == 5
    assert counts[general_task]["removed"] == {
        "read:malformed:missing_field": 1,
        "language:language": 1,
        "exact_dedup:exact_duplicate": 1,
        "near_dedup:near_duplicate": 1,
    }
    assert counts[general_task]["kept"] == 1
    assert counts[general_task]["languages_removed"] == {"de": 1}
    assert counts[general_task]["duplicate_of"] == {
        "exact": {legal_task: 1},
        "near": {legal_task: 1},
    }

    from flawn.quality.registration import register_cleaned

    name = register_cleaned(result.folder)
    assert name == f"{mixture}.clean"
    import seqio

    cleaned = seqio.get_mixture_or_task(name)
    assert sorted(t.num_input_examples("train") for t in cleaned.tasks) == [1, 1]
