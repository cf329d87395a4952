"""``flawn model import-t5x``: a T5X checkpoint becomes a flawn train folder.

The checkpoints are written here: by flawn's own T5X writer (always), and by
T5X's ``Checkpointer`` when T5X is importable by ``FLAWN_T5X_PYTHON`` or this
interpreter (skipped with the reason otherwise).
"""

import json
import os
import subprocess

import jax
import numpy as np
import pytest
from test_t5x import T5X_PYTHON

import flawn.tasks  # noqa: F401  (registers the demo mixture)
from flawn.cli import main
from flawn.models.trees import flatten_tree, unflatten_tree
from flawn.runs import TrainDir
from flawn.t5x import checkpoints

MIXTURE = "demo.general_plus_legal"
LENGTHS = ["--inputs", "144", "--targets", "16"]


def _import(checkpoint, out, *flags):
    return main(["model", "import-t5x", os.fspath(checkpoint), "--out", os.fspath(out), *flags])


def _same_params(got, want):
    got, want = flatten_tree(got), flatten_tree(want)
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        np.testing.assert_array_equal(np.asarray(got[name]), np.asarray(value), err_msg=str(name))


@pytest.fixture(scope="module")
def tiny_params(tmp_path_factory):
    """Parameters of the tiny model on the demo mixture's vocabulary, as flawn builds them."""
    from flawn.train.config import load_train_config
    from flawn.train.local import build_model, init_params, task_vocabulary

    folder = TrainDir(tmp_path_factory.mktemp("config"))
    lengths = {"inputs": 144, "targets": 16}
    folder.write_config(checkpoints.import_config_text("tiny", MIXTURE, lengths, 9, 8))
    config = load_train_config(folder)
    model = build_model(config.model, task_vocabulary(config.mixture_or_task_name))
    params = init_params(model, dict(config.task_feature_lengths), 4)["params"]
    return jax.tree.map(np.asarray, params)


@pytest.fixture(scope="module")
def t5x_checkpoint(tiny_params, tmp_path_factory):
    """The tiny parameters as a T5X checkpoint_9 (flawn's writer: the legacy layout)."""
    return checkpoints.flawn_to_t5x(tiny_params, tmp_path_factory.mktemp("t5x") / "model", 9)


def test_import_writes_a_train_folder_with_the_very_same_parameters(
    tiny_params, t5x_checkpoint, tmp_path, capsys
):
    from flawn.train.checkpoints import read_checkpoint
    from flawn.train.config import load_train_config
    from flawn.train.local import restore_params

    out = tmp_path / "imported"
    assert _import(t5x_checkpoint, out, "--size", "tiny", "--mixture", MIXTURE, *LENGTHS) == 0
    printed = capsys.readouterr().out
    assert f"as a flawn train folder: {out}" in printed
    assert f"flawn infer --checkpoint {out}" in printed

    params, step = checkpoints.read_flawn_params(out)
    assert step == 9
    _same_params(params, tiny_params)
    # What flawn eval run and flawn infer restore, and what a stage's INIT reads.
    config = load_train_config(TrainDir(out))
    assert config.mixture_or_task_name == MIXTURE and config.train_steps == 9
    _, restored, _, restored_step = restore_params(config)
    assert restored_step == 9
    _same_params(restored["params"], tiny_params)
    loaded = read_checkpoint(out)
    assert (loaded.format, loaded.step) == ("flawn", 9)
    # Nothing else is left beside the folder (it is assembled next to it and renamed).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imported"]


def test_like_copies_another_folders_config(t5x_checkpoint, tiny_params, tmp_path):
    first = tmp_path / "first"
    assert _import(t5x_checkpoint, first, "--size", "tiny", "--mixture", MIXTURE, *LENGTHS) == 0
    second = tmp_path / "second"
    assert _import(t5x_checkpoint, second, "--like", os.fspath(first)) == 0
    assert TrainDir(second).config_text() == TrainDir(first).config_text()
    _same_params(checkpoints.read_flawn_params(second)[0], tiny_params)


