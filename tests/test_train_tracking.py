"""What a training run records in W&B, read back from the offline run's own files."""

import pytest

from flawn.train.wandb_offline import read_offline_run

# The stage trains in a fresh interpreter, as a sweep's worker does: W&B keeps one
# service per process, and runs made by earlier tests in the same process must not
# decide what this run's log holds.
TRAIN_STAGE = """
import json, sys
import flawn.tasks
from flawn.runs import RunDir
from flawn.sweeps.spec import Sweep, SweepPoint, resolve_run
from flawn.train.backend import LocalBackend

sweep = Sweep(
    name="tracked",
    mixtures=["demo.general_plus_legal"],
    baseline_mixture="demo.general_plus_legal",
    regimes=["finetune"],
    macros={
        "TASK_FEATURE_LENGTHS": {"inputs": 144, "targets": 16},
        "TRAIN_STEPS": 4,
        "BATCH_SIZE": 4,
    },
    bindings=[
        "TrainConfig.use_wandb = True",
        "TrainConfig.log_every = 2",
        "TrainConfig.eval_every = 4",
        "TrainConfig.eval_tasks = ['sample_governing_law']",
        "TrainConfig.eval_limit = 2",
        "TrainConfig.eval_max_decode_length = 2",
    ],
)
point = SweepPoint(
    {"mixture": "demo.general_plus_legal", "size": "tiny", "regime": "finetune", "seed": 0}, {}
)
spec = resolve_run(sweep, point)
run_dir = RunDir(sys.argv[1] + "/" + spec.run_id)
run_dir.write_spec(spec.to_json())
LocalBackend().train(spec, run_dir)
print("RESULT " + json.dumps({"run_id": spec.run_id, "mixture": spec.axes["mixture"]}))
"""


