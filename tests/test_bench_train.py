"""bench/train_throughput.py: the workloads it times and the figures it writes."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from flawn.models.flops import count_parameters, train_step_flops
from flawn.models.sizes import get_size

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "train_throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("train_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _args(**given) -> argparse.Namespace:
    values = {"model": None, "vocab": None, "batch_size": None, "inputs": None, "targets": None}
    values.update(given)
    return argparse.Namespace(**values)


def test_anchor_workload_is_the_issue_s(bench):
    work = bench.Workload.from_args(_args())
    assert (work.vocab, work.batch, work.inputs, work.targets) == (512, 8, 256, 64)
    assert count_parameters(work.shape, work.vocab).total == 9_705_216
    flops = train_step_flops(work.shape, work.vocab, work.inputs, work.targets, work.batch)
    assert round(flops.total / 1e9, 1) == 81.3


def test_named_size_takes_its_shape_and_the_t5_vocabulary(bench):
    work = bench.Workload.from_args(_args(model="base", batch_size=64, inputs=512, targets=128))
    assert work.shape == dict(get_size("base").shape)
    assert work.vocab == 32_128
    assert count_parameters(work.shape, work.vocab).total == 247_577_856
    assert (work.batch, work.inputs, work.targets) == (64, 512, 128)
    # The CPU sizes size their vocabulary from the task: the bench uses the anchor's.
    assert bench.Workload.from_args(_args(model="tiny")).vocab == 512
    assert bench.Workload.from_args(_args(model="tiny", vocab=1000)).vocab == 1000


def test_workload_errors_say_what_to_do(bench):
    with pytest.raises(SystemExit, match="did you mean 'tiny'"):
        bench.Workload.from_args(_args(model="tnyi"))
    with pytest.raises(SystemExit, match="--inputs only apply with --model SIZE"):
        bench.Workload.from_args(_args(inputs=128))


def test_mfu_goal_verdict(bench):
    rows = [
        {"config": "flawn float32", "mfu": 0.2},
        {"config": "flawn bfloat16", "mfu": 0.452},
    ]
    assert bench._mfu_goal(rows) == ["goal T5 1.1 base bfloat16 MFU >= 45%: 45.2% (met)"]
    rows[1]["mfu"] = 0.31
    assert bench._mfu_goal(rows)[0].endswith("31.0% (not met)")


@pytest.mark.slow
def test_model_run_writes_its_figures(tmp_path):
    out = tmp_path / "figures.json"
    command = [sys.executable, str(SCRIPT), "--model", "tiny", "--dtypes", "bfloat16"]
    command += ["--no-hf", "--rounds", "1", "--steps", "1", "--warmup", "0"]
    command += ["--batch-size", "2", "--inputs", "32", "--targets", "8", "--json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(out.read_text())
    shape = dict(get_size("tiny").shape)
    assert figures["workload"] == {
        "name": "tiny",
        "shape": shape,
        "vocab": 512,
        "batch": 2,
        "inputs": 32,
        "targets": 8,
    }
    expected = train_step_flops(shape, 512, 32, 8, 2).total
    assert figures["counted_gflop_per_step"] == round(expected / 1e9, 2)
    assert figures["parameters"] == count_parameters(shape, 512).total
    (row,) = figures["rows"]
    assert row["config"] == "flawn bfloat16"
    assert row["s_per_step"] > 0 and 0 < row["mfu"] < 1
    # s_per_step is rounded to the millisecond, on a step of a few milliseconds.
    assert row["target_tokens_per_s"] == pytest.approx(2 * 8 / row["s_per_step"], rel=0.1)
    # The anchor's CPU goals are not claimed for another workload.
    assert figures["goals"] == []
    assert figures["hf_skipped"] == "--no-hf"
    assert "Hugging Face skipped: --no-hf" in done.stdout
