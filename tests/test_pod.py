"""A TPU pod slice simulated on this host: pod.sh's commands run by a fake ``gcloud``.

The fake ``gcloud`` (written here, first on ``PATH``) runs what pod.sh asks of
``--worker=all`` as two local JAX processes on CPU, one per simulated worker,
joined through a coordinator on localhost (``FLAWN_NUM_PROCESSES``,
``FLAWN_PROCESS_ID``, ``FLAWN_COORDINATOR_ADDRESS``, as
:mod:`flawn.train.processes` reads them). The workers share one home folder,
as pod workers that mount one filesystem do. Two processes must train the
run to the loss one process reaches: with flawn's trainer always, with T5X
when an interpreter that imports it is found (skipped otherwise, saying so).
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest
from test_t5x import T5X_PYTHON

import flawn.tasks  # noqa: F401  (registers the demo mixtures the run trains on)
from flawn.runs import EvalSpec, RunDir

_ROOT = pathlib.Path(__file__).resolve().parent.parent

# What the fake gcloud understands (all pod.sh uses):
#   gcloud compute tpus tpu-vm ssh NAME --zone Z [--project P] --worker=all --command CMD
#   gcloud compute tpus tpu-vm scp [--recurse] SRC... NAME:DEST --zone Z [...] --worker=all
FAKE_GCLOUD = textwrap.dedent("""\
    #!{python}
    import os, shutil, socket, subprocess, sys, time

    WORKERS = 2
    HOME = os.environ["FAKE_POD_HOME"]
    args = sys.argv[1:]
    assert args[:3] == ["compute", "tpus", "tpu-vm"], args
    verb, rest = args[3], args[4:]
    assert "--worker=all" in rest, rest
    with open(os.path.join(HOME, "gcloud.log"), "a") as log:
        log.write(" ".join(args) + "\\n")

    def value(flag):
        return rest[rest.index(flag) + 1]

    if verb == "scp":  # one shared home: copying once reaches every worker
        positional = [a for i, a in enumerate(rest) if not a.startswith("--")
                      and rest[i - 1] not in ("--zone", "--project")]
        *sources, target = positional
        dest = os.path.join(HOME, target.split(":", 1)[1])
        for source in sources:
            to = os.path.join(dest, os.path.basename(source.rstrip("/")))
            if os.path.isdir(source):
                shutil.copytree(source, to, dirs_exist_ok=True)
            else:
                shutil.copy(source, to)
        sys.exit(0)

    assert verb == "ssh", verb
    command = value("--command")
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    workers = []
    for index in range(WORKERS):
        env = dict(os.environ, HOME=HOME, JAX_PLATFORMS="cpu",
                   XLA_FLAGS="--xla_force_host_platform_device_count=1",
                   FLAWN_NUM_PROCESSES=str(WORKERS), FLAWN_PROCESS_ID=str(index),
                   FLAWN_COORDINATOR_ADDRESS=f"localhost:{{port}}")
        out = open(os.path.join(HOME, f"worker-{{index}}.log"), "a")
        workers.append((subprocess.Popen(["bash", "-c", command], cwd=HOME, env=env,
                                         stdout=out, stderr=subprocess.STDOUT), out))
    codes = [None] * WORKERS
    while None in codes:
        time.sleep(0.5)
        codes = [w.poll() for w, _ in workers]
        if any(c not in (None, 0) for c in codes):  # a failed worker leaves the rest waiting
            for w, _ in workers:
                if w.poll() is None:
                    w.kill()
            codes = [w.wait() for w, _ in workers]
    for index, (_, out) in enumerate(workers):
        out.close()
        with open(os.path.join(HOME, f"worker-{{index}}.log")) as f:
            sys.stdout.write("".join(f"[worker {{index}}] {{line}}" for line in f))
    sys.exit(max(codes))
