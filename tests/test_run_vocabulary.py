"""A run's vocabulary is a recorded, checked setting: plan warns and launch refuses a mismatch."""

import dataclasses
import json
import os
import pathlib
import shutil

import pytest
from sentencepiece import sentencepiece_model_pb2 as model_pb2

import flawn.tasks  # noqa: F401  (registers the demo mixtures)
from flawn import paths
from flawn.errors import ConfigError
from flawn.runs import RunDir
from flawn.runs.run_vocabulary import (
    T5,
    checkpoint_vocabulary,
    describe_run_vocabulary,
    describe_stage_vocabularies,
    vocabulary_problems,
)
from flawn.vocab import load_vocabulary

SAMPLE_PIECES = 1152


def _resolve(size="tiny", backend="local", **sweep):
    """The demo's first run, resolved with extra ``Sweep`` settings and macros."""
    from flawn.sweeps.spec import expand, load_sweep, resolve_run

    macros = {"TASK_FEATURE_LENGTHS": {"inputs": 144, "targets": 16}, "TRAIN_STEPS": 10,
              "BATCH_SIZE": 8, **sweep.pop("macros", {})}  # fmt: skip
    bindings = [
        f"Sweep.macros = {macros!r}",
        "Sweep.mixtures = ['demo.general_plus_legal']",
        "Sweep.baseline_mixture = 'demo.general_plus_legal'",
        f"Sweep.sizes = [{size!r}]",
        "Sweep.bindings = []",
        *[f"Sweep.{k} = {v!r}" for k, v in sweep.items()],
    ]
    sweep_ = load_sweep("experiments/demo.gin", bindings)
    return resolve_run(sweep_, expand(sweep_)[0], backend=backend)


@pytest.fixture(scope="module")
def t5_sized_copy(tmp_path_factory):
    """A stand-in for a local copy of T5's vocabulary: a valid model of 32,000 pieces."""
    proto = model_pb2.ModelProto()
    with open(paths.SAMPLE_VOCAB, "rb") as f:
        proto.ParseFromString(f.read())
    for index in range(T5.pieces - len(proto.pieces)):
        proto.pieces.add(
            piece=f"legal{index}", score=0.0, type=model_pb2.ModelProto.SentencePiece.USER_DEFINED
        )
    path = tmp_path_factory.mktemp("vocab") / "t5.model"
    path.write_bytes(proto.SerializeToString())
    return str(path)


def test_a_run_records_its_vocabulary_and_it_is_part_of_the_id():
    spec = _resolve()
    recorded = spec.vocabulary_model
    assert recorded["path"] == os.path.abspath(paths.SAMPLE_VOCAB)
    assert (recorded["pieces"], recorded["extra_ids"]) == (SAMPLE_PIECES, 100)
    assert len(recorded["sha256"]) == 64 and recorded["requested"] is None
    # The sample vocabulary keeps the ids runs had before it was recorded.
    assert dataclasses.replace(spec, vocabulary_model=None).run_id == spec.run_id
    other = dataclasses.replace(spec, vocabulary_model={**recorded, "sha256": "0" * 64})
    assert other.run_id != spec.run_id
    moved = dataclasses.replace(other, vocabulary_model={**other.vocabulary_model, "path": "/x"})
    assert moved.run_id == other.run_id  # where the file lies is not what is trained
    assert other.legacy_run_id() == spec.legacy_run_id()  # older ids had no vocabulary
    back = type(spec).from_json(json.loads(json.dumps(spec.to_json())))  # spec.json keeps it
    assert back.vocabulary_model == recorded and back.run_id == spec.run_id


def test_a_public_checkpoint_with_the_sample_vocabulary_is_a_plan_warning_and_a_launch_error(
    tmp_path,
):
    """T5 1.1 small fine-tuned with the 1,152-piece sample vocabulary: refused on both backends."""
    from flawn.sweeps.planning import plan_sweep

    spec = _resolve(size="small", backend="t5x")
    (problem,) = vocabulary_problems(spec)
    assert problem.startswith(
        "stage finetune: the initial checkpoint "
        "gs://t5-data/pretrained_models/t5x/t5_1_1_small/checkpoint_1000000 was trained with "
        "T5 1.1 / Flan-T5's gs://t5-data/vocabs/cc_all.32000/sentencepiece.model (32,000 "
        "pieces + 100 extra ids), not the run's "
    )
    assert f"({SAMPLE_PIECES:,} pieces + 100 extra ids)" in problem
    assert "Sweep.vocabulary = 't5' and FLAWN_VOCABULARY to a local copy of" in problem
    bindings = ["Sweep.sizes = ['small']", "Sweep.bindings = []"]
    plan = plan_sweep("experiments/demo.gin", bindings, tmp_path, backend="t5x", strict=False)
    assert any(w.startswith(problem) for w in plan.warnings)
    with pytest.raises(ConfigError, match="not the run's"):
        plan_sweep("experiments/demo.gin", bindings, tmp_path, backend="t5x", strict=True)


def test_asking_for_t5s_vocabulary_checks_what_the_mixtures_are_tokenized_with(t5_sized_copy):
    spec = _resolve(size="small", backend="t5x", vocabulary="t5")
    (problem,) = vocabulary_problems(spec)  # the checkpoint agrees with what is asked for
    assert problem.startswith(
        "the run asks for the vocabulary T5 1.1 / Flan-T5's "
        "gs://t5-data/vocabs/cc_all.32000/sentencepiece.model (32,000 pieces + 100 extra ids) "
        "(Sweep.vocabulary), but stage finetune's mixture 'demo.general_plus_legal' is "
        f"tokenized with {paths.SAMPLE_VOCAB} ({SAMPLE_PIECES:,} pieces + 100 extra ids)"
    )
    assert "set FLAWN_VOCABULARY to a local copy of gs://t5-data/vocabs/" in problem
    # Tokenized with a local copy of it (FLAWN_VOCABULARY): nothing to say, the hash recorded.
    copy = describe_run_vocabulary(load_vocabulary(t5_sized_copy), "t5")
    assert copy["pieces"] == T5.pieces and copy["requested"]["name"] == "t5"
    fixed = dataclasses.replace(spec, vocabulary_model=copy)
    assert vocabulary_problems(fixed) == []
    assert fixed.run_id != spec.run_id
    with pytest.raises(ConfigError, match="neither a known vocabulary"):
        _resolve(vocabulary="t6")


