"""Mixtures defined in experiment files; a finished sweep's observations; the next experiment."""

import json
import os
import subprocess
import sys

import pytest
import seqio

import flawn.tasks  # noqa: F401  (registers the demo mixtures the definitions are made of)
from flawn.errors import ConfigError
from flawn.mixtures.registry import forget_mixture_spec, get_mixture_spec
from flawn.runs import RunDir, RunSpec
from flawn.sweeps.planning import plan_sweep
from flawn.sweeps.spec import load_sweep

LENGTHS = {"inputs": 144, "targets": 16}


def experiment(name, weights, mixtures=None, bindings=(), extra=""):
    """An experiment file's text: the demo baseline plus mixtures defined by ``weights``."""
    mixtures = mixtures or ["demo.general_only", *weights]
    binds = ["TrainConfig.use_wandb = False", *bindings]
    return f"""
import flawn.sweeps.spec
Sweep.name = {name!r}
Sweep.mixture_weights = {weights!r}
Sweep.mixtures = {mixtures!r}
Sweep.baseline_mixture = 'demo.general_only'
Sweep.macros = {{'TASK_FEATURE_LENGTHS': {LENGTHS!r}, 'TRAIN_STEPS': 2, 'BATCH_SIZE': 2}}
Sweep.bindings = {binds!r}
Sweep.eval_tasks = ['sample_governing_law']
Sweep.max_decode_length = 2
{extra}"""


def write(tmp_path, text, name="exp.gin"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def forget(*names):
    """Removes mixtures from both registries (tests reuse names on purpose)."""
    for name in names:
        forget_mixture_spec(name)
        seqio.MixtureRegistry.remove(name)


def test_defined_mixtures_register_and_the_run_id_follows_the_weights(tmp_path):
    first = write(tmp_path, experiment("d", {"t_def.a": {"demo.legal": 1, "demo.general_only": 3}}))
    plan = plan_sweep(first, output_dir=tmp_path / "runs")
    assert get_mixture_spec("t_def.a").defined_at == first
    spec = next(r.spec for r in plan.runs if r.spec.axes["mixture"] == "t_def.a")
    assert spec.mixture_definitions == {"t_def.a": {"demo.legal": 1.0, "demo.general_only": 3.0}}
    baseline = next(r.spec for r in plan.runs if r.spec.axes["mixture"] == "demo.general_only")
    assert baseline.mixture_definitions is None
    # the recorded definitions survive spec.json
    stored = RunSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert (stored.run_id, stored.mixture_definitions) == (spec.run_id, spec.mixture_definitions)
    # loading the same definition again is a no-op
    again = plan_sweep(first, output_dir=tmp_path / "runs")
    assert spec.run_id in {r.spec.run_id for r in again.runs}
    # the same weights scaled are the same run; other weights another run
    forget("t_def.a")
    scaled = write(
        tmp_path, experiment("d", {"t_def.a": {"demo.legal": 0.25, "demo.general_only": 0.75}})
    )
    assert spec.run_id in {r.spec.run_id for r in plan_sweep(scaled).runs}
    forget("t_def.a")
    other = write(
        tmp_path, experiment("d", {"t_def.a": {"demo.legal": 1, "demo.general_only": 1}}), "o.gin"
    )
    ids = {r.spec.run_id for r in plan_sweep(other).runs}
    assert spec.run_id not in ids and baseline.run_id in ids
    # now a different definition under the taken name: an error naming both places
    with pytest.raises(ConfigError, match=r"already registered differently at .*o\.gin") as err:
        load_sweep(first)
    assert first in str(err.value)


def test_definitions_may_use_each_other_and_mixtures_of_python_files(tmp_path):
    weights = {
        "t_def.outer": {"t_def.inner": 1.0, "demo.general_plus_legal": 1.0},
        "t_def.inner": {"demo.legal": 2.0, "sample_flan.general": 1.0},
    }
    path = write(tmp_path, experiment("nested", weights, ["demo.general_only", "t_def.outer"]))
    plan = plan_sweep(path)
    spec = next(r.spec for r in plan.runs if r.spec.axes["mixture"] == "t_def.outer")
    assert list(spec.mixture_definitions) == ["t_def.outer", "t_def.inner"]  # what it needs
    rates = spec.data["t_def.outer"]["rates"]
    assert sum(v for k, v in rates.items() if k == "sample_flan.general") > 0


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"t_def.bad": {"demo.legall": 1.0}}, r"unknown task or mixture 'demo.legall'.*demo.legal"),
        ({"t_def.bad": {"demo.legal": -1.0}}, r"finite number >= 0"),
        ({"t_def.bad": {"demo.legal": 0.0}}, r"sum to 0"),
        ({"t_def.bad": {}}, r"at least one task or mixture"),
        ({"demo.legal": {"demo.general_only": 1.0}}, r"registered differently at mixtures/demo"),
        ({"t_def.x": {"t_def.y": 1.0}, "t_def.y": {"t_def.x": 1.0}}, r"cycle"),
    ],
)
def test_bad_definitions_say_what_is_wrong_and_where(tmp_path, weights, message):
    path = write(tmp_path, experiment("bad", weights, ["demo.general_only"]))
    with pytest.raises(ConfigError, match=message) as err:
        load_sweep(path)
    assert path in str(err.value)


