"""Regimes: every shipped regime resolves to its stages; a killed stage resumes exactly."""

import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import flawn.tasks  # noqa: F401
from flawn.sweeps.spec import Sweep, SweepPoint, resolve_run

MACROS = {
    "TASK_FEATURE_LENGTHS": {"inputs": 144, "targets": 16},
    "TRAIN_STEPS": 10,
    "BATCH_SIZE": 4,
    "PRETRAIN_MIXTURE": "multilegalpile.sample",
    "PRETRAIN_STEPS": 6,
    "STAGE2_MIXTURE": "demo.legal",
    "STAGE2_STEPS": 5,
}


@pytest.mark.parametrize(
    ("regime", "stages"),
    [
        ("finetune", [("finetune", "demo.general_plus_legal", 10, "scratch")]),
        (
            "pretrain_then_finetune",
            [
                ("pretrain", "multilegalpile.sample", 6, "scratch"),
                ("finetune", "demo.general_plus_legal", 10, "previous"),
            ],
        ),
        (
            "lawgpt",
            [
                ("pretrain", "multilegalpile.sample", 6, "scratch"),
                ("finetune", "demo.general_plus_legal", 10, "previous"),
            ],
        ),
        (
            "two_stage",
            [
                ("stage1", "demo.general_plus_legal", 10, "scratch"),
                ("stage2", "demo.legal", 5, "previous"),
            ],
        ),
    ],
)
def test_every_regime_resolves_to_its_stages(regime, stages):
    sweep = Sweep(
        name="r",
        mixtures=["demo.general_plus_legal"],
        baseline_mixture="demo.general_plus_legal",
        regimes=[regime],
        macros=MACROS,
    )
    point = SweepPoint(
        {"mixture": "demo.general_plus_legal", "size": "tiny", "regime": regime, "seed": 0}, {}
    )
    spec = resolve_run(sweep, point)
    assert [(s.name, s.mixture, s.steps, s.init) for s in spec.stages] == stages
    runs = [s.run_file for s in spec.stages]
    if regime in ("pretrain_then_finetune", "lawgpt"):
        assert runs == ["gin/runs/pretrain.gin", "gin/runs/finetune.gin"]
        assert "sized_t5_config.dropout_rate = 0.0" in spec.stages[0].gin


def _command(model_dir):
    return [
        sys.executable,
        "-m",
        "flawn.cli",
        "train",
        "--gin_file=gin/models/tiny.gin",
        "--gin_file=gin/regimes/two_stage.gin",
        "--gin.MIXTURE_OR_TASK_NAME=demo.general_plus_legal",
        "--gin.TASK_FEATURE_LENGTHS={'inputs': 144, 'targets': 16}",
        "--gin.TRAIN_STEPS=20",
        "--gin.BATCH_SIZE=4",
        "--gin.STAGE2_MIXTURE=demo.legal",
        "--gin.STAGE2_STEPS=60",
        "--gin.TrainConfig.use_wandb=False",
        "--gin.TrainConfig.report_data=False",
        "--gin.TrainConfig.log_every=5",
        "--gin.TrainConfig.checkpoint_every=10",
        f"--gin.MODEL_DIR={model_dir}",
    ]


@pytest.mark.slow
def test_a_stage_killed_mid_way_resumes_and_ends_where_an_uninterrupted_run_ends(tmp_path):
    from flawn.runs import RunDir
    from flawn.train.backend import LocalBackend

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    straight = tmp_path / "straight"
    subprocess.run(_command(straight), cwd=root, check=True, capture_output=True, timeout=900)

    killed = tmp_path / "killed"
    with open(tmp_path / "log", "w") as log:
        process = subprocess.Popen(
            _command(killed),
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        stage2 = RunDir(killed).stage("stage2")
        deadline = time.time() + 600
        while time.time() < deadline and 20 not in stage2.checkpoint_steps():
            assert process.poll() is None, (tmp_path / "log").read_text()[-3000:]
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGKILL)  # in stage 2, as a preempted host
        process.wait()
    stopped = stage2.checkpoint_steps()[-1]
    assert 20 <= stopped < 60
    resumed = subprocess.run(
        _command(killed), cwd=root, check=True, capture_output=True, text=True, timeout=900
    )
    assert "stage 1/2 stage1: finished earlier" in resumed.stdout
    assert f"from step {stopped}" in resumed.stdout

    a = LocalBackend().predictor(RunDir(straight))
    b = LocalBackend().predictor(RunDir(killed))
    assert a.step == b.step == 60
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)
    steps = [m["step"] for m in stage2.read_metrics()]
    assert steps == list(range(5, 61, 5))  # no duplicate rows