@pytest.mark.slow
def test_a_stage_logs_its_config_curves_and_data_to_an_offline_wandb_run(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from flawn.runs import RunDir

    done = subprocess.run(
        [sys.executable, "-c", TRAIN_STAGE, str(tmp_path)],
        env={**os.environ, "WANDB_MODE": "offline"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    run_dir = RunDir(tmp_path / result["run_id"])

    (folder,) = sorted((run_dir.path / "wandb").glob("offline-run-*"))
    run = read_offline_run(folder)
    assert run.run_id == f"{result['run_id']}-finetune"
    # The fully resolved gin config, as a config entry and as a file; the stage and axes.
    assert "TrainConfig.eval_every = 4" in run.config["gin_config"]
    assert "config.gin" in run.files
    assert (folder / "files" / "config.gin").read_text() == run.config["gin_config"]
    assert run.config["stage"] == "finetune" and run.config["axis.mixture"] == result["mixture"]
    assert run.config["batch_size"] == 4
    planned = {k: v for k, v in run.config.items() if k.startswith("data/planned_share/")}
    assert sum(planned.values()) == pytest.approx(1.0)
    # Curves at the logging steps: loss, learning rate, gradient norm, throughput, MFU.
    for key in ("loss", "learning_rate", "grad_norm", "tokens_per_second", "mfu"):
        assert [step for step, _ in run.metric(key)] == [2, 4], key
    assert all(value > 0 for _, value in run.metric("mfu"))
    # The learning rate is the schedule's at the window's last update.
    from flawn.train.config import load_train_config
    from flawn.train.optim import learning_rate_schedule

    config = load_train_config(run_dir.stage("finetune"))
    schedule = learning_rate_schedule(config.optimizer, config.train_steps)
    for step, value in run.metric("learning_rate"):
        assert value == pytest.approx(float(schedule(step - 1)))
    # The in-training evaluation, and the examples drawn per source at the last step.
    ((step, score),) = run.metric("eval/sample/sample_governing_law")
    assert step == 4 and 0 <= score <= 1
    assert run.metric("eval/sample/mean") == [(4, score)]
    drawn = {k: v for k, v in run.history[-1].items() if k.startswith("data/drawn/")}
    assert set(drawn) == {f"data/drawn/{source}" for source in planned_sources(planned)}
    assert sum(drawn.values()) == run.summary["examples_seen"]
    assert {k: run.summary[k] for k in drawn} == drawn
    # The same rows in the stage's metrics file; nothing in the run's eval/ folder.
    rows = run_dir.stage("finetune").read_metrics()
    assert [row["step"] for row in rows] == [2, 4]
    assert rows[-1]["eval/sample/mean"] == score
    assert not list(run_dir.path.glob("eval/*"))


def planned_sources(planned):
    return [key.removeprefix("data/planned_share/") for key in planned]


def test_reading_a_file_that_is_not_a_wandb_log_says_so(tmp_path):
    path = tmp_path / "run-x.wandb"
    path.write_bytes(b"not a log at all")
    with pytest.raises(ValueError, match="not a W&B transaction log"):
        read_offline_run(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no run-"):
        read_offline_run(tmp_path / "empty")


# Trains 8 steps, checkpointing every 2 and logging every step; with "hang" it stops at
# step 5, after logging it, until killed (as a job killed by the OOM killer or `kill -9`).
KILLED_TRAINING = """
import sys, time
import flawn.tasks
from flawn.models.config import T5Config
from flawn.train.config import OptimizerConfig, TrainConfig
from flawn.train.local import train

def hang(step, total, metrics):
    if step == 5 and sys.argv[2] == "hang":
        print("READY", flush=True)
        time.sleep(600)

config = TrainConfig(
    model_dir=sys.argv[1],
    mixture_or_task_name="demo.general_plus_legal",
    task_feature_lengths={"inputs": 32, "targets": 8},
    train_steps=8,
    batch_size=2,
    model=T5Config(emb_dim=32, num_heads=2, head_dim=8, mlp_dim=64,
                   num_encoder_layers=1, num_decoder_layers=1),
    optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=2),
    log_every=1,
    checkpoint_every=2,
    use_wandb=True,
    report_data=False,
)
train(config, hooks=[hang])
"""


@pytest.mark.slow
def test_a_run_killed_outright_and_resumed_has_every_step_once_in_wandb(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    run = tmp_path / "run"
    # Each attempt has a W&B service of its own, as each sweep worker has.
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
    env["WANDB_MODE"] = "offline"
    job = subprocess.Popen(
        [sys.executable, "-c", KILLED_TRAINING, str(run), "hang"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = iter(job.stdout.readline, "")
        assert "READY" in (line.strip() for line in lines)  # step 5 logged, 4 checkpointed
    finally:
        job.send_signal(signal.SIGKILL)
        job.wait()
    done = subprocess.run(
        [sys.executable, "-c", KILLED_TRAINING, str(run), "finish"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "resuming" in done.stdout + done.stderr

    folders = sorted((run / "wandb").glob("offline-run-*"))  # the killed attempt's, then ours
    assert len(folders) == 2
    steps = [row["_step"] for folder in folders for row in read_offline_run(folder).history]
    assert steps == list(range(1, 9))
    history = [row for folder in folders for row in read_offline_run(folder).history]
    from flawn.runs.run_dir import TrainDir

    rows = TrainDir(run).read_metrics()
    assert [row["step"] for row in rows] == list(range(1, 9))
    for row, logged in zip(rows, history, strict=True):
        assert logged["loss"] == pytest.approx(row["loss"])


# Opens, fills and closes runs one after another, reading each back as soon as it is
# closed (as `test_run_card_lists_plan_counts_and_scores_and_goes_to_wandb` does); prints
# the runs whose log lacked its last records. W&B's service writes a run's log after
# `finish()` returns, so without waiting for it the read raced the writer.
CLOSE_THEN_READ = """
import json, pathlib, sys
from flawn.train.tracking import RunTracker
from flawn.train.wandb_offline import read_offline_run

root = pathlib.Path(sys.argv[1])
(root / "card.md").write_text("# card")
incomplete = []
for attempt in range(8):
    tracker = RunTracker(root / str(attempt), "run", {"a": 1}, project="flawn-test",
                         run_id=f"closed{attempt}", metrics_file=None)
    tracker.log({"loss": 1.0}, step=1)
    tracker.log_file("run_card", "run_card", root / "card.md")
    folder = tracker.wandb_dir
    tracker.close()
    run = read_offline_run(folder)
    if run.artifacts != [("run_card", "run_card", ["card.md"])] or run.metric("loss") != [(1, 1.0)]:
        incomplete.append(attempt)
print("RESULT " + json.dumps(incomplete))
"""


@pytest.mark.slow
def test_a_closed_run_reads_back_whole_at_once(tmp_path):
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
    done = subprocess.run(
        [sys.executable, "-c", CLOSE_THEN_READ, str(tmp_path)],
        env={**env, "WANDB_MODE": "offline"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    assert json.loads(line.removeprefix("RESULT ")) == []
