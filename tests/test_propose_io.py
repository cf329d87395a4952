"""Mixtures defined in experiment files; a finished sweep's observations; the next experiment."""

import json
import os
import subprocess
import sys

import numpy as np
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
def test_a_defined_mixture_trains_evaluates_and_its_sweep_proposes_the_next(tmp_path):
    from flawn.propose.observations import load_observations
    from flawn.sweeps.launcher import launch

    weights = {"t_def.launched": {"demo.legal": 0.4, "demo.general_only": 0.6}}
    path = write(tmp_path, experiment("launched", weights, ["demo.general_only", *weights]))
    plan = plan_sweep(path, output_dir=tmp_path / "runs")
    outcome = launch(plan, echo=lambda _: None)
    assert outcome.failed == [], outcome.results
    run = next(r for r in plan.runs if r.spec.axes["mixture"] == "t_def.launched")
    run_dir = plan.run_dir(run)
    # a fresh process (flawn eval run, flawn infer) loads the model: the spec registers it
    check = (
        "import sys, flawn.tasks; from flawn.runs import RunDir; "
        "from flawn.train.backend import LocalBackend; "
        "print(LocalBackend().predictor(RunDir(sys.argv[1])).step)"
    )
    out = subprocess.run(
        [sys.executable, "-c", check, str(run_dir.path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "2"
    # the finished sweep's observations: realised shares from the runs' data plans
    obs = load_observations([plan.sweep_dir], "sample.overall", by="group", n_resamples=20)
    assert obs.mixtures == ["demo.general_only", "t_def.launched"]
    # the shares drawn while training (data_counts.json), planned at 40% legal (plan.json)
    from flawn.propose.observations import group_of, realised_shares

    planned = json.loads(run_dir.final_stage().plan_path.read_text())["rows"]
    legal = sum(r["share"] for r in planned if group_of(r["source"]) == "legal")
    assert legal == pytest.approx(0.4)
    drawn = realised_shares(run_dir.path)
    drawn_legal = sum(v for k, v in drawn.items() if group_of(k) == "legal")
    np.testing.assert_allclose(obs.shares, [[0, 1], [drawn_legal, 1 - drawn_legal]], atol=1e-9)
    assert np.isfinite(obs.scores).all() and obs.experiment == path
    # and `flawn propose` writes the next experiment from them, which plans as it is
    from flawn.cli import main

    out_file = tmp_path / "experiments" / "next.gin"
    command = ["propose", str(plan.sweep_dir), "--objective", "sample.overall", "--k", "3"]
    command += ["--out", str(out_file), "--min-general", "0.3", "--resamples", "50"]
    assert main(command) == 0
    sweep = load_sweep(str(out_file))
    proposed = [m for m in sweep.mixtures if m != "demo.general_only"]
    assert proposed == ["next.p01", "next.p02", "next.p03"]  # named after the file
    planned = [r for r in plan_sweep(str(out_file)).runs if r.spec.axes["mixture"] in proposed]
    assert len(planned) == 3
    for run in planned:
        weights = run.spec.mixture_definitions[run.spec.axes["mixture"]]
        assert sum(weights.values()) == pytest.approx(1.0, abs=1e-5)
        assert weights.get("sample_flan.general", 0.0) >= 0.3 - 1e-6  # --min-general
    text = out_file.read_text()
    assert "Objective: sample.overall" in text and "general share >= 0.3" in text
    assert main(command) == 2  # an existing file is kept without --force


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


# -- observations of a finished sweep ------------------------------------------------------

#: The sources each simulated mixture draws from, as its plan.json would list them.
PLANS = {
    "base": {"sample_flan.general": 1.0},
    "m1": {"sample_flan.general": 0.7, "sample_lawinstruct.a": 0.2, "sample_lawinstruct.b": 0.1},
    "m2": {"sample_flan.general": 0.4, "sample_lawinstruct.a": 0.3, "sample_lawinstruct.b": 0.3},
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A simulated evaluated sweep (two seeds) whose runs carry their data plans."""
    from flawn.analysis import synthetic

    root = tmp_path_factory.mktemp("finished") / "sim"
    tasks = synthetic.legalbench_tasks(scale=0.05)
    effects = {"base": 0.0, "m1": 0.03, "m2": 0.12}
    folders = synthetic.write_sweep(root, tasks, effects, seeds=(0, 1), seed_sd=0.01)
    for folder in folders:
        mixture = json.loads((folder / "spec.json").read_text())["axes"]["mixture"]
        rows = [{"source": s, "share": v, "rate": "x"} for s, v in PLANS[mixture].items()]
        (folder / "stages" / "finetune").mkdir(parents=True)
        (folder / "stages" / "finetune" / "plan.json").write_text(json.dumps({"rows": rows}))
    return root


def test_observations_give_realised_shares_and_scores_per_mixture(finished):
    from flawn.analysis.compare import compare
    from flawn.analysis.loading import load_examples, load_task_scores
    from flawn.propose.observations import load_observations

    obs = load_observations([finished], "legalbench.overall", n_resamples=100)
    assert obs.mixtures == ["base", "m1", "m2"] and obs.baseline == "base"
    assert obs.components == ["sample_flan.general", "sample_lawinstruct.a", "sample_lawinstruct.b"]
    np.testing.assert_allclose(obs.shares, [[1, 0, 0], [0.7, 0.2, 0.1], [0.4, 0.3, 0.3]])
    assert obs.n_seeds.tolist() == [2, 2, 2] and all(len(v) == 2 for v in obs.run_ids.values())
    # the scores and intervals are the analysis package's
    (c,) = compare(load_task_scores([finished]), load_examples([finished]), "mixture", "base", 100)
    overall = c.scores[c.scores["level"] == "overall"].set_index("condition")
    assert obs.scores.tolist() == pytest.approx(overall.loc[obs.mixtures, "score"].tolist())
    width = (overall.loc["m2", "hi"] - overall.loc["m2", "lo"]) / 2
    assert obs.se[2] == pytest.approx(width / 1.959964, rel=1e-4) and obs.se[2] > 0
    assert obs.scores[2] > obs.scores[0]
    category = load_observations([finished], "legalbench.interpretation", n_resamples=50)
    assert category.scores.tolist() != pytest.approx(obs.scores.tolist())


def test_observations_by_group_keep_within_group_proportions(finished):
    from flawn.propose.observations import load_observations

    obs = load_observations([finished], "legalbench.overall", by="group", n_resamples=50)
    assert obs.components == ["legal", "general"]
    np.testing.assert_allclose(obs.shares, [[0, 1], [0.3, 0.7], [0.6, 0.4]])
    # legal proportions: 2/3 and 1/3 in m1, 1/2 and 1/2 in m2, so their means
    assert obs.within["legal"] == pytest.approx(
        {"sample_lawinstruct.a": 7 / 12, "sample_lawinstruct.b": 5 / 12}
    )
    weights = obs.source_weights([0.5, 0.5])
    assert weights == pytest.approx(
        {"sample_lawinstruct.a": 7 / 24, "sample_lawinstruct.b": 5 / 24, "sample_flan.general": 0.5}
    )


def test_an_unknown_objective_lists_the_available_ones(finished):
    from flawn.propose.observations import load_observations

    with pytest.raises(ValueError, match=r"unknown objective 'sample.overall'") as err:
        load_observations([finished], "sample.overall", n_resamples=10)
    assert "legalbench.overall" in str(err.value)
    assert "legalbench.interpretation" in str(err.value)


# -- the next experiment --------------------------------------------------------------------


def _observations(experiment_file, components, by="source", within=None):
    from flawn.propose.observations import Observations

    n = 2
    return Observations(
        sweep="src", sweep_dir=None, experiment=experiment_file, objective="sample.overall",
        mode="generation", by=by, components=list(components),
        mixtures=["demo.general_only", "t_src.m"], shares=np.eye(n, len(components)),
        scores=np.array([40.0, 45.0]), se=np.array([1.0, 1.5]), lo=np.array([38.0, 42.0]),
        hi=np.array([42.0, 48.0]), n_seeds=np.array([1, 1]), baseline="demo.general_only",
        within=within or {}, run_ids={"demo.general_only": ["a"], "t_src.m": ["b"]}, group={},
        level=0.95,
    )  # fmt: skip


def _planned_shares(path):
    """Each proposed mixture's shares per source, as the data plan of its runs gives them."""
    from flawn.sweeps.planning import data_plans

    plan = plan_sweep(path)
    out = {}
    for (mixture, *_), data_plan in data_plans(plan).items():
        out[mixture] = {r.source: r.share for r in data_plan.rows}
    return plan, out


def test_the_next_experiment_keeps_the_settings_and_plans_the_proposed_shares(tmp_path):
    from flawn.propose.writer import proposals_from_shares, write_next_experiment
    from flawn.tasks.registry import sample_lawinstruct_tasks

    source = write(
        tmp_path,
        experiment(
            "src",
            {"t_src.m": {"demo.legal": 1.0, "demo.general_only": 1.0}},
            bindings=["OptimizerConfig.learning_rate = 2e-3"],
            extra="Sweep.seeds = [0, 1]\nSweep.regimes = ['finetune']\n",
        ),
        "src.gin",
    )
    legal = sample_lawinstruct_tasks()[:2]
    components = ["sample_flan.general", *legal]
    obs = _observations(source, components)
    shares = np.array([[0.5, 0.3, 0.2], [0.1, 0.0, 0.9]])
    proposals = proposals_from_shares(obs, shares, [46.0, 47.5], [43.0, 41.0], [49.0, 54.0])
    out = tmp_path / "experiments" / "next.gin"
    write_next_experiment(out, obs, proposals, model="made-up shares")
    text = out.read_text()
    assert "Objective: sample.overall" in text and "Model: made-up shares." in text
    assert "src_next.p02: 47.5 [41, 54]" in text
    sweep, before = load_sweep(str(out)), load_sweep(source)
    assert sweep.name == "src_next" and sweep.baseline_value == "demo.general_only"
    assert sweep.mixtures == ["demo.general_only", "src_next.p01", "src_next.p02"]
    for field in ("sizes", "regimes", "seeds", "macros", "bindings", "backend"):
        assert getattr(sweep, field) == getattr(before, field), field
    assert sweep.eval_specs() == before.eval_specs()
    plan, planned = _planned_shares(str(out))
    assert len(plan.runs) == 6  # 3 mixtures x 2 seeds
    for mixture, row in zip(["src_next.p01", "src_next.p02"], shares, strict=True):
        expected = {c: s for c, s in zip(components, row, strict=True) if s > 0}
        assert planned[mixture] == pytest.approx(expected, abs=1e-5)
    # an existing file is kept unless asked
    with pytest.raises(FileExistsError, match="force"):
        write_next_experiment(out, obs, proposals, model="made-up shares")
    write_next_experiment(out, obs, proposals[:1], model="again", force=True)
    assert "Model: again." in out.read_text()


def test_a_group_proposal_is_expanded_with_the_within_group_proportions(tmp_path):
    from flawn.propose.writer import proposals_from_shares, write_next_experiment
    from flawn.tasks.registry import sample_lawinstruct_tasks

    source = write(tmp_path, experiment("grp", {}, ["demo.general_only"]), "grp.gin")
    a, b = sample_lawinstruct_tasks()[:2]
    within = {"legal": {a: 0.75, b: 0.25}, "general": {"sample_flan.general": 1.0}}
    obs = _observations(source, ["legal", "general"], by="group", within=within)
    proposals = proposals_from_shares(obs, [[0.4, 0.6]], [1.0], [0.0], [2.0])
    out = write_next_experiment(tmp_path / "grp_next.gin", obs, proposals, model="m")
    _, planned = _planned_shares(str(out))
    assert planned["grp_next.p01"] == pytest.approx(
        {a: 0.3, b: 0.1, "sample_flan.general": 0.6}, abs=1e-5
    )


@pytest.mark.slow
def test_flawn_train_run_dir_registers_the_spec_mixtures_in_its_own_process(tmp_path):
    from flawn.sweeps.launcher import prepare

    weights = {"t_def.standalone": {"demo.legal": 0.5, "sample_flan.general": 0.5}}
    path = write(tmp_path, experiment("alone", weights, ["demo.general_only", *weights]))
    plan = plan_sweep(path, output_dir=tmp_path / "runs", only=["t_def.standalone"])
    prepare(plan)  # spec.json only, as pod.sh copies it to each worker (TRAINER=flawn)
    run_dir = plan.run_dir(plan.runs[0])
    env = {k: v for k, v in os.environ.items() if k != "FLAWN_MIXTURE_DEFINITIONS"}
    out = subprocess.run(
        [sys.executable, "-m", "flawn.cli", "train", "--run-dir", str(run_dir.path)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert run_dir.final_stage().checkpoint_steps() == [2]
