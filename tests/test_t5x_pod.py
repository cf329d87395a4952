"""``pod.sh`` end to end without a pod: a fake ``gcloud`` and a stand-in for T5X.

``gcloud`` is a script on ``PATH`` that logs its arguments and does locally
what each call would do: ``ssh --worker=all --command C`` runs ``C`` in a
folder standing for the worker's home, ``scp`` copies there, and ``storage
cp`` maps ``gs://`` to a local folder. The workers' Python (``REMOTE_PYTHON``)
is a wrapper of this interpreter in which ``t5x.train`` prints T5X's
progress lines (failing after ``FAKE_T5X_FAIL_AFTER`` steps, as a crashing
T5X would) and ``t5x.infer`` copies prepared predictions; everything else
(launch.sh's flawn lookups, scoring, ``run.json``) is flawn's real code. What
needs T5X itself is in ``tests/test_t5x.py`` (skipped without it).
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import flawn.tasks  # noqa: F401  (registers the demo mixtures the runs train on)
from flawn.runs import RunDir, run_state
from flawn.sweeps.launcher import status_rows
from flawn.sweeps.planning import plan_sweep
from flawn.t5x import eval_tasks, record

pytestmark = pytest.mark.slow

STEPS = 20

EXPERIMENT = f"""
import flawn.sweeps.spec
Sweep.name = 'pod'
Sweep.mixtures = ['demo.general_only', 'demo.general_plus_legal']
Sweep.baseline_mixture = 'demo.general_only'
Sweep.sizes = ['tiny']
Sweep.macros = {{
    'TASK_FEATURE_LENGTHS': {{'inputs': 144, 'targets': 16}}, 'TRAIN_STEPS': {STEPS},
    'BATCH_SIZE': 8,
}}
Sweep.max_decode_length = 8
"""

FAKE_GCLOUD = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >> "$FAKE_GCLOUD_LOG"
here() { if [[ "$1" == gs://* ]]; then echo "$FAKE_GCS/${1#gs://}"; else echo "$1"; fi; }
if [[ "$1 $2 $3 $4" == "compute tpus tpu-vm ssh" ]]; then
  shift 4
  command=""
  while [[ $# -gt 0 ]]; do
    if [[ "$1" == --command ]]; then command="$2"; shift; fi
    shift
  done
  cd "$FAKE_WORKER_HOME" && exec bash -c "$command"
fi
if [[ "$1 $2 $3 $4" == "compute tpus tpu-vm scp" ]]; then
  shift 4
  paths=()
  while [[ $# -gt 0 ]]; do
    case "$1" in --zone|--project) shift ;; --*) ;; *) paths+=("$1") ;; esac
    shift
  done
  dest="$FAKE_WORKER_HOME/${paths[-1]#*:}"
  unset 'paths[-1]'
  mkdir -p "$dest" && cp -r "${paths[@]}" "$dest"
  exit
fi
if [[ "$1 $2" == "storage cp" ]]; then
  shift 2
  if [[ "$1" == -r ]]; then shift; fi
  source="$(here "$1")" target="$(here "$2")"
  mkdir -p "$(dirname "$target")"
  cp -r $source "$target"  # unquoted: a source may end in a wildcard, as gcloud allows
  exit
fi
echo "fake gcloud: unexpected arguments: $*" >&2
exit 2
"""

FAKE_T5X_PYTHON = r"""#!/usr/bin/env bash
if [[ "$1" == -c && "$2" == *t5x* ]]; then  # launch.sh's checks for T5X and its root
  if [[ "$2" == *print* ]]; then echo "$FAKE_GCS/t5x_root"; fi
  exit 0
fi
if [[ "$1 $2" == "-m t5x.train" ]]; then
  prefix="I1130 12:15:20.527333 1 logging_writer.py:48]"
  metrics="accuracy=0.5, cross_ent_loss_per_all_target_tokens=1.5, loss=40.0"
  metrics="$metrics, non_padding_fraction/loss_weights=0.5"
  for step in 5 10 15 20; do
    if [[ -n "${FAKE_T5X_FAIL_AFTER:-}" && "$step" -gt "$FAKE_T5X_FAIL_AFTER" ]]; then
      echo "ValueError: fake T5X failure after step $FAKE_T5X_FAIL_AFTER" >&2
      exit 1
    fi
    echo "$prefix [$step] collection=train $metrics"
  done
  exit 0
fi
if [[ "$1 $2" == "-m t5x.infer" ]]; then
  for arg in "$@"; do
    case "$arg" in
      "--gin_bindings=INFER_OUTPUT_DIR = '"*) out="${arg#*= \'}"; out="${out%\'}" ;;
    esac
  done
  mkdir -p "$FAKE_GCS/${out#gs://}" && cp "$FAKE_PREDICTIONS"/* "$FAKE_GCS/${out#gs://}/"
  exit
fi
exec "$REAL_PYTHON" "$@"
"""


