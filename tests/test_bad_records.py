"""Bad-record accounting that reconciles: registration counts, truncated shards, run files."""

import json
import os
import pathlib
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