""")

STEPS = 2
SAMPLE_EVALS = (EvalSpec(suite="sample", max_decode_length=8),)


def _tiny_run(root, evals=SAMPLE_EVALS):
    """A two-step tiny run, prepared for the t5x backend as flawn sweep launch does."""
    from flawn.sweeps.spec import expand, load_sweep, resolve_run
    from flawn.t5x.backend import T5XBackend

    macros = {"TASK_FEATURE_LENGTHS": {"inputs": 64, "targets": 16}, "TRAIN_STEPS": STEPS}
    bindings = [
        "TrainConfig.use_wandb = False",
        "TrainConfig.report_data = False",
        "TrainConfig.log_every = 1",
        "TrainConfig.prefetch_batches = 0",
    ]
    sweep = load_sweep(
        "experiments/demo.gin",
        [
            f"Sweep.macros = {dict(macros, BATCH_SIZE=4)!r}",
            "Sweep.mixtures = ['demo.general_plus_legal']",
            "Sweep.baseline_mixture = 'demo.general_plus_legal'",
            "Sweep.sizes = ['tiny']",
            "Sweep.regimes = ['finetune']",
            f"Sweep.bindings = {bindings!r}",
        ],
    )
    spec = resolve_run(sweep, expand(sweep)[0], backend="t5x")
    run_dir = RunDir(root / spec.run_id)
    run_dir.write_spec(spec.to_json())
    T5XBackend(evals=list(evals)).prepare(spec, run_dir)
    return run_dir


def _fake_pod(tmp_path):
    """A PATH with the fake gcloud first, and the workers' shared home."""
    bin_dir, home = tmp_path / "bin", tmp_path / "pod_home"
    bin_dir.mkdir()
    home.mkdir()
    gcloud = bin_dir / "gcloud"
    gcloud.write_text(FAKE_GCLOUD.format(python=sys.executable))
    gcloud.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}", home


