"""End to end: sweeps launched for real, runs failing, killed, moved and re-evaluated."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import flawn.tasks  # noqa: F401
from flawn.mixtures.named import load_named_mixtures
from flawn.runs import RunDir, run_state
from flawn.sweeps.launcher import launch, status_rows
from flawn.sweeps.planning import plan_sweep

pytestmark = pytest.mark.slow

# A mixture whose data source breaks while a marker file exists, as a shard on a failing
# disk would: it plans and registers fine and fails only when the run reads it.
FLAKY_MIXTURES = """
import os

import seqio
import tensorflow as tf

from flawn import paths
from flawn.mixtures import FixedWeight, register_mixture
from flawn.tasks.features import text_output_features
from flawn.vocab import load_vocabulary


def _rows(split, shuffle_files, seed=None):
    if os.path.exists(os.environ["FLAWN_TEST_BROKEN_MARKER"]):
        raise RuntimeError("the flaky test source is broken on purpose")
    return tf.data.Dataset.from_tensor_slices(
        {"inputs": ["Is this a contract clause?"] * 64, "targets": ["Yes"] * 64}
    )


seqio.TaskRegistry.add(
    "test_launch.flaky",
    source=seqio.FunctionDataSource(_rows, splits=["train"], num_input_examples={"train": 64}),
    preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos_after_trim],
    output_features=text_output_features(load_vocabulary(str(paths.SAMPLE_VOCAB))),
)
register_mixture(
    "test_launch.broken",
    [("demo.general_only", FixedWeight(1.0)), ("test_launch.flaky", FixedWeight(1.0))],
)
"""

EXPERIMENT = """
import flawn.sweeps.spec
Sweep.name = 'three'
Sweep.mixtures = ['demo.general_only', 'test_launch.broken', 'demo.general_plus_legal']
Sweep.baseline_mixture = 'demo.general_only'
Sweep.macros = {
    'TASK_FEATURE_LENGTHS': {'inputs': 144, 'targets': 16}, 'TRAIN_STEPS': 6, 'BATCH_SIZE': 4,
}
Sweep.bindings = [
    'TrainConfig.use_wandb = False',
    'TrainConfig.log_every = 3', 'TrainConfig.checkpoint_every = 3',
]
Sweep.eval_tasks = ['sample_governing_law']
Sweep.max_decode_length = 2
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("launch")
    mixtures = root / "mixtures"
    mixtures.mkdir()
    (mixtures / "test_launch.py").write_text(FLAKY_MIXTURES)
    marker = root / "BROKEN"
    marker.write_text("broken")
    saved = {k: os.environ.get(k) for k in ("FLAWN_MIXTURES_PATH", "FLAWN_TEST_BROKEN_MARKER")}
    os.environ["FLAWN_MIXTURES_PATH"] = str(mixtures)
    os.environ["FLAWN_TEST_BROKEN_MARKER"] = str(marker)
    load_named_mixtures(mixtures)
    experiment = root / "three.gin"
    experiment.write_text(EXPERIMENT)
    lines = []
    plan = plan_sweep(str(experiment), output_dir=root / "runs")
    first = launch(plan, parallel=2, echo=lines.append)  # two workers at once
    yield {
        "root": root,
        "plan": plan,
        "first": first,
        "lines": lines,
        "marker": marker,
        "experiment": experiment,
    }
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_a_failing_run_never_stops_the_others_and_a_relaunch_reruns_only_it(sweep):
    plan, first = sweep["plan"], sweep["first"]
    ids = [r.spec.run_id for r in plan.runs]
    assert [r.spec.axes["mixture"] for r in plan.runs][1] == "test_launch.broken"
    assert [first.results[i] for i in ids] == ["finished", "failed", "finished"]
    rows = {r["run id"]: r for r in status_rows(plan)}
    broken = rows[ids[1]]
    assert broken["status"] == "failed" and "broken on purpose" in broken["error"]
    assert rows[ids[0]]["evals"] == "1/1" and rows[ids[0]]["step"] == "6/6"
    log = RunDir(plan.sweep_dir / ids[1]).latest_log().read_text()
    assert "RuntimeError" in log and "broken on purpose" in log  # the traceback is kept
    manifest = json.loads((plan.sweep_dir / "manifest.json").read_text())
    assert manifest["runs"][ids[1]]["status"] == "failed"

    sweep["marker"].unlink()  # the disk is fixed
    second = launch(plan, echo=sweep["lines"].append)
    assert second.started == [ids[1]] and second.results == {ids[1]: "finished"}
    assert sorted(second.skipped) == sorted([ids[0], ids[2]])
    attempts = [RunDir(plan.sweep_dir / i).read_status()["attempts"] for i in ids]
    assert attempts == [1, 2, 1]


