"""The t5x backend: generated gin files and scripts, checkpoint conversion, scoring.

Everything here runs without T5X except the tests marked as needing it: they
run when ``t5x`` is importable by this interpreter or by ``FLAWN_T5X_PYTHON``
(see docs/t5x.md for the install), and are
skipped otherwise, saying so.
"""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flawn.tasks  # noqa: F401  (registers the demo mixtures the runs train on)
from flawn.errors import ConfigError, FlawnError
from flawn.models.config import T5Config
from flawn.models.t5 import Transformer
from flawn.runs import EvalSpec, RunDir, TrainDir
from flawn.t5x import checkpoints, eval_tasks
from flawn.t5x.backend import T5XBackend, _Progress, check_t5x_importable
from flawn.t5x.layout import T5XLayout
from flawn.t5x.plan import RunPlan

STEPS = 20
EVALS = [EvalSpec(suite="sample", max_decode_length=8)]


def _resolve(size="tiny", regime="finetune", bindings=(), **macros):
    """A RunSpec of the demo sweep resolved for the t5x backend."""
    from flawn.sweeps.spec import expand, load_sweep, resolve_run

    values = {
        "TASK_FEATURE_LENGTHS": {"inputs": 144, "targets": 16},
        "TRAIN_STEPS": STEPS,
        "BATCH_SIZE": 8,
        **macros,
    }
    sweep = load_sweep(
        "experiments/demo.gin",
        [
            f"Sweep.macros = {values!r}",
            "Sweep.mixtures = ['demo.general_plus_legal']",
            "Sweep.baseline_mixture = 'demo.general_plus_legal'",
            f"Sweep.sizes = [{size!r}]",
            f"Sweep.regimes = [{regime!r}]",
            "Sweep.max_decode_length = 8",
            f"Sweep.bindings = {list(bindings)!r}",
        ],
    )
    return resolve_run(sweep, expand(sweep)[0], backend="t5x")


def _prepare(root, spec, evals=EVALS) -> RunDir:
    run_dir = RunDir(root / spec.run_id)
    run_dir.write_spec(spec.to_json())
    T5XBackend(evals=evals).prepare(spec, run_dir)
    return run_dir


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The tiny demo run prepared for T5X (files only)."""
    return _prepare(tmp_path_factory.mktemp("runs"), _resolve())


@pytest.fixture(scope="module")
def xl_run(tmp_path_factory):
    """T5 1.1 XL fine-tuned from its public checkpoint: T5X's step counting and partitions."""
    return _prepare(tmp_path_factory.mktemp("runs_xl"), _resolve(size="xl"))


def _files(run_dir: RunDir) -> dict[str, str]:
    root = run_dir.t5x_dir
    return {
        os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), encoding="utf-8").read()
        for d, _, names in os.walk(root)
        for f in names
        if f.endswith((".gin", ".sh", ".json"))
    }


