import json
import lzma

import pytest

from flawn.errors import RecordError
from flawn.sources.flan import FlanRecord, read_flan, write_flan
from flawn.sources.lawinstruct import (
    FIELDS,
    LawInstructRecord,
    find_shards,
    parse_shard_name,
    read_shard,
    shard_name,
    write_shard,
)


def _record(**overrides) -> LawInstructRecord:
    values = {field: f"value of {field}" for field in FIELDS}
    values.update(overrides)
    return LawInstructRecord(**values)


def _write_lines(path, lines):
    with lzma.open(path, "wt", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")


def test_shard_round_trips_all_twelve_fields(tmp_path):
    records = [
        _record(
            prompt="Klausel: Dieser Vertrag untersteht schweizerischem Recht.",
            answer="Ja",
            prompt_language="de",
            jurisdiction="SWITZERLAND",
        ),
        _record(prompt="", answer="Article 17"),  # an empty prompt is allowed
    ]
    path = tmp_path / shard_name("DemoSet", "demo_subset", "train", 0)
    assert write_shard(path, records) == 2
    assert list(read_shard(path)) == records
    with lzma.open(path, "rt", encoding="utf-8") as f:
        first = json.loads(f.readline())
    assert tuple(first) == FIELDS  # field order of the release


def test_shard_writing_is_deterministic(tmp_path):
    records = [_record(answer=str(i)) for i in range(50)]
    write_shard(tmp_path / "a.jsonl.xz", records)
    write_shard(tmp_path / "b.jsonl.xz", records)
    assert (tmp_path / "a.jsonl.xz").read_bytes() == (tmp_path / "b.jsonl.xz").read_bytes()


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ('{"dataset_name": "x", ', "bad_json"),
        (json.dumps({f: "x" for f in FIELDS if f != "jurisdiction"}), "missing_field"),
        (json.dumps({**{f: "x" for f in FIELDS}, "answer": "  "}), "empty_field"),
        (json.dumps({**{f: "x" for f in FIELDS}, "answer": 3}), "wrong_type"),
        ("[1, 2, 3]", "not_an_object"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, bad_line, reason):
    good = _record().to_json()
    path = tmp_path / "Demo-demo_subset-train-0.jsonl.xz"
    _write_lines(path, [good, good, bad_line, good])
    with pytest.raises(RecordError) as caught:
        list(read_shard(path))
    err = caught.value
    assert (err.path, err.line, err.reason) == (str(path), 3, reason)
    assert f"{path}:3: {reason}" in str(err)


def test_truncated_xz_is_reported_by_name(tmp_path):
    path = tmp_path / "Demo-demo_subset-train-0.jsonl.xz"
    write_shard(path, [_record(answer=f"answer number {i} " * 20) for i in range(200)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordError) as caught:
        list(read_shard(path))
    assert caught.value.reason == "truncated_file"
    assert str(path) in str(caught.value)


def test_shard_names_parse_and_sort_by_index(tmp_path):
    for index in (10, 2, 0):
        write_shard(tmp_path / shard_name("Data", "sub_set", "train", index), [_record()])
    write_shard(tmp_path / shard_name("Data", "other", "train", 0), [_record()])
    found = find_shards(tmp_path, "sub_set", "train")
    assert [parse_shard_name(p)["index"] for p in found] == ["0", "2", "10"]
    assert parse_shard_name("not-a-shard.txt") is None


def test_flan_round_trip_plain_and_gzip(tmp_path):
    records = [
        FlanRecord("What is 2 plus 2?", "4", "flan2021", "add", "zs_opt"),
        FlanRecord("Hi", "Hello"),
    ]
    for name in ("f.jsonl", "f.jsonl.gz"):
        write_flan(tmp_path / name, records)
        assert list(read_flan(tmp_path / name)) == records


def test_flan_empty_target_is_an_error(tmp_path):
    path = tmp_path / "general.jsonl"
    path.write_text('{"inputs": "a", "targets": "b"}\n{"inputs": "a", "targets": ""}\n')
    with pytest.raises(RecordError, match=r"general\.jsonl:2: empty_field"):
        list(read_flan(path))


def _shard_with_five_kinds_of_broken_lines(tmp_path):
    good = [_record(answer=f"answer {i}") for i in range(6)]
    lines = [
        good[0].to_json(),
        '{"dataset_name": "x", ',  # bad JSON
        good[1].to_json(),
        json.dumps({f: "x" for f in FIELDS if f != "jurisdiction"}),  # missing field
        json.dumps({**{f: "x" for f in FIELDS}, "answer": " "}),  # empty answer
        good[2].to_json(),
        json.dumps({**{f: "x" for f in FIELDS}, "prompt": ["not", "text"]}),  # wrong type
        "42",  # not an object
        good[3].to_json(),
        "",  # blank lines are not records
        good[4].to_json(),
        good[5].to_json(),
    ]
    path = tmp_path / "Demo-demo_subset-train-0.jsonl.xz"
    _write_lines(path, lines)
    return path, good


def test_error_policy_stops_at_the_first_broken_line(tmp_path):
    path, _ = _shard_with_five_kinds_of_broken_lines(tmp_path)
    with pytest.raises(RecordError, match=r":2: bad_json"):
        list(read_shard(path, policy="error"))


def test_skip_policy_keeps_good_records_and_counts_every_skip(tmp_path):
    from flawn.sources.policy import LEDGER, ReadStats

    path, good = _shard_with_five_kinds_of_broken_lines(tmp_path)
    LEDGER.clear()
    stats = ReadStats()
    assert list(read_shard(path, policy="skip", stats=stats)) == good
    assert stats.read == 11 and stats.kept == 6
    assert dict(stats.skipped) == {
        "bad_json": 1,
        "missing_field": 1,
        "empty_field": 1,
        "wrong_type": 1,
        "not_an_object": 1,
    }
    assert stats.reconciles()
    assert LEDGER.snapshot()[str(path)]["skipped"]["bad_json"] == 1


def test_skip_policy_counts_a_truncated_tail_once(tmp_path):
    from flawn.sources.policy import ReadStats

    path = tmp_path / "Demo-demo_subset-train-0.jsonl.xz"
    write_shard(path, [_record(answer=f"answer number {i} " * 20) for i in range(200)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    stats = ReadStats()
    kept = list(read_shard(path, policy="skip", stats=stats))
    assert 0 < stats.kept == len(kept) < 200 and stats.skipped == {"truncated_file": 1}
    assert stats.reconciles()


def test_unknown_policy_is_rejected(tmp_path):
    path, _ = _shard_with_five_kinds_of_broken_lines(tmp_path)
    with pytest.raises(ValueError, match="policy must be one of"):
        list(read_shard(path, policy="ignore"))


def test_source_hands_records_to_tf_data_in_chunks_without_losing_or_reordering(
    tmp_path, monkeypatch
):
    """Chunk boundaries inside and across shards: every record once, in reading order."""
    from flawn.tasks import sources

    monkeypatch.setattr(sources, "_CHUNK", 3)
    paths = []
    for index, count in enumerate((4, 3)):
        records = [_record(prompt=f"shard {index} record {i}", answer=str(i)) for i in range(count)]
        paths.append(tmp_path / shard_name("DemoSet", "demo_subset", "train", index))
        write_shard(paths[-1], records)
    source = sources.LawInstructSource({"train": [str(p) for p in paths]})
    read = [
        {field: value.decode() for field, value in example.items()}
        for example in source.get_dataset("train", shuffle=False).as_numpy_iterator()
    ]
    expected = [
        {field: getattr(record, field) for field in FIELDS}
        for path in paths
        for record in read_shard(path)
    ]
    assert len(read) == 7
    assert read == expected