def test_a_moved_run_folder_evaluates_its_own_checkpoint(sweep, tmp_path):
    from flawn.evals.run import evaluate_checkpoint
    from flawn.runs import EvalSpec

    plan = sweep["plan"]
    original = plan.sweep_dir / plan.runs[0].spec.run_id
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(original, moved)
    shutil.rmtree(original / "stages")  # a copy must not read the original's checkpoints
    try:
        outcome, _ = evaluate_checkpoint(
            moved, EvalSpec(suite="sample", tasks=("sample_clause_type",), max_decode_length=2)
        )
        assert outcome.step == 6 and not outcome.reused
        assert str(outcome.directory).startswith(str(moved))
        rows = [
            json.loads(line)
            for line in (moved / "eval").glob("*/tasks.jsonl").__next__().read_text().splitlines()
        ]
        assert rows and rows[0]["run_id"] == plan.runs[0].spec.run_id
    finally:
        shutil.rmtree(original, ignore_errors=True)
        shutil.copytree(moved, original)


def test_changing_the_eval_mode_reevaluates_and_never_relabels(sweep):
    plan = plan_sweep(
        str(sweep["experiment"]),
        ["Sweep.eval_mode = 'rank_classification'"],
        output_dir=sweep["root"] / "runs",
    )
    before = {r.spec.run_id: run_state(plan.run_dir(r)) for r in plan.runs}
    assert set(before.values()) == {"finished"}
    assert {r["status"] for r in status_rows(plan)} == {"stale"}  # rank rows are missing
    outcome = launch(plan, echo=sweep["lines"].append)
    assert set(outcome.results.values()) == {"finished"}
    for run in plan.runs:
        run_dir = plan.run_dir(run)
        modes = {
            json.loads((run_dir.eval_dir(e) / "eval.json").read_text())["spec"]["mode"]
            for e in run_dir.eval_ids()
        }
        assert modes == {"generation", "rank_classification"}  # both kept, each labelled
        metrics = run_dir.final_stage().read_metrics()
        assert [m["step"] for m in metrics] == [3, 6]  # not trained again
    from flawn.analysis.compare import compare
    from flawn.analysis.loading import load_examples, load_task_scores

    runs = [plan.run_dir(r).path for r in plan.runs]
    comparisons = compare(
        load_task_scores(runs), load_examples(runs), "mixture", "demo.general_only", 50
    )
    assert {c.mode for c in comparisons} == {"generation", "rank_classification"}
    (rank,) = [c for c in comparisons if c.mode == "rank_classification"]
    assert list(dict.fromkeys(rank.scores["condition"])) == [
        "demo.general_only",
        "test_launch.broken",
        "demo.general_plus_legal",
    ]
    assert set(rank.deltas["condition"]) == {"test_launch.broken", "demo.general_plus_legal"}


