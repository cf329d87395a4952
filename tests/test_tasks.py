import json
import lzma
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import seqio

import flawn.tasks  # noqa: F401  (registers tasks and mixtures)
from flawn import paths
from flawn.errors import RecordError
from flawn.sources.lawinstruct import FIELDS, METADATA_FIELDS
from flawn.tasks.registry import (
    SAMPLE_GENERAL_TASK,
    register_lawinstruct_subset,
    sample_lawinstruct_tasks,
)
from flawn.train.data import reraise_data_errors, train_batches
from flawn.vocab import load_vocabulary

LENGTHS = {"inputs": 144, "targets": 16}


@pytest.mark.slow
def test_tasks_and_mixture_load_in_a_fresh_process_with_the_declared_shares():
    """The issue's acceptance check: a fresh interpreter, `import flawn.tasks`, 4k examples."""
    script = textwrap.dedent("""
        import collections, json, os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import seqio
        import flawn.tasks
        mixture = seqio.get_mixture_or_task("demo.general_plus_legal")
        rates = {t.name: mixture.get_rate(t) for t in mixture.tasks}
        lengths = {"inputs": 144, "targets": 16}
        ds = mixture.get_dataset(lengths, split="train", shuffle=True, seed=7,
                                 passthrough_features=["dataset_name", "subset_name"])
        counts = collections.Counter()
        for ex in ds.take(4000).as_numpy_iterator():
            counts[ex["dataset_name"].decode() + "/" + ex["subset_name"].decode()] += 1
        task = seqio.get_mixture_or_task("sample_lawinstruct.gdpr_rights_article")
        first = next(task.get_dataset(lengths, shuffle=False).as_numpy_iterator())
        print(json.dumps({"rates": rates, "counts": counts, "targets": first["targets"].tolist()}))
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    total_rate = sum(result["rates"].values())
    # Map each task to the (dataset/subset) key the passthrough features give.
    expected = {}
    for task_name, rate in result["rates"].items():
        key = "general" if task_name == SAMPLE_GENERAL_TASK else task_name.split(".", 1)[1]
        expected[key] = rate / total_rate
    observed = {}
    for key, count in result["counts"].items():
        dataset, subset = key.split("/")
        name = "general" if dataset == "Flan" else subset
        observed[name] = observed.get(name, 0) + count / 4000
    assert set(observed) == set(expected)
    for name, share in expected.items():
        assert abs(observed[name] - share) < 0.03, (name, observed[name], share)
    assert abs(expected["general"] - 0.5) < 1e-9  # legal share 0.5 of the total
    assert result["targets"][-1] == 1  # EOS appended


def test_every_sample_task_yields_inputs_targets_and_metadata():
    names = [*sample_lawinstruct_tasks(), SAMPLE_GENERAL_TASK]
    assert len(names) == 6
    for name in names:
        task = seqio.get_mixture_or_task(name)
        example = next(task.get_dataset(LENGTHS, shuffle=False).as_numpy_iterator())
        assert example["inputs"].dtype == np.int32 and example["targets"][-1] == 1
        for key in METADATA_FIELDS:
            assert isinstance(example[key], bytes), (name, key)
        assert "downloaded_timestamp" not in example  # provenance-only fields are dropped


def test_lawinstruct_inputs_join_instruction_and_prompt():
    task = seqio.get_mixture_or_task("sample_lawinstruct.swiss_rulings_outcome")
    example = next(task.get_dataset(None, shuffle=False).as_numpy_iterator())
    text = example["inputs_pretokenized"].decode()
    instruction, prompt = text.split("\n\n", 1)
    assert instruction.startswith("Did the Swiss Federal Supreme Court")
    assert prompt.startswith("Judgment: Urteil vom")
    assert example["jurisdiction"] == b"SWITZERLAND"
    assert example["prompt_language"] == b"de"


def test_identical_seeded_loads_give_identical_first_batches():
    first = next(train_batches("demo.general_plus_legal", LENGTHS, batch_size=8, seed=11))
    again = next(train_batches("demo.general_plus_legal", LENGTHS, batch_size=8, seed=11))
    other = next(train_batches("demo.general_plus_legal", LENGTHS, batch_size=8, seed=12))
    assert first.keys() == again.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(first["encoder_input_tokens"], other["encoder_input_tokens"])
    assert first["encoder_segment_ids"].max() > 1  # rows are packed


def test_skipping_batches_resumes_the_same_stream():
    stream = train_batches("demo.general_plus_legal", LENGTHS, batch_size=4, seed=5)
    batches = [next(stream) for _ in range(3)]
    resumed = next(
        train_batches("demo.general_plus_legal", LENGTHS, batch_size=4, seed=5, skip_batches=2)
    )
    np.testing.assert_array_equal(
        resumed["encoder_input_tokens"], batches[2]["encoder_input_tokens"]
    )


def test_malformed_shard_line_stops_the_pipeline_with_file_and_line(tmp_path):
    path = tmp_path / "Broken-broken_subset-train-0.jsonl.xz"
    good = json.dumps({f: "text" for f in FIELDS})
    with lzma.open(path, "wt", encoding="utf-8") as out:
        out.write(
            good + "\n" + good + "\n" + json.dumps({f: "x" for f in FIELDS if f != "answer"}) + "\n"
        )
    task = register_lawinstruct_subset(
        "test.broken_subset", tmp_path, "broken_subset", load_vocabulary(str(paths.SAMPLE_VOCAB))
    )
    with pytest.raises(RecordError) as caught, reraise_data_errors():
        list(task.get_dataset(LENGTHS, shuffle=False).as_numpy_iterator())
    assert caught.value.path == str(path)
    assert caught.value.line == 3
    assert caught.value.reason == "missing_field"


def test_missing_shards_are_reported_with_the_expected_name(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"no train shards for subset 'absent'.*absent-train-0"
    ):
        register_lawinstruct_subset(
            "test.absent", tmp_path, "absent", load_vocabulary(str(paths.SAMPLE_VOCAB))
        )


def test_skip_policy_applies_inside_the_seqio_pipeline(tmp_path):
    from flawn.sources.policy import LEDGER

    path = tmp_path / "Mixed-mixed_subset-train-0.jsonl.xz"
    good = json.dumps({f: "text" for f in FIELDS})
    with lzma.open(path, "wt", encoding="utf-8") as out:
        out.write("\n".join([good, "{oops", good, json.dumps({"answer": "x"}), good]) + "\n")
    LEDGER.clear()
    task = register_lawinstruct_subset(
        "test.mixed_subset",
        tmp_path,
        "mixed_subset",
        load_vocabulary(str(paths.SAMPLE_VOCAB)),
        policy="skip",
    )
    examples = list(task.get_dataset(LENGTHS, shuffle=False).as_numpy_iterator())
    assert len(examples) == 3
    counts = LEDGER.snapshot()[str(path)]
    assert counts == {
        "read": 5,
        "kept": 3,
        "skipped": {"bad_json": 1, "missing_field": 1},
        "passes": 1,
    }


def _swiss_instructions(bindings):
    import gin

    from flawn.errors import ConfigError  # noqa: F401

    gin.clear_config()
    gin.parse_config(bindings)
    try:
        task = seqio.get_mixture_or_task("sample_lawinstruct.swiss_rulings_outcome")
        examples = list(task.get_dataset(None, shuffle=False).take(60).as_numpy_iterator())
    finally:
        gin.clear_config()
    return [ex["inputs_pretokenized"].decode().split("\n\n", 1)[0] for ex in examples], examples


def test_instruction_bank_size_and_language_are_gin_parameters():
    from flawn.samples.banks import INSTRUCTION_BANKS

    bank = INSTRUCTION_BANKS["swiss_rulings_outcome"]
    plain, _ = _swiss_instructions("")
    one, _ = _swiss_instructions("format_lawinstruct.bank_size = 1")
    assert set(plain) == set(one) == {bank["en"][0]}  # k = 1 is the canonical instruction
    five, examples = _swiss_instructions("format_lawinstruct.bank_size = 5")
    assert set(five) <= set(bank["en"][:5]) and len(set(five)) >= 3
    assert five == _swiss_instructions("format_lawinstruct.bank_size = 5")[0]  # stable per example
    german, examples = _swiss_instructions(
        "format_lawinstruct.bank_size = 10\nformat_lawinstruct.instruction_language = 'de'"
    )
    assert set(german) <= set(bank["de"]) and examples[0]["instruction_language"] == b"de"
    joined, _ = _swiss_instructions("format_lawinstruct.joiner = ' | '")
    assert all("? Answer approval or dismissal. | Judgment: Urteil" in i for i in joined)


def test_too_large_bank_size_is_a_config_error():
    from flawn.errors import ConfigError

    with pytest.raises(ConfigError, match="fewer than 20 paraphrases"):
        _swiss_instructions("format_lawinstruct.bank_size = 20")


def test_bundled_pretraining_sample_is_a_span_corruption_task():
    task = seqio.get_mixture_or_task("sample_mlp.de_caselaw")
    example = next(
        task.get_dataset({"inputs": 128, "targets": 32}, shuffle=False, seed=1).as_numpy_iterator()
    )
    vocab = task.output_features["targets"].vocabulary
    assert example["targets"][0] == vocab.vocab_size - 1
    assert example["task_type"] == b"PRETRAINING" and example["jurisdiction"] == b"SWITZERLAND"
    assert task.num_input_examples("train") == 150


def test_the_default_shuffle_buffer_is_seqios_unless_the_environment_caps_it(monkeypatch):
    import seqio

    from flawn.errors import ConfigError
    from flawn.tasks.registry import default_shuffle_buffer_size

    monkeypatch.delenv("FLAWN_SHUFFLE_BUFFER_SIZE", raising=False)
    assert default_shuffle_buffer_size() == seqio.SHUFFLE_BUFFER_SIZE == 1000
    monkeypatch.setenv("FLAWN_SHUFFLE_BUFFER_SIZE", "64")
    assert default_shuffle_buffer_size() == 64
    monkeypatch.setenv("FLAWN_SHUFFLE_BUFFER_SIZE", "lots")
    with pytest.raises(ConfigError, match="FLAWN_SHUFFLE_BUFFER_SIZE must be a positive integer"):
        default_shuffle_buffer_size()