def _env(**extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLAWN_") or k in ("FLAWN_CACHE_DIR", "FLAWN_SHUFFLE_BUFFER_SIZE")
    }
    env.update(JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=1")
    env.update(extra)
    return env


def _summary(run_dir: RunDir) -> dict:
    return json.loads((run_dir.final_stage().path / "train_summary.json").read_text())


@pytest.mark.slow
def test_two_workers_train_the_run_one_process_trains_with_flawns_trainer(tmp_path):
    from flawn.train.standalone import train_run_dir

    run_dir = _tiny_run(tmp_path / "runs")
    # One process: the reference, trained from the same spec.
    single = RunDir(tmp_path / "single" / run_dir.path.name)
    single.path.mkdir(parents=True)
    shutil.copy(run_dir.path / "spec.json", single.path / "spec.json")
    train_run_dir(os.fspath(single.path))  # in this process: one process, as before

    path, home = _fake_pod(tmp_path)
    remote = home / "flawn_runs" / run_dir.path.name
    pod = subprocess.run(
        ["bash", os.fspath(run_dir.t5x_dir / "pod.sh"), "all"],
        env=_env(
            PATH=path,
            FAKE_POD_HOME=os.fspath(home),
            TPU_NAME="fake-v4-16",
            ZONE="us-central2-b",
            TRAINER="flawn",
            REMOTE_DIR=os.fspath(remote),
            REMOTE_PYTHON=sys.executable,
        ),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert pod.returncode == 0, pod.stdout[-4000:] + pod.stderr[-3000:]
    calls = (home / "gcloud.log").read_text().splitlines()
    assert any(c.startswith("compute tpus tpu-vm scp") and "spec.json" in c for c in calls)
    assert any("flawn.cli train --run-dir ." in c for c in calls)

    trained = RunDir(remote)
    pod_summary, one_summary = _summary(trained), _summary(single)
    assert pod_summary["processes"] == 2 and one_summary["processes"] == 1
    assert pod_summary["step"] == STEPS
    assert abs(pod_summary["final_loss"] - one_summary["final_loss"]) < 1e-5, (
        pod_summary,
        one_summary,
    )
    # Both workers trained (the mesh spanned them); process 0 alone wrote the metrics.
    for index in range(2):
        log = (home / f"worker-{index}.log").read_text()
        assert "over 2 cpu device(s) of 2 processes" in log, log[-2000:]
    metrics = (trained.final_stage().path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(row)["step"] for row in metrics] == list(range(1, STEPS + 1))
    assert trained.read_status()["status"] == "finished"
    assert trained.final_stage().checkpoint_steps()[-1] == STEPS


def _t5x_losses(model_dir) -> dict[int, float]:
    """T5X's training loss per target token by step, from the TensorBoard events it wrote."""
    import tensorflow as tf

    losses = {}
    for events in sorted((model_dir / "train").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(os.fspath(events)):
            for value in event.summary.value:
                if value.tag == "loss_per_nonpadding_target_token":
                    losses[event.step] = float(tf.make_ndarray(value.tensor))
    return losses


@pytest.mark.slow
@pytest.mark.skipif(
    T5X_PYTHON is None,
    reason="t5x is not importable; install T5X (docs/t5x.md) and "
    "set FLAWN_T5X_PYTHON=/path/to/that/venv/bin/python to run the two-worker T5X run",
)
def test_two_workers_train_the_run_one_process_trains_with_t5x(tmp_path):
    # No evaluation: T5X would infer at the end of training, which is not what is compared.
    run_dir = _tiny_run(tmp_path / "runs", evals=())
    t5x_env = dict(
        FLAWN_T5X_PYTHON=T5X_PYTHON,
        FLAWN_T5X_DTYPE="float32",
        PYTHONPATH=os.pathsep.join(filter(None, [os.fspath(_ROOT), os.environ.get("PYTHONPATH")])),
    )
    single = subprocess.run(
        ["bash", os.fspath(run_dir.t5x_dir / "launch.sh"), "train"],
        env=_env(MODEL_DIR_ROOT=os.fspath(tmp_path / "single"), **t5x_env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert single.returncode == 0, single.stdout[-3000:] + single.stderr[-5000:]

    path, home = _fake_pod(tmp_path)
    models = tmp_path / "pod_models"  # a folder every worker mounts, as gs:// would be
    pod = subprocess.run(
        ["bash", os.fspath(run_dir.t5x_dir / "pod.sh"), "train"],
        env=_env(
            PATH=path,
            FAKE_POD_HOME=os.fspath(home),
            TPU_NAME="fake-v4-16",
            ZONE="us-central2-b",
            MODEL_DIR_ROOT=os.fspath(models),
            REMOTE_DIR=os.fspath(run_dir.path),  # the workers share the run folder
            REMOTE_PYTHON=T5X_PYTHON,
            NUM_PARTITIONS="1",
            **t5x_env,
        ),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert pod.returncode == 0, pod.stdout[-6000:] + pod.stderr[-3000:]
    assert "--multiprocess_gpu" not in single.stdout + single.stderr
    for index in range(2):  # each worker joined the group with its own index
        log = (home / f"worker-{index}.log").read_text()
        assert f"process_index: {index}" in log and "process_count: 2" in log, log[-3000:]
    one = _t5x_losses(tmp_path / "single" / "finetune")
    two = _t5x_losses(models / "finetune")
    assert sorted(one) == sorted(two) == list(range(1, STEPS + 1)), (one, two)
    # Measured: equal at step 1, 9.5e-7 apart at step 2 (7.5612 per token).
    assert all(abs(one[step] - two[step]) < 1e-5 for step in one), (one, two)
    assert (models / "finetune" / f"checkpoint_{STEPS}").is_dir()


def test_train_run_dir_needs_a_prepared_run_folder(tmp_path, capsys):
    from flawn.cli import main

    assert main(["train", "--run-dir", os.fspath(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "holds no spec.json" in err and "flawn sweep launch" in err
    assert main(["train", "--run-dir", os.fspath(tmp_path), "--gin_file=gin/models/tiny.gin"]) == 2
    assert "takes no --gin_file" in capsys.readouterr().err


def test_the_environment_describes_the_process_group_or_says_what_is_missing():
    from flawn.errors import ConfigError
    from flawn.train.processes import ProcessGroup

    assert ProcessGroup.from_env({}) is None
    assert ProcessGroup.from_env({"FLAWN_MULTIPROCESS": "0"}) is None
    assert ProcessGroup.from_env({"FLAWN_MULTIPROCESS": "auto"}).auto
    group = ProcessGroup.from_env(
        {
            "FLAWN_NUM_PROCESSES": "2",
            "FLAWN_PROCESS_ID": "1",
            "FLAWN_COORDINATOR_ADDRESS": "10.0.0.2:8476",
            "FLAWN_MULTIPROCESS": "auto",  # explicit variables win (pod.sh sets auto)
        }
    )
    assert (group.num_processes, group.process_id, group.coordinator_address) == (
        2,
        1,
        "10.0.0.2:8476",
    )
    assert not group.auto
    with pytest.raises(ConfigError, match="FLAWN_COORDINATOR_ADDRESS not set"):
        ProcessGroup.from_env({"FLAWN_NUM_PROCESSES": "2", "FLAWN_PROCESS_ID": "0"})
    with pytest.raises(ConfigError, match=r"FLAWN_PROCESS_ID=2 is not in 0\.\.1"):
        ProcessGroup.from_env(
            {
                "FLAWN_NUM_PROCESSES": "2",
                "FLAWN_PROCESS_ID": "2",
                "FLAWN_COORDINATOR_ADDRESS": "localhost:1234",
            }
        )
    with pytest.raises(ConfigError, match="host:port"):
        ProcessGroup.from_env(
            {"FLAWN_NUM_PROCESSES": "2", "FLAWN_PROCESS_ID": "0", "FLAWN_COORDINATOR_ADDRESS": "x"}
        )
    with pytest.raises(ConfigError, match="use 'auto'"):
        ProcessGroup.from_env({"FLAWN_MULTIPROCESS": "yes"})


def test_pod_sh_checks_the_trainer_and_the_shared_folders(tmp_path):
    run_dir = _tiny_run(tmp_path / "runs")
    path, home = _fake_pod(tmp_path)

    def pod(phase, **env):
        base = dict(PATH=path, FAKE_POD_HOME=os.fspath(home), TPU_NAME="t", ZONE="z")
        return subprocess.run(
            ["bash", os.fspath(run_dir.t5x_dir / "pod.sh"), phase],
            env=_env(**base, **env),
            capture_output=True,
            text=True,
        )

    wrong = pod("train", TRAINER="jax")
    assert wrong.returncode == 2 and "use t5x or flawn" in wrong.stderr
    infer = pod("infer", TRAINER="flawn")
    assert infer.returncode == 2 and "flawn eval run --run-dir" in infer.stderr
    relative = pod("train", MODEL_DIR_ROOT="models")
    assert relative.returncode == 2 and "use a gs:// folder" in relative.stderr
    missing = pod("train")  # T5X needs MODEL_DIR_ROOT; flawn's trainer does not
    assert missing.returncode != 0 and "set MODEL_DIR_ROOT" in missing.stderr
    assert not (home / "gcloud.log").exists()  # nothing reached the workers


# Run by T5X's Python: the first batch of the demo mixture as T5X's own get_dataset gives
# host 1 of 2, as flawn's gives it, and host 0's and 1's rows of the one-host batch.
_HOST_ROWS = textwrap.dedent("""
    import json
    import numpy as np, seqio
    import flawn.tasks  # noqa: F401
    from t5x import utils
    from flawn.t5x.host_batches import global_batch_slice

    cfg = utils.DatasetConfig(mixture_or_task_name="demo.general_plus_legal",
                              task_feature_lengths={"inputs": 64, "targets": 16},
                              split="train", batch_size=4, shuffle=True, seed=0,
                              use_cached=False, pack=True)
    converter = seqio.EncDecFeatureConverter
    def first(ds):
        return next(iter(ds.as_numpy_iterator()))["decoder_target_tokens"].tolist()
    print("RESULT " + json.dumps({
        "one_host": first(global_batch_slice(cfg, 0, 1, converter)),
        "flawn": [first(global_batch_slice(cfg, i, 2, converter)) for i in range(2)],
        "t5x": first(utils.get_dataset(cfg, 1, 2, converter)),
    }))
""")


@pytest.mark.slow
@pytest.mark.skipif(
    T5X_PYTHON is None,
    reason="t5x is not importable; set FLAWN_T5X_PYTHON=/path/to/that/venv/bin/python",
)
def test_each_t5x_host_keeps_its_rows_of_the_one_host_batch():
    done = subprocess.run(
        [T5X_PYTHON, "-c", _HOST_ROWS],
        env=_env(
            PYTHONPATH=os.pathsep.join(
                filter(None, [os.fspath(_ROOT), os.environ.get("PYTHONPATH")])
            )
        ),
        cwd="/",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert result["flawn"][0] + result["flawn"][1] == result["one_host"]
    # T5X's own sharding gives host 1 other examples than the one-host batch's rows 2-3.
    assert result["t5x"] != result["one_host"][2:]
