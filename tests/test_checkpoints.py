"""Checkpoints in and out: starting stages from flawn, T5X and Hugging Face folders, export,
and unreadable newest checkpoints. Every checkpoint is written by the test itself."""

import importlib.util
import json
import logging
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flawn.tasks  # noqa: F401  (registers the demo mixtures)
from flawn.errors import ConfigError, FlawnError
from flawn.models import hf
from flawn.runs import RunDir, TrainDir
from flawn.t5x.checkpoints import write_t5x_checkpoint
from flawn.train import checkpoints
from flawn.train.backend import LocalBackend
from flawn.train.checkpoints import Checkpointer, CheckpointError

MIXTURE = "demo.general_plus_legal"
ENC = np.array([[5, 6, 7, 8, 1, 0], [9, 9, 3, 1, 0, 0]])
DEC = np.array([[0, 9, 10, 11], [0, 4, 5, 6]])


# -- helpers -------------------------------------------------------------------------------------
def corrupt(step_dir: pathlib.Path) -> None:
    """Truncates every data file of an orbax checkpoint to half its size (a copy cut short)."""
    step_dir = pathlib.Path(step_dir)  # TrainDir paths are etils paths, which refuse rglob
    data = [p for p in step_dir.rglob("*") if p.is_file() and p.parent.name == "d"]
    assert data, f"no orbax data files under {step_dir}"
    for path in data:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _spec(init: str, bindings=()):
    from flawn.sweeps.spec import Sweep, SweepPoint, resolve_run

    sweep = Sweep(
        name="init",
        mixtures=[MIXTURE],
        baseline_mixture=MIXTURE,
        regimes=["finetune"],
        macros={
            "TASK_FEATURE_LENGTHS": {"inputs": 32, "targets": 8},
            "TRAIN_STEPS": 2,
            "BATCH_SIZE": 2,
            "INIT": init,
        },
        bindings=["TrainConfig.use_wandb = False", "TrainConfig.report_data = False", *bindings],
    )
    point = SweepPoint({"mixture": MIXTURE, "size": "tiny", "regime": "finetune", "seed": 0}, {})
    return resolve_run(sweep, point)


def _logits(params, config):
    from flawn.models.t5 import Transformer

    return np.asarray(Transformer(config).apply({"params": params}, ENC, DEC))


