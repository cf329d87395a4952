"""Bad-record accounting that reconciles: registration counts, truncated shards, run files."""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from flawn.cli import main
from flawn.errors import RecordError
from flawn.sources import counting
from flawn.sources.alpaca import read_alpaca
from flawn.sources.lawinstruct import read_shard

GOOD = {"instruction": "Name the court.", "input": "", "output": "The Federal Court."}


def _alpaca_jsonl(path, good: int, bad: int):
    """``good`` valid records and ``bad`` broken ones, interleaved."""
    lines = []
    for i in range(good + bad):
        lines.append('{"instruction": "broken' if i % 4 == 1 and bad else json.dumps(GOOD))
        bad -= lines[-1].endswith("broken")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_counts_reconcile_are_cached_and_follow_the_policy(tmp_path, monkeypatch):
    monkeypatch.setenv("FLAWN_CACHE_DIR", str(tmp_path / "cache"))
    path = _alpaca_jsonl(tmp_path / "a.jsonl", good=150, bad=50)
    first = counting.count_file(path, read_alpaca, "alpaca", "skip")
    assert (first.stats.read, first.stats.kept, first.examples) == (200, 150, 150)
    assert dict(first.stats.skipped) == {"bad_json": 50} and first.stats.reconciles()
    assert (tmp_path / "cache" / "record_counts.json").exists()
    again = counting.count_file(path, read_alpaca, "alpaca", "skip")  # from the cache
    assert again.as_dict() == first.as_dict()
    assert counting.file_counts([path])[str(path)]["skipped"] == {"bad_json": 50}
    with pytest.raises(RecordError, match=r"a\.jsonl:2: bad_json"):
        counting.count_file(path, read_alpaca, "alpaca", "error")
    path.write_text(json.dumps(GOOD) + "\n")  # a changed file is counted again
    assert counting.count_file(path, read_alpaca, "alpaca", "skip").examples == 1


def test_a_mostly_unreadable_source_is_planned_with_its_usable_records(tmp_path):
    """52 of 200 readable: the task counts 52, so the plan does not repeat it 4x silently."""
    import flawn.tasks  # noqa: F401
    from flawn import paths
    from flawn.tasks.registry import register_alpaca_file
    from flawn.train.bad_records import bad_record_counts
    from flawn.vocab import load_vocabulary

    path = tmp_path / "mostly_bad.jsonl"
    lines = [json.dumps(GOOD) if i % 50 < 13 else "{not json" for i in range(200)]
    path.write_text("\n".join(lines) + "\n")
    vocabulary = load_vocabulary(str(paths.SAMPLE_VOCAB))
    metadata = {
        "dataset_name": "x", "subset_name": "x", "jurisdiction": "US", "task_type": "QA",
        "instruction_language": "en", "prompt_language": "en", "answer_language": "en",
    }  # fmt: skip
    task = register_alpaca_file(
        "test_bad_records.mostly_bad", [str(path)], vocabulary, metadata, policy="skip"
    )
    assert task.num_input_examples("train") == 52
    counts = bad_record_counts("test_bad_records.mostly_bad")[str(path)]
    assert (counts["read"], counts["kept"], counts["skipped"]) == (200, 52, {"bad_json": 148})
    with pytest.raises(RecordError, match=r"mostly_bad\.jsonl:\d+: bad_json"):
        register_alpaca_file(
            "test_bad_records.strict", [str(path)], vocabulary, metadata, policy="error"
        )