def test_a_checkpoint_of_another_size_is_refused_naming_the_shapes(
    t5x_checkpoint, tmp_path, capsys
):
    out = tmp_path / "imported"
    assert _import(t5x_checkpoint, out, "--size", "mini", "--mixture", MIXTURE, *LENGTHS) == 2
    error = capsys.readouterr().err
    assert f"{t5x_checkpoint} does not fit the model" in error
    assert "decoder/decoder_norm/scale: shape (128,), expected (256,)" in error  # emb 128 vs 256
    assert "(96 in all)" in error and "Give the size and the mixture" in error
    assert list(tmp_path.iterdir()) == []  # nothing written, no staging folder left


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", "does not exist; give a T5X checkpoint_<step> folder"),
        ("model_dir", "is a T5X model dir holding 1 checkpoint(s); give one of them, e.g. "),
        ("flawn_folder", "is not a T5X checkpoint: expected checkpoint_<step>/"),
    ],
)
def test_what_is_not_one_t5x_checkpoint_is_named(case, expected, t5x_checkpoint, tmp_path, capsys):
    path = {
        "missing": tmp_path / "nowhere",
        "model_dir": t5x_checkpoint.parent,
        "flawn_folder": tmp_path,
    }[case]
    out = tmp_path / "out"
    assert _import(path, out, "--size", "tiny", "--mixture", MIXTURE) == 2
    error = capsys.readouterr().err
    assert f"{path} {expected}" in error
    if case == "model_dir":
        assert os.fspath(t5x_checkpoint) in error
    assert not out.exists()


def test_the_model_must_be_named_and_the_folder_must_be_new(t5x_checkpoint, tmp_path, capsys):
    assert _import(t5x_checkpoint, tmp_path / "a") == 2
    assert "--size SIZE --mixture NAME" in capsys.readouterr().err
    assert _import(t5x_checkpoint, tmp_path / "a", "--like", "x", "--size", "tiny") == 2
    assert "either --like or --size" in capsys.readouterr().err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    assert _import(t5x_checkpoint, busy, "--size", "tiny", "--mixture", MIXTURE) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]


# -- a checkpoint T5X itself wrote ----------------------------------------------------------------
_WRITE_WITH_T5X = """
import json, sys
import jax, numpy as np, seqio
from flax import traverse_util
from t5x import adafactor, checkpoints, models, partitioning, train_state
from t5x.examples.t5 import network

shape, vocab_size, model_dir = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
step = int(sys.argv[4])
config = network.T5Config(vocab_size=vocab_size, dtype="float32", dropout_rate=0.0,
    mlp_activations=("gelu", "linear"), logits_via_embedding=False, **shape)
vocabulary = seqio.PassThroughVocabulary(size=vocab_size)
model = models.EncoderDecoderModel(
    network.Transformer(config), vocabulary, vocabulary, adafactor.Adafactor())
variables = model.get_initial_variables(
    jax.random.PRNGKey(5), {"encoder_input_tokens": (1, 8), "decoder_input_tokens": (1, 4)})
state = train_state.FlaxOptimTrainState.create(model.optimizer_def, variables)
state = state.replace_step(np.asarray(step, np.int32))
partitioner = partitioning.PjitPartitioner(num_partitions=1)
checkpoints.Checkpointer(state, partitioner, model_dir).save(state)
flat = traverse_util.flatten_dict(jax.device_get(state.params), sep="/")
np.savez(model_dir + "/params.npz", **flat)
"""


@pytest.fixture(scope="module")
def t5x_python():
    """A Python that imports T5X, else the test is skipped saying how to get one."""
    if T5X_PYTHON is not None:
        return T5X_PYTHON
    pytest.skip(
        "t5x is not importable; install T5X (docs/t5x.md) and set "
        "FLAWN_T5X_PYTHON=/path/to/that/venv/bin/python to import a checkpoint T5X wrote"
    )


@pytest.mark.slow
def test_a_checkpoint_written_by_t5x_imports_exactly(t5x_python, tiny_params, tmp_path):
    from flawn.models.sizes import SIZES

    vocab_size = int(np.shape(tiny_params["token_embedder"]["embedding"])[0])
    model_dir = tmp_path / "t5x_model"
    result = subprocess.run(
        [
            t5x_python,
            "-c",
            _WRITE_WITH_T5X,
            json.dumps(dict(SIZES["tiny"].shape)),
            str(vocab_size),
            os.fspath(model_dir),
            "7",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "imported"
    flags = ["--size", "tiny", "--mixture", MIXTURE, *LENGTHS]
    assert _import(model_dir / "checkpoint_7", out, *flags) == 0
    params, step = checkpoints.read_flawn_params(out)
    assert step == 7
    with np.load(model_dir / "params.npz") as written:
        want = {tuple(name.split("/")): written[name] for name in written.files}
    _same_params(params, unflatten_tree(want))