# -- which python has T5X --------------------------------------------------------------------
def _t5x_python() -> str | None:
    """An interpreter that imports T5X (FLAWN_T5X_PYTHON's, else this one); other T5X tests
    import :data:`T5X_PYTHON` from here. Run from ``/``: a ``t5x/`` folder in the current
    one would be taken for T5X."""
    candidates = [os.environ.get("FLAWN_T5X_PYTHON"), sys.executable]
    for python in filter(None, candidates):
        try:
            found = subprocess.run(
                [python, "-c", "import t5x.train, t5x.infer"],
                capture_output=True,
                timeout=300,
                cwd="/",
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if found.returncode == 0:
            return python
    return None


T5X_PYTHON = _t5x_python()
needs_t5x = pytest.mark.skipif(
    T5X_PYTHON is None,
    reason=(
        "t5x is not importable; install T5X (docs/t5x.md) and set "
        "FLAWN_T5X_PYTHON=/path/to/that/venv/bin/python to run the real T5X tests"
    ),
)


# -- gin files ------------------------------------------------------------------------------
def _statements(text: str):
    import gin
    from gin import config_parser

    parser = config_parser.ConfigParser(text, gin.config.ParserDelegate(skip_unknown=True))
    return list(parser)


def _bindings(text: str) -> dict[str, str]:
    from gin import config_parser

    out = {}
    for statement in _statements(text):
        if isinstance(statement, config_parser.BindingStatement):
            name = ".".join(filter(None, [statement.selector, statement.arg_name]))
            name = f"{statement.scope}/{name}" if statement.scope else name
            out[name] = statement.value
    return out


def test_gin_files_parse_and_carry_the_run(tiny_run):
    files = _files(tiny_run)
    for name, text in files.items():
        if name.endswith(".gin"):
            assert _statements(text), name  # gin's own parser accepts every file
    model = _bindings(files["model.gin"])
    assert model["network.T5Config.emb_dim"] == 128 and model["network.T5Config.num_heads"] == 4
    assert model["network.T5Config.head_dim"] == 32 and model["network.T5Config.mlp_dim"] == 256
    assert model["network.T5Config.num_encoder_layers"] == 2
    assert model["network.T5Config.mlp_activations"] == ("gelu", "linear")
    assert model["network.T5Config.logits_via_embedding"] is False
    import seqio

    mixture = seqio.get_mixture_or_task("demo.general_plus_legal")
    vocabulary = mixture.output_features["targets"].vocabulary
    vocab_size = model["network.T5Config.vocab_size"]
    assert vocab_size % 128 == 0 and 0 <= vocab_size - vocabulary.vocab_size < 128
    assert model["decoding.temperature_sample.temperature"] == 0.0  # greedy
    run = _bindings(files["run.gin"])
    assert run["seqio.SentencePieceVocabulary.extra_ids"] == 100
    assert "import flawn.tasks" in files["run.gin"]
    stage = _bindings(files["stages/finetune.gin"])
    assert stage["MIXTURE_OR_TASK_NAME"] == "demo.general_plus_legal"
    assert stage["TASK_FEATURE_LENGTHS"] == {"inputs": 144, "targets": 16}
    assert stage["TRAIN_STEPS"] == STEPS and stage["BATCH_SIZE"] == 8
    assert stage["RANDOM_SEED"] == 0 and stage["train/utils.DatasetConfig.seed"] == 0
    assert stage["USE_CACHED_TASKS"] is False and stage["DROPOUT_RATE"] == 0.0
    assert stage["INITIAL_CHECKPOINT_PATH"] is None  # tiny trains from scratch
    assert stage["train_script.train.train_eval_dataset_cfg"] is None  # no validation split
    assert stage["infer_eval/utils.DatasetConfig.split"] == "test"
    assert stage["infer_eval/eval_tasks.eval_mixture.suite"] == "sample"
    infer = _bindings(files["infer/e0.gin"])
    assert infer["TASK_FEATURE_LENGTHS"] == {"inputs": 144, "targets": 8}
    assert infer["utils.DatasetConfig.split"] == "test"


def test_fine_tuning_a_public_checkpoint_counts_its_steps(xl_run):
    files = _files(xl_run)
    stage = _bindings(files["stages/finetune.gin"])
    assert stage["TRAIN_STEPS"] == 1_000_000 + STEPS  # T5X counts from the checkpoint's step
    assert stage["DROPOUT_RATE"] == 0.1
    launch = files["launch.sh"]
    assert "gs://t5-data/pretrained_models/t5x/t5_1_1_xl/checkpoint_1000000" in launch
    model = _bindings(files["model.gin"])
    assert (model["network.T5Config.emb_dim"], model["network.T5Config.vocab_size"]) == (
        2048,
        32128,
    )
    assert 'NUM_PARTITIONS="${NUM_PARTITIONS:-4}"' in files["pod.sh"]  # the size table's
    assert 'NUM_PARTITIONS="${NUM_PARTITIONS:-1}"' in launch  # one host


def test_stages_chain_through_the_previous_checkpoint(tmp_path):
    spec = _resolve(
        regime="pretrain_then_finetune", PRETRAIN_MIXTURE="multilegalpile.sample", PRETRAIN_STEPS=30
    )
    run_dir = _prepare(tmp_path, spec)
    files = _files(run_dir)
    plan = RunPlan.from_json(json.loads(files["plan.json"]))
    assert [(s.name, s.start_step, s.end_step) for s in plan.stages] == [
        ("pretrain", 0, 30),
        ("finetune", 30, 30 + STEPS),
    ]
    assert _bindings(files["stages/finetune.gin"])["TRAIN_STEPS"] == 30 + STEPS
    launch = files["launch.sh"]
    pretrain = launch.index("train_stage 1 pretrain t5x/configs/runs/pretrain.gin 0 30")
    finetune = launch.index("train_stage 2 finetune t5x/configs/runs/finetune.gin 30 50")
    assert pretrain < finetune
    assert "INITIAL_CHECKPOINT_PATH = '$MODEL_DIR_ROOT/pretrain/checkpoint_30'" in launch


def test_a_seqio_cache_is_read_with_use_cached_tasks(tmp_path):
    spec = _resolve(bindings=["TrainConfig.cache_dir = '/data/seqio_cache'"])
    files = _files(_prepare(tmp_path, spec))
    assert _bindings(files["stages/finetune.gin"])["USE_CACHED_TASKS"] is True
    launch = files["launch.sh"]
    assert 'SEQIO_CACHE_DIRS="${SEQIO_CACHE_DIRS:-/data/seqio_cache}"' in launch
    assert '--seqio_additional_cache_dirs="$SEQIO_CACHE_DIRS"' in launch


def test_scripts_pass_bash_n_are_relocatable_and_export_what_flawn_needs(tiny_run):
    files = _files(tiny_run)
    for name in ("launch.sh", "pod.sh"):
        path = tiny_run.t5x_dir / name
        assert subprocess.run(["bash", "-n", os.fspath(path)]).returncode == 0, name
        assert os.access(path, os.X_OK)
        assert "set -euo pipefail" in files[name]
    for name, text in files.items():
        assert os.fspath(tiny_run.path) not in text, f"{name} names the run folder's location"
    launch = files["launch.sh"]
    assert 'PY="${FLAWN_T5X_PYTHON:-python3}"' in launch
    assert launch.count('"$PY" -m t5x.train') == 1 and '"$PY" -m t5x.infer' in launch
    assert "train_stage 1 finetune t5x/configs/runs/finetune.gin 0 20" in launch
    assert "infer_eval e0" in launch and '"$PY" -m flawn.t5x.score "$RUN_DIR"' in launch
    for variable in (
        "FLAWN_PROJECT_ROOT",
        "FLAWN_VOCABULARY",
        "FLAWN_LEGALBENCH_DIR",
        "FLAWN_LAWBENCH_DIR",
        "FLAWN_LAWINSTRUCT_DIR",
    ):
        assert f"export {variable}" in launch, variable
    pod = files["pod.sh"]
    assert "gcloud compute tpus tpu-vm" in pod and "--worker=all" in pod
    assert "bash t5x/launch.sh $1" in pod and "run_phase train" in pod
    assert "use a gs:// folder" in pod  # model dirs must be shared by the workers


def test_launch_sh_says_how_to_get_t5x_when_the_python_lacks_it(tiny_run, tmp_path):
    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/sh\ncase "$2" in *t5x*) exit 1;; esac\nexec "{sys.executable}" "$@"\n')
    fake.chmod(0o755)
    result = subprocess.run(
        ["bash", os.fspath(tiny_run.t5x_dir / "launch.sh"), "train"],
        env={**os.environ, "FLAWN_T5X_PYTHON": os.fspath(fake)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 3
    assert "cannot import t5x" in result.stderr and "FLAWN_T5X_PYTHON" in result.stderr


def test_validate_names_the_install_when_t5x_is_missing(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 't5x'\" >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(ConfigError, match="FLAWN_T5X_PYTHON") as err:
        check_t5x_importable(os.fspath(fake))
    assert "No module named 't5x'" in str(err.value)
    assert 'docs/t5x.md says ("Training on TPU pods with T5X")' in str(err.value)


def _python_without_t5x(folder) -> str:
    """This interpreter without site-packages: never has T5X, whatever is installed here."""
    fake = folder / "python-without-site"
    fake.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
    fake.chmod(0o755)
    return os.fspath(fake)


def _clone_top_folder(parent):
    """What ``git clone .../t5x`` leaves: t5x/ with setup.py and t5x/t5x/, no __init__.py."""
    (parent / "t5x" / "t5x").mkdir(parents=True)
    (parent / "t5x" / "setup.py").write_text("")
    return parent / "t5x"


def test_launch_sh_does_not_import_t5x_from_the_current_folder(tiny_run, tmp_path):
    """A T5X clone where launch.sh starts is not the t5x package (it was: TypeError NoneType)."""
    _clone_top_folder(tmp_path)
    result = subprocess.run(
        ["bash", os.fspath(tiny_run.t5x_dir / "launch.sh"), "train"],
        env={**os.environ, "FLAWN_T5X_PYTHON": _python_without_t5x(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 3, result.stderr
    assert "TypeError" not in result.stderr
    assert "cannot import t5x (ModuleNotFoundError: No module named 't5x')" in result.stderr


def test_launch_sh_names_a_t5x_clone_on_the_path(tiny_run, tmp_path):
    clone = _clone_top_folder(tmp_path / "src")
    result = subprocess.run(
        ["bash", os.fspath(tiny_run.t5x_dir / "launch.sh"), "train"],
        env={
            **os.environ,
            "FLAWN_T5X_PYTHON": _python_without_t5x(tmp_path),
            "PYTHONPATH": os.fspath(clone.parent),
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 3, result.stderr
    assert f"it finds only {clone}, the top folder of a T5X clone" in result.stderr
    assert "run from a folder without a t5x/ entry" in result.stderr


def test_the_import_check_does_not_look_in_the_current_folder(tmp_path, monkeypatch):
    _clone_top_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"No module named 't5x'\)"):
        check_t5x_importable(_python_without_t5x(tmp_path))


def test_the_install_hint_is_the_docs_recipe():
    from flawn import paths
    from flawn.t5x.install import INSTALL_HINT

    section = (paths.PACKAGE_DIR.parent / "docs" / "t5x.md").read_text(encoding="utf-8")
    clone = "cd ~ && git clone https://github.com/google-research/t5x"
    assert clone in INSTALL_HINT and clone in section
    assert "FLAWN_T5X_PYTHON=" in INSTALL_HINT and "export FLAWN_T5X_PYTHON=" in section


def test_progress_lines_become_flawn_steps():
    seen = []
    progress = _Progress([lambda *args: seen.append(args)])
    progress("== stage 2/2 finetune: T5X steps 1000000 -> 1000020, model dir gs://b/x\n")
    prefix = "I1130 12:15:20.527333 1 logging_writer.py:48] "
    progress(prefix + "[1000000] collection=train timing/compilation_seconds=9.7\n")
    progress(
        prefix + "[1000020] collection=train accuracy=0.5, cross_ent_loss=428.7, "
        "cross_ent_loss_per_all_target_tokens=3.0, loss=429.08, "
        "non_padding_fraction/loss_weights=0.5, timing/seconds=3.7\n"
    )
    ((stage, step, total, metrics),) = seen  # the timing line is no progress
    assert (stage, step, total) == ("finetune", 20, 20)
    assert metrics["loss"] == pytest.approx(6.0)  # per real target token, as flawn's loss
    assert metrics["accuracy"] == 0.5 and metrics["t5x/loss"] == 429.08


# -- evaluation suites as seqio tasks --------------------------------------------------------
def test_a_suite_folder_becomes_seqio_tasks_with_fitted_prompts():
    import seqio

    name = eval_tasks.eval_mixture("sample")
    tasks = [t.name for t in seqio.get_mixture_or_task(name).tasks]
    assert len(tasks) == 5 and all(t.startswith("suite.sample.") for t in tasks)
    task = seqio.get_mixture_or_task("suite.sample.sample_clause_type")
    rows = list(task.get_dataset({"inputs": 48, "targets": 8}, split="test", shuffle=False))
    assert len(rows) == 60 and all(len(r["inputs"]) <= 48 for r in rows)
    assert rows[0]["inputs"][-1] == 1  # EOS kept after fitting
    assert task.metric_fns and task.postprocess_fn("Yes\nmore") == "Yes"


# -- checkpoints ----------------------------------------------------------------------------
TINY = T5Config(
    vocab_size=256,
    emb_dim=32,
    num_heads=2,
    head_dim=8,
    mlp_dim=64,
    num_encoder_layers=2,
    num_decoder_layers=2,
)


def _logits(params, config=TINY):
    enc = jnp.array([[5, 6, 7, 8, 1, 0], [9, 9, 3, 1, 0, 0]])
    dec = jnp.array([[0, 9, 10, 11], [0, 4, 5, 6]])
    return np.asarray(Transformer(config).apply({"params": params}, enc, dec))


@pytest.fixture(scope="module")
def tiny_params():
    model = Transformer(TINY)
    variables = model.init(
        jax.random.PRNGKey(3), jnp.ones((1, 6), jnp.int32), jnp.ones((1, 4), jnp.int32)
    )
    return jax.tree.map(np.asarray, variables["params"])


def test_t5x_legacy_checkpoint_round_trip_keeps_logits(tiny_params, tmp_path):
    path = checkpoints.write_t5x_checkpoint(tiny_params, tmp_path / "model", 42)
    assert path.name == "checkpoint_42" and (path / "checkpoint").exists()
    assert (path / "target.encoder.layers_0.attention.query.kernel" / ".zarray").exists()
    assert checkpoints.read_t5x_step(path) == 42
    back = checkpoints.read_t5x_params(path)
    checkpoints.check_same_layout(back, tiny_params)
    np.testing.assert_array_equal(_logits(back), _logits(tiny_params))


def test_t5x_orbax_layout_is_read_without_t5x(tiny_params, tmp_path):
    """T5X's default manager writes ``checkpoint_<step>/state`` (orbax): target + state."""
    import orbax.checkpoint as ocp

    state = {
        "target": tiny_params,
        "state": {
            "step": np.asarray(7, np.int32),
            "param_states": jax.tree.map(lambda a: {"v": np.zeros(1, np.float32)}, tiny_params),
        },
    }
    folder = tmp_path / "checkpoint_7"
    ocp.PyTreeCheckpointer().save(os.fspath(folder / "state"), state)
    assert checkpoints.read_t5x_step(folder) == 7
    np.testing.assert_array_equal(
        _logits(checkpoints.read_t5x_params(folder)), _logits(tiny_params)
    )


def test_older_3d_attention_kernels_are_reshaped_as_t5x_does(tiny_params):
    old = jax.tree.map(np.copy, tiny_params)
    attention = old["encoder"]["layers_0"]["attention"]
    attention["query"]["kernel"] = attention["query"]["kernel"].reshape(32, 2, 8)
    attention["out"]["kernel"] = attention["out"]["kernel"].reshape(2, 8, 32)
    fixed = checkpoints.to_t5x_shapes(old)
    checkpoints.check_same_layout(fixed, tiny_params)
    np.testing.assert_array_equal(_logits(fixed), _logits(tiny_params))
    with pytest.raises(FlawnError, match="query/kernel: shape"):
        checkpoints.check_same_layout(old, tiny_params)


@pytest.fixture(scope="module")
def flawn_checkpoint(tiny_run, tmp_path_factory):
    """A flawn train folder of the tiny run's stage with one checkpoint, at step 9."""
    from flawn.runs import RunSpec
    from flawn.train.checkpoints import Checkpointer
    from flawn.train.config import load_train_config
    from flawn.train.local import build_model, init_params, task_vocabulary
    from flawn.train.optim import make_optimizer

    source = TrainDir(tmp_path_factory.mktemp("flawn") / "source")
    source.write_config(RunSpec.from_json(tiny_run.read_spec()).stages[0].gin)
    config = load_train_config(source)
    model = build_model(config.model, task_vocabulary(config.mixture_or_task_name))
    params = init_params(model, dict(config.task_feature_lengths), 11)["params"]
    checkpointer = Checkpointer(source.checkpoint_dir)
    checkpointer.save(
        9,
        {
            "params": params,
            "opt_state": make_optimizer(config.optimizer, config.train_steps).init(params),
            "step": jnp.asarray(9, jnp.int32),
            "examples_seen": np.asarray(72, np.int64),
        },
    )
    checkpointer.close()
    return source, model.config, params


def test_flawn_to_t5x_to_flawn_keeps_the_logits(flawn_checkpoint, tmp_path):
    """A flawn checkpoint -> T5X -> a flawn checkpoint the local backend restores."""
    from flawn.train.config import load_train_config
    from flawn.train.local import restore_params

    source, config, params = flawn_checkpoint
    read, step = checkpoints.read_flawn_params(source.path)
    t5x_path = checkpoints.flawn_to_t5x(read, tmp_path / "t5x_model", step)
    target = TrainDir(tmp_path / "target")
    target.write_config(source.config_text())
    assert checkpoints.t5x_to_flawn(t5x_path, target) == 9
    _, restored, _, restored_step = restore_params(load_train_config(target))
    assert restored_step == 9
    np.testing.assert_array_equal(_logits(restored["params"], config), _logits(params, config))


def test_a_stage_starting_from_a_flawn_checkpoint_gets_it_converted(flawn_checkpoint, tmp_path):
    source, _, params = flawn_checkpoint
    run_dir = _prepare(tmp_path, _resolve(INIT=str(source.path)))
    files = _files(run_dir)
    converted = run_dir.t5x_dir / "init" / "finetune" / "checkpoint_9"
    assert checkpoints.read_t5x_step(converted) == 9
    checkpoints.check_same_layout(checkpoints.read_t5x_params(converted), params)
    stage = _bindings(files["stages/finetune.gin"])
    assert stage["TRAIN_STEPS"] == 9 + STEPS
    assert stage["utils.RestoreCheckpointConfig.fallback_to_scratch"] is True
    assert stage["utils.RestoreCheckpointConfig.assignment_map"] == (
        (r"state/param_states.*", None),
    )
    assert "INITIAL_CHECKPOINT_PATH = '$INIT_ROOT/finetune/checkpoint_9'" in files["launch.sh"]
    assert 'gcloud storage cp -r "$T5X_HERE/init"' in files["pod.sh"]


def test_train_raises_naming_the_log_when_t5x_fails(tiny_run, tmp_path, monkeypatch):
    from flawn.runs import RunSpec

    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/sh\ncase "$2" in *t5x*) exit 1;; esac\nexec "{sys.executable}" "$@"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("FLAWN_T5X_PYTHON", os.fspath(fake))
    spec = RunSpec.from_json(tiny_run.read_spec())
    with pytest.raises(FlawnError, match=r"exit code 3\); its output is in .*t5x/logs/train-"):
        T5XBackend(evals=EVALS).train(spec, tiny_run)


def test_predictor_converts_the_final_t5x_checkpoint(tiny_run):
    plan = RunPlan.from_json(T5XLayout(tiny_run.t5x_dir).read_plan())
    config = T5Config(vocab_size=plan.vocab_size, **plan.shape)
    model = Transformer(config)
    params = model.init(
        jax.random.PRNGKey(0), jnp.ones((1, 6), jnp.int32), jnp.ones((1, 4), jnp.int32)
    )["params"]
    layout = T5XLayout(tiny_run.t5x_dir)
    checkpoints.write_t5x_checkpoint(
        params, layout.model_dir("finetune"), plan.final_stage.end_step
    )
    predictor = T5XBackend().predictor(tiny_run)
    assert predictor.step == STEPS and predictor.lengths == {"inputs": 144, "targets": 16}
    assert predictor.vocabulary.vocab_size <= plan.vocab_size
    np.testing.assert_array_equal(
        _logits(predictor.params["params"], config), _logits(params, config)
    )


# -- scoring t5x.infer output ----------------------------------------------------------------
def _write_predictions(run_dir: RunDir, answer=lambda gold, i: gold, drop: int = 0):
    """t5x.infer-style files for the sample suite: one JSON row per example, in order."""
    from flawn.evals.legalbench.tasks import load_suite
    from flawn.evals.suites import suite_dir

    folder = T5XLayout(run_dir.t5x_dir).predictions_dir("e0")
    folder.mkdir(parents=True, exist_ok=True)
    for task in load_suite(suite_dir("sample"), "test"):
        name = eval_tasks.suite_task_name("sample", task.name)
        rows = task.examples[: len(task.examples) - drop]
        with open(folder / f"{name}-predict.jsonl-00000-of-00001", "w", encoding="utf-8") as f:
            for i, example in enumerate(rows):
                inputs = {
                    "inputs_pretokenized": task.prompt(example),
                    "targets_pretokenized": example.answer,
                }
                f.write(
                    json.dumps({"inputs": inputs, "prediction": answer(example.answer, i)}) + "\n"
                )


def test_scoring_writes_the_local_backends_rows_with_eval_json_last(tiny_run):
    from flawn.evals.run import suite_fingerprint
    from flawn.results import EXAMPLE_COLUMNS, TASK_COLUMNS, read_rows
    from flawn.t5x.score import main

    _write_predictions(tiny_run, lambda gold, i: gold + "\nignored after the newline")
    assert main([os.fspath(tiny_run.path), "--force"]) == 0
    eval_id = EVALS[0].eval_id(144, STEPS, suite_fingerprint(EVALS[0]))
    folder = tiny_run.eval_dir(eval_id)
    tasks = read_rows(folder / "tasks.jsonl")
    examples = read_rows(folder / "examples.jsonl")
    assert [list(r) for r in tasks[:1]] == [list(TASK_COLUMNS)]
    assert [list(r) for r in examples[:1]] == [list(EXAMPLE_COLUMNS)]
    assert len(tasks) == 5 and all(r["score"] == 1.0 and r["n"] == 60 for r in tasks)
    assert all(r["backend"] == "t5x" and r["run_id"] == tiny_run.run_id for r in tasks)
    assert len(examples) == 300 and all(r["value"] == 1.0 for r in examples)
    record = tiny_run.read_eval_spec(eval_id)
    assert record["step"] == STEPS and record["backend"] == "t5x"
    assert os.path.getmtime(folder / "eval.json") >= os.path.getmtime(folder / "tasks.jsonl")
    assert (folder / "summary.json").exists()


def test_scoring_refuses_predictions_of_other_rows(tiny_run):
    from flawn.t5x.score import score_run

    _write_predictions(tiny_run, drop=1)
    with pytest.raises(FlawnError, match="59 predictions for task"):
        score_run(tiny_run, force=True)


def test_new_predictions_of_the_same_checkpoint_are_scored_again(tiny_run):
    """A new t5x.infer (pod.sh infer) has the same eval id: scoring keys on the predictions."""
    from flawn.t5x.score import score_run

    _write_predictions(tiny_run)
    (first,) = score_run(tiny_run, force=True)
    assert all(r["score"] == 1.0 for r in first.rows)
    (same,) = score_run(tiny_run)
    assert same.reused  # the same predictions: nothing to do
    _write_predictions(tiny_run, lambda gold, i: gold + "x")
    (new,) = score_run(tiny_run)
    assert not new.reused and new.eval_id == first.eval_id
    assert all(r["score"] == 0.0 for r in new.rows)


# -- with T5X --------------------------------------------------------------------------------
_PARSE_WITH_T5X = """
import sys, importlib
script, files, bindings, root = sys.argv[1], sys.argv[2].split(","), sys.argv[3:], None
module = importlib.import_module(script)
sys.modules["__main__"] = module  # T5X's run files configure `__main__.train` / `.infer`
import os, t5x, gin
from t5x import gin_utils
root = os.path.dirname(os.path.dirname(t5x.__file__))
gin_utils.parse_gin_flags([root], files, bindings)
print("TRAIN_STEPS" , gin.query_parameter("%TRAIN_STEPS") if script == "t5x.train" else "-")
"""


@needs_t5x
@pytest.mark.slow
def test_gin_files_parse_with_t5xs_configurables(xl_run):
    t5x_dir = xl_run.t5x_dir
    common = [
        "VOCABULARY_FILE = 'unused.model'",
        "MODEL_DIR = '/tmp/unused'",
    ]
    for script, run_file, own, extra in (
        ("t5x.train", "t5x/configs/runs/finetune.gin", "stages/finetune.gin", []),
        (
            "t5x.infer",
            "t5x/configs/runs/infer.gin",
            "infer/e0.gin",
            ["CHECKPOINT_PATH = '/tmp/c'", "INFER_OUTPUT_DIR = '/tmp/o'"],
        ),
    ):
        files = [f"{t5x_dir}/model.gin", run_file, f"{t5x_dir}/run.gin", f"{t5x_dir}/{own}"]
        bindings = [*common, *extra]
        if script == "t5x.train":
            bindings.append("INITIAL_CHECKPOINT_PATH = 'gs://x/checkpoint_1000000'")
        result = subprocess.run(
            [T5X_PYTHON, "-c", _PARSE_WITH_T5X, script, ",".join(files), *bindings],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        if script == "t5x.train":
            assert "TRAIN_STEPS 1000020" in result.stdout


@needs_t5x
@pytest.mark.slow
def test_launch_sh_trains_infers_and_scores_with_real_t5x(tmp_path):
    """20 T5X steps of the tiny model on demo.general_plus_legal, then t5x.infer and scoring.

    Activations in float32, so flawn's own evaluator of the converted
    checkpoint must give the very same predictions and rows.
    """
    from flawn.evals.run import evaluate_run
    from flawn.results import read_rows

    run_dir = _prepare(tmp_path, _resolve())
    env = {**os.environ, "FLAWN_T5X_PYTHON": T5X_PYTHON, "FLAWN_T5X_DTYPE": "float32"}
    result = subprocess.run(
        ["bash", os.fspath(run_dir.t5x_dir / "launch.sh")],
        env=env,
        cwd=run_dir.path,  # where pod.sh starts it: its t5x/ folder must not shadow T5X
        capture_output=True,
        text=True,
        timeout=3000,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    layout = T5XLayout(run_dir.t5x_dir)
    assert (layout.model_dir("finetune") / f"checkpoint_{STEPS}").exists()
    assert len(list(layout.predictions_dir("e0").glob("*-predict.jsonl-00000-of-00001"))) == 5
    eval_ids = run_dir.eval_ids()
    assert len(eval_ids) == 1
    t5x_tasks = read_rows(run_dir.eval_dir(eval_ids[0]) / "tasks.jsonl")
    t5x_examples = read_rows(run_dir.eval_dir(eval_ids[0]) / "examples.jsonl")
    assert len(t5x_tasks) == 5 and len(t5x_examples) == 300

    predictor = T5XBackend().predictor(run_dir)
    assert predictor.step == STEPS
    local = evaluate_run(run_dir, EVALS[0], predictor, force=True)
    assert local.eval_id == eval_ids[0]  # the same evaluation of the same checkpoint
    local_examples = read_rows(run_dir.eval_dir(local.eval_id) / "examples.jsonl")
    assert [r["prediction"] for r in local_examples] == [r["prediction"] for r in t5x_examples]
    assert read_rows(run_dir.eval_dir(local.eval_id) / "tasks.jsonl") == t5x_tasks