def test_stages_tokenized_with_different_vocabularies_are_refused(t5_sized_copy):
    spec = _resolve()
    sample, other = load_vocabulary(str(paths.SAMPLE_VOCAB)), load_vocabulary(t5_sized_copy)
    recorded = describe_stage_vocabularies(
        [("pretrain", "multilegalpile.sample", sample), ("finetune", "legal.t5", other)]
    )
    assert list(recorded["other_stages"]) == ["finetune"]
    (problem,) = vocabulary_problems(dataclasses.replace(spec, vocabulary_model=recorded))
    assert problem.startswith(
        f"stage finetune's mixture 'legal.t5' is tokenized with {t5_sized_copy} (32,000 pieces "
        f"+ 100 extra ids), stage pretrain's with {paths.SAMPLE_VOCAB}"
    )
    same = describe_stage_vocabularies([("a", "x", sample), ("b", "y", sample)])
    assert "other_stages" not in same
    assert vocabulary_problems(dataclasses.replace(spec, vocabulary_model=same)) == []


def test_the_local_backend_refuses_a_flawn_run_of_another_vocabulary(tmp_path, t5_sized_copy):
    from flawn.train.backend import LocalBackend

    source = _resolve()
    other = RunDir(tmp_path / "other")
    recorded = describe_run_vocabulary(load_vocabulary(t5_sized_copy))
    other.write_spec(dataclasses.replace(source, vocabulary_model=recorded).to_json())
    spec = _resolve(macros={"INIT": os.fspath(other.path)})
    with pytest.raises(ConfigError) as err:
        LocalBackend().validate(spec)
    message = str(err.value)
    assert (
        f"the initial checkpoint {other.path} was trained with {t5_sized_copy} (32,000" in message
    )
    assert "not the run's" in message and f"set FLAWN_VOCABULARY={t5_sized_copy}" in message
    # One of its stages names the same run; a run of the same vocabulary is fine.
    stage = other.path / "stages" / "finetune"
    stage.mkdir(parents=True)
    assert checkpoint_vocabulary(os.fspath(stage))["pieces"] == T5.pieces
    same = RunDir(tmp_path / "same")
    same.write_spec(source.to_json())
    assert vocabulary_problems(_resolve(macros={"INIT": os.fspath(same.path)})) == []


def test_a_hugging_face_folder_is_checked_by_its_spiece_model(tmp_path, t5_sized_copy):
    folder = tmp_path / "hf"
    folder.mkdir()
    shutil.copyfile(t5_sized_copy, folder / "spiece.model")
    (folder / "tokenizer_config.json").write_text(json.dumps({"extra_ids": 100}))
    described = checkpoint_vocabulary(os.fspath(folder))
    assert (described["pieces"], described["extra_ids"]) == (T5.pieces, 100)
    spec = dataclasses.replace(
        _resolve(), stages=(dataclasses.replace(_resolve().stages[0], init=os.fspath(folder)),)
    )
    (problem,) = vocabulary_problems(spec)
    assert f"the initial checkpoint {folder} was trained with" in problem
    shutil.copyfile(paths.SAMPLE_VOCAB, folder / "spiece.model")
    assert vocabulary_problems(spec) == []


class _Bucket:
    """Stands in for Cloud Storage in epath: ``gs://bucket/<name>`` is ``<folder>/<name>``."""

    folder = ""
    reads = 0

    def __init__(self, path):
        self.path = str(path)

    def read_bytes(self):
        type(self).reads += 1
        name = self.path.removeprefix("gs://bucket/")
        if not os.path.isfile(os.path.join(self.folder, name)):
            raise RuntimeError("Could not resolve host: www.googleapis.com\nmore detail")
        with open(os.path.join(self.folder, name), "rb") as f:
            return f.read()


def test_a_remote_vocabulary_is_read_through_a_local_copy_or_says_what_to_do(tmp_path, monkeypatch):
    from etils import epath

    from flawn.vocab import local_copy

    monkeypatch.setenv("FLAWN_CACHE_DIR", os.fspath(tmp_path / "cache"))
    monkeypatch.setattr(epath, "Path", _Bucket)
    _Bucket.folder = os.path.dirname(paths.SAMPLE_VOCAB)
    with pytest.raises(ConfigError) as err:
        local_copy("gs://bucket/missing.model")
    assert str(err.value) == (
        "the vocabulary gs://bucket/missing.model cannot be read from this host (RuntimeError: "
        "Could not resolve host: www.googleapis.com); copy it to a local file (gcloud storage "
        "cp gs://bucket/missing.model .) and set FLAWN_VOCABULARY to that file"
    )
    name = os.path.basename(paths.SAMPLE_VOCAB)
    copied = local_copy(f"gs://bucket/{name}")
    assert copied.startswith(os.fspath(tmp_path / "cache"))
    assert pathlib.Path(copied).read_bytes() == pathlib.Path(paths.SAMPLE_VOCAB).read_bytes()
    reads = _Bucket.reads
    assert local_copy(f"gs://bucket/{name}") == copied and _Bucket.reads == reads  # once
