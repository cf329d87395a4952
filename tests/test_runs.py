import json
import os
import socket
import subprocess
import sys
import time

import pytest

from flawn.runs import EvalSpec, Manifest, RunDir, RunSpec, Stage, TrainDir, run_state
from flawn.runs.manifest import evals_done

GIN = "MIXTURE_OR_TASK_NAME = 'demo.general_only'\nMODEL_DIR = %gin.REQUIRED\n"


def _spec(**overrides):
    values = dict(
        sweep="s",
        name="demo.general_only/tiny/finetune/seed0",
        axes={"mixture": "demo.general_only", "size": "tiny", "regime": "finetune", "seed": 0},
        size="tiny",
        regime="finetune",
        seed=0,
        backend="local",
        stages=(
            Stage("finetune", "gin/runs/finetune.gin", "demo.general_only", 10, "scratch", GIN),
        ),
        data={"demo.general_only": {"rates": {"sample_flan.general": 1.0}}},
        model={"size": "tiny", "emb_dim": 128},
    )
    values.update(overrides)
    return RunSpec(**values)


def test_importing_the_run_seam_imports_neither_tensorflow_nor_jax():
    code = (
        "import sys, flawn.runs, flawn.analysis, flawn.analysis.sweep_report; "
        "print('tensorflow' in sys.modules, 'jax' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_stored_configs_do_not_know_where_their_folder_is(tmp_path):
    folder = TrainDir(tmp_path / "a")
    folder.write_config(f"SEED = 0\nMODEL_DIR = '{tmp_path / 'a'}'\n")
    text = folder.config_text()
    assert str(tmp_path) not in text and "MODEL_DIR = %gin.REQUIRED" in text
    moved = tmp_path / "b"
    os.rename(tmp_path / "a", moved)
    assert TrainDir(moved).bindings() == [f"MODEL_DIR = {str(moved)!r}"]


def test_metrics_logged_after_the_last_checkpoint_are_dropped_on_resume(tmp_path):
    folder = TrainDir(tmp_path)
    folder.metrics_path.write_text("".join(json.dumps({"step": s}) + "\n" for s in (5, 10, 15)))
    assert folder.truncate_metrics(10) == 1
    assert [r["step"] for r in folder.read_metrics()] == [5, 10]
    assert folder.truncate_metrics(10) == 0


def test_run_spec_round_trips_and_refuses_a_hand_edited_file():
    spec = _spec()
    stored = json.loads(json.dumps(spec.to_json()))
    assert RunSpec.from_json(stored) == spec and stored["run_id"] == spec.run_id
    assert _spec(seed=1, axes={**spec.axes, "seed": 1}).run_id == spec.run_id  # axes are labels
    assert _spec(data={"demo.general_only": {"rates": {"x": 2.0}}}).run_id != spec.run_id
    assert _spec(backend="t5x").run_id == spec.run_id  # the same training on either backend
    stored["stages"][0]["steps"] = 99
    with pytest.raises(ValueError, match="edited by hand"):
        RunSpec.from_json(stored)
    with pytest.raises(ValueError, match="first stage"):
        _spec(stages=(Stage("a", "f", "m", 1, "previous", GIN),))


def test_eval_ids_change_with_anything_that_is_scored():
    base = EvalSpec(suite="sample", max_decode_length=8)
    ids = {
        base.eval_id(144, 400),
        EvalSpec(suite="sample", max_decode_length=8, mode="rank_classification").eval_id(144, 400),
        EvalSpec(suite="sample", max_decode_length=16).eval_id(144, 400),
        base.eval_id(128, 400),
        base.eval_id(144, 200),
        base.eval_id(144, 400, {"tasks.tsv": "changed"}),
    }
    assert len(ids) == 6
    assert base.eval_id(144, 400) == EvalSpec(suite="sample", max_decode_length=8).eval_id(144, 400)
    assert base.eval_id(144, 400).startswith("sample.generation-")
    assert EvalSpec(suite="lawbench").suite_name == "lawbench.zero_shot"
    with pytest.raises(ValueError, match="generated answers"):
        EvalSpec(suite="lawbench", mode="rank_classification")


def test_run_states_follow_the_process_and_the_evaluations(tmp_path):
    run = RunDir(tmp_path / "run")
    run.write_spec(_spec().to_json())
    assert run_state(run) == "planned"
    run.mark_started("local")
    assert run_state(run) == "running"  # this process is alive
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.update_status(pid=dead.pid)
    assert run_state(run) == "interrupted"  # killed: run.json still says running
    run.update_status(host="another-host", heartbeat=time.time())
    assert run_state(run) == "running"  # cannot see the process: trust a fresh heartbeat
    run.update_status(heartbeat=time.time() - 3600)
    assert run_state(run) == "interrupted"
    run.update_status(host=socket.gethostname(), pid=os.getpid())
    (run.stage("finetune").checkpoint_dir / "10").mkdir(parents=True)
    run.write_eval_spec("sample.generation-abc", {"eval_id": "sample.generation-abc"})
    run.mark_finished(evals={"key1": "sample.generation-abc"})
    assert run_state(run, ["key1"]) == "finished"
    assert evals_done(run, ["key1", "key2"]) == ["key1"]
    assert run_state(run, ["key1", "key2"]) == "stale"  # the sweep now asks for more
    run.mark_failed("ValueError: boom")
    assert run_state(run) == "failed" and run.read_status()["attempts"] == 1


def test_manifest_keeps_runs_the_experiment_dropped(tmp_path):
    manifest = Manifest(tmp_path)
    manifest.record_plan("s", "exp.gin", {"a": {"name": "A"}, "b": {"name": "B"}})
    manifest.update(a={"status": "finished", "attempts": 1})
    manifest.record_plan("s", "exp.gin", {"a": {"name": "A"}, "c": {"name": "C"}})
    runs = manifest.runs()
    assert runs["a"]["status"] == "finished" and runs["a"]["in_plan"]
    assert runs["b"]["in_plan"] is False and runs["c"]["status"] == "planned"