def _assert_same(a, b):
    for (path, x), y in zip(
        jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=str(path))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A flawn train folder of the tiny size (sample vocabulary) with checkpoints at 3 and 6.

    Returns ``(train_dir, model_config, params_at_6)``; the parameters are
    perturbed random ones, so nothing is a constant.
    """
    from flawn.train.config import load_train_config
    from flawn.train.local import build_model, init_params, task_vocabulary
    from flawn.train.optim import make_optimizer

    spec = _spec("scratch")
    source = TrainDir(tmp_path_factory.mktemp("flawn") / "source")
    source.write_config(spec.stages[0].gin)
    config = load_train_config(source)
    model = build_model(config.model, task_vocabulary(config.mixture_or_task_name))
    params = init_params(model, dict(config.task_feature_lengths), 11)["params"]
    rng = np.random.default_rng(0)
    optimizer = make_optimizer(config.optimizer, config.train_steps)
    checkpointer = Checkpointer(source.checkpoint_dir)
    for step in (3, 6):
        params = jax.tree.map(
            lambda a: a + jnp.asarray(rng.normal(size=a.shape), jnp.float32) * 0.05, params
        )
        checkpointer.save(
            step,
            {
                "params": params,
                "opt_state": optimizer.init(params),
                "step": jnp.asarray(step, jnp.int32),
                "examples_seen": np.asarray(8 * step, np.int64),
            },
        )
    checkpointer.close()
    return source, model.config, jax.tree.map(np.asarray, params)


# -- reading any kind of checkpoint --------------------------------------------------------------
def test_folders_are_recognised_by_their_contents(tiny, tmp_path):
    source, config, params = tiny
    hf.write_hf_checkpoint(params, tmp_path / "hf", config)
    t5x = write_t5x_checkpoint(params, tmp_path / "t5x", 6)
    assert checkpoints.checkpoint_format(source.path) == "flawn"
    assert checkpoints.checkpoint_format(tmp_path / "hf") == "hf"
    assert checkpoints.checkpoint_format(t5x) == "t5x"
    assert checkpoints.checkpoint_format(tmp_path / "t5x") is None
    assert "name one, e.g. " in checkpoints.describe_unknown(tmp_path / "t5x")
    assert str(t5x) in checkpoints.describe_unknown(tmp_path / "t5x")
    for path, kind, step in (
        (source.path, "flawn", 6),
        (tmp_path / "hf", "hf", None),
        (t5x, "t5x", 6),
    ):
        loaded = checkpoints.read_checkpoint(path)
        assert (loaded.format, loaded.step, loaded.embedding_rows) == (kind, step, 1280)
        _assert_same(loaded.params, params)


def test_flawn_to_hf_and_t5x_and_back_keeps_the_logits(tiny, tmp_path):
    source, config, params = tiny
    expected = _logits(params, config)
    to_hf = checkpoints.export_checkpoint(source.path, tmp_path / "hf", "hf")
    assert to_hf["step"] == 6 and to_hf["config"]["vocab_size"] == 1280
    assert to_hf["tokenizer"].startswith("spiece.model")
    provenance = json.loads((tmp_path / "hf" / hf.PROVENANCE_FILE).read_text())
    assert provenance["step"] == 6 and str(source.checkpoint_dir) in provenance["source"]
    back = checkpoints.read_checkpoint(tmp_path / "hf").params
    np.testing.assert_array_equal(_logits(back, config), expected)

    to_t5x = checkpoints.export_checkpoint(source.path, tmp_path / "t5x", "t5x")
    assert to_t5x["path"].endswith("checkpoint_6")
    back = checkpoints.read_checkpoint(to_t5x["path"]).params
    np.testing.assert_array_equal(_logits(back, config), expected)

    # An older step on request, and Hugging Face -> T5X without a flawn folder in between.
    old = checkpoints.export_checkpoint(source.path, tmp_path / "hf3", "hf", step=3)
    assert old["step"] == 3
    onward = checkpoints.export_checkpoint(tmp_path / "hf", tmp_path / "from_hf", "t5x")
    assert onward["path"].endswith("checkpoint_0")
    np.testing.assert_array_equal(
        _logits(checkpoints.read_checkpoint(onward["path"]).params, config), expected
    )


def test_the_cli_exports_a_run_folder(tiny, tmp_path, capsys):
    from flawn.cli import main

    source, _, _ = tiny
    out = tmp_path / "exported"
    assert (
        main(["model", "export", str(source.path), "--out", str(out), "--max-shard-size", "100KB"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "as Hugging Face T5" in printed and "from_pretrained" in printed
    assert (out / hf.WEIGHTS_INDEX_FILE).exists() and (out / "spiece.model").exists()
    assert (
        main(["model", "export", str(source.path), "--format", "t5x", "--out", str(out / "t5x")])
        == 0
    )
    assert (out / "t5x" / "checkpoint_6" / "checkpoint").exists()
    # A second export into the same folder is refused, not merged.
    assert main(["model", "export", str(source.path), "--out", str(out)]) == 2
    assert "already holds a model" in capsys.readouterr().err


@pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("torch", "transformers")),
    reason="torch and transformers are not installed (the `bench` extra)",
)
def test_an_exported_run_loads_in_transformers_with_its_tokenizer(tiny, tmp_path):
    import torch
    import transformers

    from flawn.train.local import task_vocabulary

    source, config, params = tiny
    checkpoints.export_checkpoint(source.path, tmp_path / "hf", "hf")
    model = transformers.T5ForConditionalGeneration.from_pretrained(tmp_path / "hf").eval()
    with torch.no_grad():
        theirs = model(
            input_ids=torch.tensor(ENC),
            attention_mask=torch.tensor(ENC > 0, dtype=torch.long),
            decoder_input_ids=torch.tensor(DEC),
        ).logits.numpy()
    difference = float(np.abs(theirs - _logits(params, config)).max())
    print(f"transformers vs flawn logits (tiny size): max abs diff {difference:.2e}")
    assert difference < 1e-4
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    text = "The court held that the contract was void."
    seqio_ids = [int(i) for i in task_vocabulary(MIXTURE).encode(text)]
    assert tokenizer(text).input_ids == [*seqio_ids, 1]  # T5Tokenizer appends EOS


# -- starting a stage from a checkpoint ----------------------------------------------------------
@pytest.fixture
def recorded(monkeypatch):
    """Replaces the training loop by a recorder: what the backend would train from."""
    import flawn.train.local as local

    starts = []

    def record(config, **kwargs):
        starts.append(kwargs.get("initial_params"))

    monkeypatch.setattr(local, "train", record)
    return starts


@pytest.mark.parametrize("kind", ["flawn", "hf", "t5x"])
def test_a_stage_starts_from_any_kind_of_checkpoint(tiny, tmp_path, recorded, kind):
    source, config, params = tiny
    init = {
        "flawn": lambda: source.path,
        "hf": lambda: (hf.write_hf_checkpoint(params, tmp_path / "hf", config), tmp_path / "hf")[1],
        "t5x": lambda: write_t5x_checkpoint(params, tmp_path / "t5x", 6),
    }[kind]()
    spec = _spec(os.fspath(init))
    LocalBackend().validate(spec)
    LocalBackend().train(spec, RunDir(tmp_path / "run"))
    (initial,) = recorded
    _assert_same(initial, params)


def _shrunk(params, rows):
    """The parameters with the embedding and output layer cut (or padded) to ``rows``."""
    out = jax.tree.map(np.copy, params)
    embedding = out["token_embedder"]["embedding"]
    kernel = out["decoder"]["logits_dense"]["kernel"]
    extra = max(0, rows - embedding.shape[0])
    out["token_embedder"]["embedding"] = np.pad(embedding, ((0, extra), (0, 0)))[:rows]
    out["decoder"]["logits_dense"]["kernel"] = np.pad(kernel, ((0, 0), (0, extra)))[:, :rows]
    return out


def test_a_vocabulary_larger_than_the_embedding_stops_before_training(tiny, tmp_path, recorded):
    _, _, params = tiny
    path = write_t5x_checkpoint(_shrunk(params, 1024), tmp_path / "t5x", 6)
    with pytest.raises(ConfigError) as err:
        LocalBackend().train(_spec(os.fspath(path)), RunDir(tmp_path / "run"))
    message = str(err.value)
    assert "has 1252 ids, but T5X checkpoint" in message and "only 1024 embedding rows" in message
    assert "FLAWN_VOCABULARY" in message and "sample_spm.model" in message
    assert recorded == []  # nothing was trained, compiled or logged


def test_a_larger_embedding_is_fine_when_the_model_keeps_its_rows(tiny, tmp_path, recorded):
    _, _, params = tiny
    padded = _shrunk(params, 1408)  # more rows than the 1,252 ids need, as T5's 32,128
    path = os.fspath(write_t5x_checkpoint(padded, tmp_path / "t5x", 6))
    with pytest.raises(ConfigError, match=r"bind sized_t5_config.vocab_size = 1408"):
        LocalBackend().train(_spec(path), RunDir(tmp_path / "auto"))
    LocalBackend().train(
        _spec(path, ["sized_t5_config.vocab_size = 1408"]), RunDir(tmp_path / "run")
    )
    (initial,) = recorded
    _assert_same(initial, padded)


def test_a_checkpoint_of_another_shape_is_named_before_training(tiny, tmp_path, recorded):
    from flawn.models.t5 import Transformer

    _, config, _ = tiny
    wider = config.__class__(**{**config.__dict__, "mlp_dim": 192})
    other = Transformer(wider).init(
        jax.random.PRNGKey(0), jnp.ones((1, 4), jnp.int32), jnp.ones((1, 4), jnp.int32)
    )
    other = jax.tree.map(np.asarray, other["params"])

    t5x = write_t5x_checkpoint(other, tmp_path / "t5x", 6)
    with pytest.raises(ConfigError) as err:
        LocalBackend().train(_spec(os.fspath(t5x)), RunDir(tmp_path / "run"))
    assert (
        "parameter decoder/layers_0/mlp/wi_0/kernel has shape (128, 192) in the checkpoint, "
        "the model needs (128, 256)" in str(err.value)
    )

    hf.write_hf_checkpoint(other, tmp_path / "hf", wider)
    spec = _spec(os.fspath(tmp_path / "hf"))
    # Planning already compares config.json with the size ...
    with pytest.raises(
        ConfigError, match=r"not of size tiny's shape: d_ff \(mlp_dim\): checkpoint 192, model 256"
    ):
        LocalBackend().validate(spec)
    # ... and training does again, with the stage's resolved model.
    with pytest.raises(ConfigError, match=r"d_ff \(mlp_dim\): checkpoint 192, model 256"):
        LocalBackend().train(spec, RunDir(tmp_path / "run2"))
    assert recorded == []


def test_a_folder_that_is_no_checkpoint_is_refused_when_planning(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="is not a checkpoint flawn can start from"):
        LocalBackend().validate(_spec(os.fspath(tmp_path / "empty")))
    with pytest.raises(ConfigError, match=r"does not download checkpoints.*Hugging Face"):
        LocalBackend().validate(_spec("gs://bucket/checkpoint_5"))


# -- unreadable checkpoints ----------------------------------------------------------------------
# Orbax leaves a callback on a closed event loop when a read fails; that says nothing here.
unraisable_ok = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def _small_state(value: float, step: int) -> dict:
    return {
        "params": {"w": np.full((4, 3), value, np.float32)},
        "step": np.asarray(step, np.int32),
    }


@unraisable_ok
def test_an_unreadable_newest_checkpoint_is_reported_and_the_one_before_used(tmp_path, caplog):
    saver = Checkpointer(tmp_path)
    for step in (10, 20):
        saver.save(step, _small_state(step, step))
    saver.close()
    corrupt(tmp_path / "20")

    checkpointer = Checkpointer(tmp_path)
    with caplog.at_level(logging.WARNING, logger="flawn.train.checkpoints"):
        assert checkpointer.latest_step() == 10
    warned = [r.getMessage() for r in caplog.records if "step 20" in r.getMessage()]
    assert len(warned) == 1 and "cannot be read" in warned[0] and "using step 10" in warned[0]
    assert "Requested byte range" in warned[0]  # the error itself, in one line
    restored = checkpointer.restore(_small_state(0, 0))
    assert int(restored["step"]) == 10
    with pytest.raises(CheckpointError, match=r"step 20 .* cannot be read"):
        checkpointer.restore(_small_state(0, 0), 20)
    # Training on from step 10 writes steps 15 and 20 again (orbax would skip a step below
    # its newest); the unreadable folder is set aside.
    checkpointer.save(15, _small_state(15, 15))
    assert any(p.name.startswith("unreadable-20-") for p in tmp_path.iterdir())
    checkpointer.save(20, _small_state(21, 20))
    assert checkpointer.steps() == [15, 20] and checkpointer.latest_step() == 20
    checkpointer.close()
    params, step = checkpoints.read_params(tmp_path)  # the set-aside folder is no step
    assert step == 20 and float(params["w"][0, 0]) == 21


@unraisable_ok
def test_no_readable_checkpoint_is_an_error_naming_each_step(tmp_path):
    saver = Checkpointer(tmp_path)
    saver.save(5, _small_state(5, 5))
    saver.close()
    corrupt(tmp_path / "5")
    with pytest.raises(CheckpointError, match=r"no checkpoint in .* can be read \(step 5: "):
        Checkpointer(tmp_path).latest_step()
    with pytest.raises(CheckpointError, match=r"step 5: "):
        checkpoints.read_params(tmp_path)


@unraisable_ok
def test_reading_parameters_skips_an_unreadable_newest_checkpoint(tiny, tmp_path, caplog):
    import shutil

    source, _, _ = tiny
    copy = TrainDir(tmp_path / "copy")
    shutil.copytree(source.path, copy.path)
    corrupt(copy.checkpoint_dir / "6")
    with caplog.at_level(logging.WARNING, logger="flawn.train.checkpoints"):
        loaded = checkpoints.read_checkpoint(copy.path)
    assert loaded.step == 3
    assert any("step 6" in r.getMessage() for r in caplog.records)
    with pytest.raises(FlawnError, match="step 6"):
        checkpoints.read_checkpoint(copy.path, step=6)


@unraisable_ok
@pytest.mark.slow
def test_training_resumes_before_an_unreadable_checkpoint_and_evaluation_skips_it(tmp_path, caplog):
    from flawn.models.config import T5Config
    from flawn.train.config import OptimizerConfig, TrainConfig
    from flawn.train.local import restore_params, train

    def config(steps):
        return TrainConfig(
            model_dir=str(tmp_path / "run"),
            mixture_or_task_name=MIXTURE,
            task_feature_lengths={"inputs": 32, "targets": 8},
            train_steps=steps,
            batch_size=2,
            model=T5Config(
                emb_dim=32,
                num_heads=2,
                head_dim=8,
                mlp_dim=64,
                num_encoder_layers=1,
                num_decoder_layers=1,
            ),
            optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=2),
            seed=3,
            log_every=2,
            checkpoint_every=3,
            use_wandb=False,
            report_data=False,
        )

    straight = train(config(6))
    files = TrainDir(tmp_path / "run")
    assert files.checkpoint_steps() == [3, 6]
    corrupt(files.checkpoint_dir / "6")
    with caplog.at_level(logging.WARNING, logger="flawn.train.checkpoints"):
        _, _, _, step = restore_params(config(6))  # the predictor's path
    assert step == 3
    assert any(
        "step 6" in r.getMessage() and "using step 3" in r.getMessage() for r in caplog.records
    )

    resumed = train(config(6))  # resumes from step 3, not from the unreadable 6
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert summary["resumed_from"] == 3 and resumed.step == 6
    for x, y in zip(jax.tree.leaves(straight.params), jax.tree.leaves(resumed.params), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)
    _, restored, _, step = restore_params(config(6))
    assert step == 6
    _assert_same(restored, resumed.params)