@pytest.mark.slow
def test_a_defined_mixture_trains_and_evaluates_in_a_sweep_worker(tmp_path):
    from flawn.sweeps.launcher import launch

    weights = {"t_def.launched": {"demo.legal": 0.4, "demo.general_only": 0.6}}
    path = write(tmp_path, experiment("launched", weights, ["demo.general_only", *weights]))
    plan = plan_sweep(path, output_dir=tmp_path / "runs", only=["t_def.launched"])
    outcome = launch(plan, echo=lambda _: None)
    assert outcome.failed == [], outcome.results
    run_dir = plan.run_dir(plan.runs[0])
    rows = json.loads(run_dir.final_stage().plan_path.read_text())["rows"]
    legal = sum(r["share"] for r in rows if r["source"].startswith("sample_lawinstruct."))
    assert legal == pytest.approx(0.4, abs=1e-6)


@pytest.mark.slow
def test_t5x_run_files_register_defined_mixtures_in_a_fresh_process(tmp_path):
    from flawn.sweeps.launcher import write_run_files

    weights = {"t_def.pod": {"demo.legal": 0.3, "sample_flan.general": 0.7}}
    path = write(tmp_path, experiment("pod", weights, ["demo.general_only", *weights]))
    plan = plan_sweep(path, output_dir=tmp_path / "runs", backend="t5x", strict=False)
    run = next(r for r in plan.runs if r.spec.axes["mixture"] == "t_def.pod")
    write_run_files(plan, echo=lambda _: None)
    t5x = RunDir(plan.run_dir(run).path).t5x_dir
    assert "import flawn.tasks" in (t5x / "run.gin").read_text()
    launch_sh = (t5x / "launch.sh").read_text()
    assert "mixtures.json" in (t5x / "pod.sh").read_text()  # copied to every worker
    export = next(line for line in launch_sh.splitlines() if "FLAWN_MIXTURE_DEFINITIONS=" in line)
    # what launch.sh exports, then what T5X's gin imports, in a fresh interpreter
    check = (
        "import json, seqio, flawn.tasks; m = seqio.get_mixture_or_task('t_def.pod'); "
        "print(json.dumps({t.name: m.get_rate(t) for t in m.tasks}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "FLAWN_MIXTURE_DEFINITIONS"}
    out = subprocess.run(
        ["bash", "-c", f'T5X_HERE={t5x}; {export}\n"{sys.executable}" -c "{check}"'],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    rates = json.loads(out.splitlines()[-1])
    assert rates["sample_flan.general"] / sum(rates.values()) == pytest.approx(0.7)