def _write_predictions(folder, answer):
    """t5x.infer-style files for the sample suite, one JSON row per example, in order."""
    from flawn.evals.legalbench.tasks import load_suite
    from flawn.evals.suites import suite_dir

    folder.mkdir(parents=True, exist_ok=True)
    for task in load_suite(suite_dir("sample"), "test"):
        name = eval_tasks.suite_task_name("sample", task.name)
        with open(folder / f"{name}-predict.jsonl-00000-of-00001", "w", encoding="utf-8") as f:
            for example in task.examples:
                inputs = {
                    "inputs_pretokenized": task.prompt(example),
                    "targets_pretokenized": example.answer,
                }
                f.write(json.dumps({"inputs": inputs, "prediction": answer(example)}) + "\n")
    return folder


@pytest.fixture(scope="module")
def pod(tmp_path_factory):
    """The experiment planned with ``--write`` for T5X, and a fake pod to run pod.sh on."""
    from flawn.cli import main

    root = tmp_path_factory.mktemp("pod")
    experiment = root / "pod.gin"
    experiment.write_text(EXPERIMENT)
    code = main(
        [
            "sweep",
            "plan",
            os.fspath(experiment),
            "--backend",
            "t5x",
            "--write",
            "--no-data",
            "--output-dir",
            os.fspath(root / "runs"),
        ]
    )
    assert code == 0
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name, text in (("gcloud", FAKE_GCLOUD), ("t5x_python", FAKE_T5X_PYTHON)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (root / "worker_home").mkdir()
    gold = _write_predictions(root / "gold", lambda e: e.answer)
    wrong = _write_predictions(root / "wrong", lambda e: e.answer + "x")
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_GCLOUD_LOG": os.fspath(root / "gcloud.log"),
        "FAKE_GCS": os.fspath(root / "gcs"),
        "FAKE_WORKER_HOME": os.fspath(root / "worker_home"),
        "FAKE_PREDICTIONS": os.fspath(gold),
        "REAL_PYTHON": sys.executable,
        "REMOTE_PYTHON": os.fspath(bin_dir / "t5x_python"),
        "FLAWN_PYTHON": sys.executable,
        "TPU_NAME": "fake-v4-16",
        "ZONE": "us-central2-b",
    }
    # `flawn sweep status` plans the experiment as it is (backend local) and finds the runs.
    plan = plan_sweep(os.fspath(experiment), output_dir=root / "runs", strict=False)
    return {"root": root, "plan": plan, "env": env, "gold": gold, "wrong": wrong}


