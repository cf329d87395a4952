"""A failed sweep run: one line on the console, the traceback in its log, the whole error in
``flawn sweep status``."""

import os

import pytest

import flawn.tasks  # noqa: F401  (registers the demo mixtures)
from flawn.cli import main
from flawn.runs import RunDir
from flawn.sweeps.planning import plan_sweep
from flawn.sweeps.spec import Sweep, SweepPoint, resolve_run
from flawn.sweeps.worker import run_one

MIXTURE = "demo.general_plus_legal"


@pytest.fixture(autouse=True)
def _unlocked_gin():
    """Resolving a run imports modules that register gin configurables, which gin refuses
    once a config is parsed (locked), as an earlier test in this process may have done."""
    import gin

    gin.clear_config()


def _failing_spec(init: str):
    """A run whose stage starts from a folder that holds no checkpoint (refused at once)."""
    sweep = Sweep(
        name="errors",
        mixtures=[MIXTURE],
        baseline_mixture=MIXTURE,
        regimes=["finetune"],
        macros={
            "TASK_FEATURE_LENGTHS": {"inputs": 32, "targets": 8},
            "TRAIN_STEPS": 2,
            "BATCH_SIZE": 2,
            "INIT": init,
        },
        bindings=["TrainConfig.use_wandb = False", "TrainConfig.report_data = False"],
    )
    point = SweepPoint({"mixture": MIXTURE, "size": "tiny", "regime": "finetune", "seed": 0}, {})
    return resolve_run(sweep, point)


def test_a_failed_run_prints_one_line_and_keeps_the_traceback_in_its_log(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    spec = _failing_spec(os.fspath(tmp_path / "empty"))
    run_dir = RunDir(tmp_path / "run")
    run_dir.write_spec(spec.to_json())
    with pytest.raises(Exception, match="is not a checkpoint flawn can start from"):
        run_one(run_dir, [])
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.strip()]
    log = run_dir.log_path(1)
    assert line.startswith(f"== run {spec.run_id} {spec.name}: failed: ConfigError: ")
    assert "is not a checkpoint flawn can start from" in line
    assert line.endswith(f"(traceback in {log})")
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "ConfigError" in text
    assert run_dir.read_status()["status"] == "failed"


def test_sweep_status_shows_a_long_error_whole_and_names_the_log(tmp_path, project_root, capsys):
    experiment = os.fspath(project_root / "experiments" / "demo.gin")
    plan = plan_sweep(experiment, output_dir=tmp_path)
    run = plan.runs[0]
    run_dir = plan.run_dir(run)
    run_dir.write_spec(run.spec.to_json())
    run_dir.mark_started("local")
    log = run_dir.log_path(1)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("Traceback (most recent call last):\n...\n")
    error = (
        f"CheckpointError: the checkpoint of step 40 cannot be written to {run_dir.path}/stages/"
        "finetune/checkpoints: the disk is full (1,024 bytes free, 262,148 needed); free space "
        "there (or move the run folder) and launch again: training resumes from the last "
        "checkpoint written"
    )
    run_dir.mark_failed(error, "Traceback (most recent call last): ...")

    assert main(["sweep", "status", experiment, "--output-dir", os.fspath(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert " ".join(error.split()) in " ".join(out.split())  # whole, however it is wrapped
    assert f"traceback: {log}" in out
    assert max(len(line) for line in out.splitlines() if "free space" in line) <= 102