def _truncated_shards(tmp_path):
    """Synthetic release shards, the first subset's (in catalog order) cut in half."""
    from flawn.catalog import load_catalog
    from flawn.samples.catalog_shards import write_catalog_shards
    from flawn.tasks.lawinstruct_catalog import find_catalog_shards

    folder = tmp_path / "shards"
    write_catalog_shards(folder)
    catalog = load_catalog().included()
    first = catalog.names()[0]
    victim = find_catalog_shards(folder, catalog=catalog)[first][0]
    data = pathlib.Path(victim).read_bytes()
    pathlib.Path(victim).write_bytes(data[: len(data) // 2])
    return folder, victim, first


def test_a_truncated_shard_names_itself_or_is_counted(tmp_path):
    import seqio

    import flawn.tasks  # noqa: F401
    from flawn import paths
    from flawn.tasks.lawinstruct_catalog import register_catalog_tasks
    from flawn.vocab import load_vocabulary

    folder, victim, first = _truncated_shards(tmp_path)
    with pytest.raises(RecordError, match="truncated_file"):
        list(read_shard(victim, policy="error"))
    # every command registers FLAWN_LAWINSTRUCT_DIR at start-up: one line naming the shard
    env = {**os.environ, "FLAWN_LAWINSTRUCT_DIR": str(folder)}
    env.pop("FLAWN_BAD_RECORD_POLICY", None)
    run = [sys.executable, "-m", "flawn.cli", "data", "list"]
    done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert errors[-1].startswith(f"flawn: error: {victim}:") and "truncated_file" in errors[-1]
    assert "Traceback" not in done.stderr
    # under skip its unreadable rest is counted and its subset registers with what is usable
    vocabulary = load_vocabulary(str(paths.SAMPLE_VOCAB))
    names = register_catalog_tasks(folder, vocabulary, [first], policy="skip")
    for name in names:  # other test files in this process register the real catalog tasks
        seqio.TaskRegistry.remove(name)
    stats = counting.count_file(victim, read_shard, "lawinstruct", "skip").stats
    assert stats.skipped["truncated_file"] == 1 and stats.reconciles()
    assert stats.kept < stats.read


def test_unknown_names_get_the_nearest_registered_ones(capsys):
    assert main(["data", "plan", "demo.legall", "--steps", "10", "--batch-size", "2"]) == 2
    err = capsys.readouterr().err
    assert "unknown mixture or task 'demo.legall'; did you mean 'demo.legal'" in err
    assert "Traceback" not in err


def test_a_policy_bound_in_gin_is_the_registration_default(monkeypatch):
    from flawn.gin_utils import policy_in_gin

    assert policy_in_gin(["bad_record_policy.policy = 'skip'"], []) == "skip"
    assert policy_in_gin(["TrainConfig.batch_size = 2"], []) is None
    from flawn.sources.policy import bad_record_policy

    monkeypatch.setenv("FLAWN_BAD_RECORD_POLICY", "skip")
    assert bad_record_policy() == "skip"
    monkeypatch.setenv("FLAWN_BAD_RECORD_POLICY", "sometimes")
    with pytest.raises(ValueError, match="must be one of"):
        bad_record_policy()


def _write(path: pathlib.Path, data: bytes) -> pathlib.Path:
    """Writes ``data`` compressed by ``path``'s extension (``.xz``, ``.gz`` or plain)."""
    import gzip
    import lzma

    opener = {".xz": lzma.open, ".gz": gzip.open}.get(path.suffix)
    if opener:
        with opener(path, "wb") as out:
            out.write(data)
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.xz"])
def test_a_bad_byte_names_its_own_line_and_skip_counts_it(tmp_path, suffix):
    # Decoding in blocks reported the block's first line (133 for a bad byte on
    # line 150), and skip stopped at it instead of skipping it.
    lines = [json.dumps({**GOOD, "output": f"answer {i} " + "x" * 60}).encode() for i in range(300)]
    lines[149] = lines[149].replace(b"answer", b"answ\xe9r")  # Latin-1, not UTF-8
    path = _write(tmp_path / f"latin{suffix}", b"\n".join(lines) + b"\n")
    with pytest.raises(RecordError) as caught:
        list(read_alpaca(path, policy="error"))
    assert (caught.value.line, caught.value.reason) == (150, "bad_encoding")
    assert "0xe9" in caught.value.detail
    stats = counting.ReadStats()
    kept = list(read_alpaca(path, policy="skip", stats=stats))
    assert len(kept) == 299 and "answer 150 " in kept[149].output
    assert (stats.read, stats.kept, dict(stats.skipped)) == (300, 299, {"bad_encoding": 1})


def test_a_bad_byte_in_a_json_array_names_its_line_and_skip_counts_it(tmp_path):
    elements = [json.dumps(GOOD, indent=1).encode() for _ in range(3)]
    elements[1] = elements[1].replace(b"Federal", b"F\xe9deral")
    path = _write(tmp_path / "array.json", b"[\n" + b",\n".join(elements) + b"\n]\n")
    bad_line = (b"[\n" + b",\n".join(elements)).split(b"\n").index(
        next(line for line in elements[1].split(b"\n") if b"\xe9" in line)
    ) + 1
    with pytest.raises(RecordError, match=rf"array\.json:{bad_line}: bad_encoding"):
        list(read_alpaca(path, policy="error"))
    stats = counting.ReadStats()
    assert len(list(read_alpaca(path, policy="skip", stats=stats))) == 2
    assert dict(stats.skipped) == {"bad_encoding": 1} and stats.reconciles()


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.xz"])
def test_an_empty_file_is_named_as_empty_under_error_and_counted_under_skip(tmp_path, suffix):
    path = _write(tmp_path / f"empty{suffix}", b"")
    with pytest.raises(RecordError, match=re.escape(f"{path}:0: empty_file: the file is empty")):
        list(read_alpaca(path, policy="error"))
    blank = _write(tmp_path / f"blank{suffix}", b"\n  \n")
    with pytest.raises(RecordError, match="empty_file: the file is empty"):
        counting.count_file(blank, read_alpaca, "alpaca", "error")
    stats = counting.ReadStats()
    assert list(read_alpaca(path, policy="skip", stats=stats)) == []
    assert (stats.read, stats.kept, dict(stats.skipped)) == (1, 0, {"empty_file": 1})


def test_an_empty_file_stops_registration_naming_it_instead_of_all_skipped(tmp_path):
    # It registered with 0 examples, and the plan then blamed the skip policy.
    import flawn.tasks  # noqa: F401
    from flawn import paths
    from flawn.tasks.registry import register_alpaca_file
    from flawn.vocab import load_vocabulary

    path = _write(tmp_path / "nothing.jsonl.gz", b"")
    metadata = {
        "dataset_name": "x", "subset_name": "x", "jurisdiction": "US", "task_type": "QA",
        "instruction_language": "en", "prompt_language": "en", "answer_language": "en",
    }  # fmt: skip
    vocabulary = load_vocabulary(str(paths.SAMPLE_VOCAB))
    with pytest.raises(RecordError) as caught:
        register_alpaca_file(
            "test_bad_records.empty", [str(path)], vocabulary, metadata, policy="error"
        )
    assert caught.value.path == str(path) and caught.value.reason == "empty_file"
    assert "skip" not in str(caught.value)
    shard = _write(tmp_path / "Empty-empty_subset-train-0.jsonl.xz", b"")
    with pytest.raises(RecordError, match="empty_file: the file is empty"):
        list(read_shard(shard, policy="error"))