def test_the_docs_commands_run_on_a_demo_shaped_sweep(sweep, tmp_path):
    """The tour, sweep, analysis, notebook and evaluation commands of the pages, as written.

    They run in a scratch folder whose ``experiments/demo.gin`` is this module's
    demo-shaped experiment (the demo's mixtures and baseline, fewer steps, plus a third
    mixture) and whose ``runs/demo`` is its sweep, so ``launch`` finds every run done.
    The notebook runs on the ``flawn`` kernel that ``make kernel`` installs into a
    scratch Jupyter folder, from a folder outside the checkout.
    """
    import nbformat
    from doc_commands import run_commands, scratch_project, section_commands
    from test_docs import LAUNCH, sections_run_by

    if any(row["status"] != "finished" for row in status_rows(sweep["plan"])):
        # Run alone, the fixture's broken run is still failed, and `flawn analyze` would stop
        # and name it (tests/test_analysis_coverage.py): mend it, as the first test does.
        sweep["marker"].unlink(missing_ok=True)
        launch(sweep["plan"], echo=sweep["lines"].append)

    project = scratch_project(tmp_path, link=("gin", "mixtures"))
    (project / "experiments").mkdir()
    (project / "experiments" / "demo.gin").write_text(sweep["experiment"].read_text())
    (project / "runs").mkdir()
    for name in ("demo", "three"):  # the pages' name, and the experiment's own
        (project / "runs" / name).symlink_to(sweep["plan"].sweep_dir)
    ids = [run.spec.run_id for run in sweep["plan"].runs]
    jupyter = tmp_path / "jupyter"
    out = run_commands(
        section_commands(sections_run_by(LAUNCH)),
        project,
        fill={"<run_id>": ids[-1]},
        env={
            "JUPYTER_DATA_DIR": str(jupyter / "data"),
            "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
            "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
            "JUPYTER_PATH": str(jupyter / "data"),
            "FLAWN_RESAMPLES": "200",
        },
    )
    status = next(v for k, v in out.items() if "sweep status" in k)
    assert all(run_id in status for run_id in ids) and "finished" in status
    for line, text in out.items():
        if line.startswith(".venv/bin/flawn analy") or "rebuild_demo_table" in line:
            assert "general" in text and "plus" in text, line  # LaTeX escapes _
    report = (project / "runs" / "demo" / "analysis" / "report.md").read_text()
    assert "sample · generation" in report and "mcnemar_exact" in report
    assert (jupyter / "data" / "kernels" / "flawn" / "kernel.json").is_file()
    executed = project / "runs" / "demo" / "analysis" / "compare_mixtures.ipynb"
    notebook = nbformat.read(executed, as_version=4)
    assert notebook.metadata.kernelspec.name == "flawn"
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    shown = json.dumps([o.get("data", {}) for o in outputs])
    assert "demo.general_plus_legal" in shown and "image/png" in shown
    evals = list((sweep["plan"].sweep_dir / ids[-1] / "eval").iterdir())
    assert any("rank_classification" in e.name for e in evals), evals
    # flawn propose: the next experiments, planned as written (the runs' drawn shares)
    proposed = next(v for k, v in out.items() if "--min-general" in k)
    assert "three: 3 mixture(s) observed" in proposed and "general share >= 0.3" in proposed
    planned = next(v for k, v in out.items() if "sweep plan experiments/demo_next_general" in k)
    assert "5 run(s)" in planned and "demo_next_general.p04/" in planned  # baseline + 4


def test_a_killed_sweep_resumes_where_it_stopped(tmp_path):
    experiment = tmp_path / "killed.gin"
    experiment.write_text("""
import flawn.sweeps.spec
Sweep.name = 'killed'
Sweep.mixtures = ['demo.general_only', 'demo.general_plus_legal']
Sweep.baseline_mixture = 'demo.general_only'
Sweep.macros = {
    'TASK_FEATURE_LENGTHS': {'inputs': 144, 'targets': 16}, 'TRAIN_STEPS': 120, 'BATCH_SIZE': 4,
}
Sweep.bindings = [
    'TrainConfig.use_wandb = False', 'TrainConfig.report_data = False',
    'TrainConfig.log_every = 10', 'TrainConfig.checkpoint_every = 20',
]
Sweep.eval_tasks = ['sample_governing_law']
Sweep.max_decode_length = 2
""")
    out = tmp_path / "runs"
    plan = plan_sweep(str(experiment), output_dir=out)
    first, second = (plan.run_dir(r) for r in plan.runs)
    with open(tmp_path / "launch.log", "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flawn.cli",
                "sweep",
                "launch",
                str(experiment),
                "--output-dir",
                str(out),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 600
        while time.time() < deadline:
            done = first.read_status().get("status") == "finished"
            if done and 40 in second.final_stage().checkpoint_steps():
                break
            assert process.poll() is None, (tmp_path / "launch.log").read_text()[-3000:]
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGKILL)  # the whole sweep, as a preempted VM
        process.wait()
    assert run_state(first) == "finished"
    # The worker got SIGKILL with its launcher; the kernel may take a moment to tear
    # down a process of many threads, during which its pid still answers.
    deadline = time.time() + 30
    while run_state(second) == "running" and time.time() < deadline:
        time.sleep(0.2)
    assert run_state(second) == "interrupted"
    stopped_at = second.final_stage().checkpoint_steps()[-1]
    assert stopped_at < 120

    lines = []
    outcome = launch(plan, echo=lines.append)
    assert outcome.started == [second.run_id] and outcome.results[second.run_id] == "finished"
    assert first.read_status()["attempts"] == 1 and second.read_status()["attempts"] == 2
    steps = [m["step"] for m in second.final_stage().read_metrics()]
    assert steps == list(range(10, 121, 10))  # no duplicate rows after the resume
    assert f"from step {stopped_at}" in second.log_path(2).read_text()