def _pod_sh(pod, run, phase, **env):
    run_dir = pod["plan"].run_dir(run)
    return subprocess.run(
        ["bash", os.fspath(run_dir.t5x_dir / "pod.sh"), phase],
        env={
            **pod["env"],
            "MODEL_DIR_ROOT": f"gs://bucket/pod/{run.spec.run_id}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=600,
    )


def _tasks(run_dir):
    """The task rows of the run's one evaluation."""
    (eval_id,) = run_dir.eval_ids()
    with open(run_dir.eval_dir(eval_id) / "tasks.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _row(pod, run):
    return next(r for r in status_rows(pod["plan"]) if r["run id"] == run.spec.run_id)


def test_plan_write_prepares_every_run_for_a_pod_without_training(pod):
    plan = pod["plan"]
    assert plan.backend == "local" and len(plan.runs) == 2
    for run in plan.runs:
        run_dir = plan.run_dir(run)
        for name in ("launch.sh", "pod.sh", "plan.json", "model.gin", "stages/finetune.gin"):
            assert (run_dir.t5x_dir / name).exists(), name
        assert os.access(run_dir.t5x_dir / "pod.sh", os.X_OK)
        assert not (run_dir.t5x_dir / "model").exists() and not run_dir.status_path.exists()
    manifest = json.loads((plan.sweep_dir / "manifest.json").read_text())
    assert set(manifest["runs"]) == {r.spec.run_id for r in plan.runs}
    assert [r["status"] for r in status_rows(plan)] == ["planned", "planned"]


def test_a_failed_pod_train_is_recorded_with_the_step_reached(pod):
    run = pod["plan"].runs[1]
    result = _pod_sh(pod, run, "all", FAKE_T5X_FAIL_AFTER="10")
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    row = _row(pod, run)
    assert (row["status"], row["backend"], row["step"]) == ("failed", "t5x", f"10/{STEPS}")
    status = RunDir(pod["plan"].run_dir(run).path).read_status()
    assert status["phase"] == "train" and status["loss"] == pytest.approx(3.0)
    assert status["error"].startswith(f"pod.sh train failed with exit code 1 at step 10/{STEPS}")
    assert "ValueError: fake T5X failure after step 10" in status["error"]
    assert "fake T5X failure" in status["traceback"]  # the log's tail
    log = status["error"].rsplit("(log: ", 1)[1].rstrip(")")
    with open(log, encoding="utf-8") as f:
        assert "collection=train" in f.read()
    calls = (pod["root"] / "gcloud.log").read_text()
    assert "compute tpus tpu-vm ssh fake-v4-16 --zone us-central2-b --worker=all" in calls
    assert "compute tpus tpu-vm scp --recurse" in calls


def test_pod_sh_records_a_finished_run_that_sweep_status_shows(pod):
    run = pod["plan"].runs[0]
    result = _pod_sh(pod, run, "all")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    row = _row(pod, run)
    assert (row["status"], row["backend"], row["step"]) == ("finished", "t5x", f"{STEPS}/{STEPS}")
    assert row["evals"] == "1/1" and row["loss"] == "3.0000" and row["attempts"] == 1
    run_dir = pod["plan"].run_dir(run)
    tasks = _tasks(run_dir)
    assert len(tasks) == 5 and all(t["score"] == 1.0 and t["backend"] == "t5x" for t in tasks)


def test_pod_sh_score_rescores_after_a_new_infer(pod):
    run = pod["plan"].runs[0]
    if _row(pod, run)["status"] != "finished":
        assert _pod_sh(pod, run, "all").returncode == 0
    infer = _pod_sh(pod, run, "infer", FAKE_PREDICTIONS=os.fspath(pod["wrong"]))
    assert infer.returncode == 0, infer.stderr[-2000:]
    score = _pod_sh(pod, run, "score")
    assert score.returncode == 0, score.stdout[-2000:] + score.stderr[-2000:]
    assert "done earlier" not in score.stdout and ": eval/" in score.stdout
    run_dir = pod["plan"].run_dir(run)
    tasks = _tasks(run_dir)
    assert all(t["score"] == 0.0 for t in tasks)  # the new, wrong predictions
    assert _row(pod, run)["status"] == "finished"  # (reusing the same ones: test_t5x.py)


def test_a_launch_evaluates_a_pod_trained_run_without_training_it_here(pod):
    """Rank classification needs the checkpoint here; the launch must not retrain to get it."""
    from flawn.errors import ConfigError
    from flawn.runs import EvalSpec
    from flawn.sweeps.worker import run_one

    run = pod["plan"].runs[0]
    run_dir = pod["plan"].run_dir(run)
    if _row(pod, run)["status"] != "finished":
        assert _pod_sh(pod, run, "all").returncode == 0
    rank = EvalSpec(suite="sample", mode="rank_classification", max_decode_length=8)
    with pytest.raises(ConfigError, match=r"pod\.sh fetch"):
        run_one(run_dir, [rank], backend_name="local", tee_log=False)
    status = run_dir.read_status()
    assert status["backend"] == "t5x" and "pod.sh fetch" in status["error"]
    assert not run_dir.final_stage().checkpoint_dir.exists()  # nothing trained locally
    assert not (run_dir.t5x_dir / "model").exists()  # nor with T5X on this host


def test_a_pod_run_is_running_while_pod_sh_lives_and_interrupted_after(pod, tmp_path):
    run_dir = pod["plan"].run_dir(pod["plan"].runs[1])
    alive = subprocess.Popen(["sleep", "60"])
    try:
        record.start(run_dir, "train", alive.pid)
        assert run_state(run_dir) == "running"
        assert run_dir.read_status()["backend"] == "t5x"
    finally:
        alive.kill()
        alive.wait()
    assert run_state(run_dir) == "interrupted"


def test_watch_copies_the_output_and_records_flawn_steps(pod, tmp_path):
    import io

    run_dir = pod["plan"].run_dir(pod["plan"].runs[1])
    prefix = "I1 logging_writer.py:48] [15] collection=train"
    lines = textwrap.dedent(
        f"""\
        == stage 1/1 finetune: T5X steps 0 -> 20, model dir gs://b/finetune
        {prefix} timing/seconds=1.0
        {prefix} cross_ent_loss_per_all_target_tokens=2.0, non_padding_fraction/loss_weights=0.5
        """
    )
    out = io.StringIO()
    record.watch(run_dir, os.fspath(tmp_path / "w.log"), io.StringIO(lines), out)
    assert out.getvalue() == lines == (tmp_path / "w.log").read_text()
    status = run_dir.read_status()
    assert (status["step"], status["total_steps"], status["loss"]) == (15, STEPS, 4.0)
