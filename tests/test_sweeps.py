import json

import pytest
import seqio

import flawn.tasks  # noqa: F401  (registers the demo tasks and mixtures)
from flawn.errors import ConfigError
from flawn.mixtures import FixedWeight, register_mixture
from flawn.mixtures.registry import _SPECS
from flawn.runs.fingerprint import file_digest
from flawn.sweeps.planning import plan_sweep
from flawn.sweeps.spec import Sweep, SweepPoint, expand, resolve_run

MACROS = {
    "TASK_FEATURE_LENGTHS": {"inputs": 144, "targets": 16},
    "TRAIN_STEPS": 10,
    "BATCH_SIZE": 4,
}


def _sweep(**overrides):
    values = dict(
        name="t",
        mixtures=["demo.general_only", "demo.general_plus_legal"],
        baseline_mixture="demo.general_only",
        macros=MACROS,
    )
    values.update(overrides)
    return Sweep(**values)


def _point(mixture="demo.general_only", size="tiny", regime="finetune", seed=0, **bindings):
    axes = {"mixture": mixture, "size": size, "regime": regime, "seed": seed, **bindings}
    return SweepPoint(axes, bindings)


def test_expansion_crosses_axes_zips_groups_and_expands_named_values():
    sweep = _sweep(
        seeds=[0, 1],
        axes={
            "OptimizerConfig.learning_rate": [1e-3, 3e-3],
            "init": {
                "a": {"format_lawinstruct.bank_size": 1},
                "b": {"format_lawinstruct.bank_size": 5},
            },
        },
        zip_axes=[{"TRAIN_STEPS": [10, 20, 30], "BATCH_SIZE": [4, 8, 16]}],
    )
    points = expand(sweep)
    assert len(points) == 2 * 2 * 2 * 3 * 2  # mixtures x lr x init x zipped x seeds
    zipped = {(p.axes["TRAIN_STEPS"], p.axes["BATCH_SIZE"]) for p in points}
    assert zipped == {(10, 4), (20, 8), (30, 16)}  # zipped, not crossed
    named = {(p.axes["init"], p.bindings["format_lawinstruct.bank_size"]) for p in points}
    assert named == {("a", 1), ("b", 5)}  # a named value sets its bindings
    assert all(p.axes["mixture"] == "demo.general_only" for p in points[: len(points) // 2])
    assert points[0].name.startswith("demo.general_only/tiny/finetune/seed0/")


def test_sweep_validates_itself():
    with pytest.raises(ValueError, match="baseline value"):
        _sweep(baseline_mixture="other")
    with pytest.raises(ValueError, match="must not set"):
        _sweep(macros={**MACROS, "SEED": 3})
    with pytest.raises(ValueError, match="TASK_FEATURE_LENGTHS"):
        _sweep(macros={"TRAIN_STEPS": 1})
    with pytest.raises(ValueError, match="different lengths"):
        _sweep(zip_axes=[{"TRAIN_STEPS": [1, 2], "BATCH_SIZE": [4]}])
    with pytest.raises(ValueError, match="neither a macro"):
        _sweep(axes={"learning rate": [1, 2]})
    with pytest.raises(ValueError, match="does not vary"):
        _sweep(baseline_mixture=None, baseline={"INIT": "scratch"})
    with pytest.raises(ValueError, match="mode"):
        _sweep(eval_mode="rank")


def test_run_id_ignores_binding_order_and_tracks_what_is_trained():
    a = resolve_run(
        _sweep(bindings=["TrainConfig.log_every = 5", "TrainConfig.pack = True"]), _point()
    )
    b = resolve_run(
        _sweep(bindings=["TrainConfig.pack = True", "TrainConfig.log_every = 5"]), _point()
    )
    reordered = dict(reversed(list(MACROS.items())))
    c = resolve_run(
        _sweep(macros=reordered, bindings=["TrainConfig.log_every = 5", "TrainConfig.pack = True"]),
        _point(),
    )
    assert a.run_id == b.run_id == c.run_id and len(a.run_id) == 12
    other_seed = resolve_run(_sweep(), _point(seed=1))
    other_mixture = resolve_run(_sweep(), _point("demo.general_plus_legal"))
    other_lr = resolve_run(_sweep(bindings=["OptimizerConfig.learning_rate = 1e-4"]), _point())
    assert (
        len(
            {
                resolve_run(_sweep(), _point()).run_id,
                other_seed.run_id,
                other_mixture.run_id,
                other_lr.run_id,
            }
        )
        == 4
    )
    (stage,) = a.stages
    assert "MODEL_DIR = %gin.REQUIRED" in stage.gin  # nothing about where runs go
    assert "MODEL_SIZE = 'tiny'" in stage.gin and stage.init == "scratch"
    assert a.model["emb_dim"] == 128


def test_run_id_is_the_same_on_either_backend_and_older_ids_still_load():
    from flawn.runs import RunSpec

    local = resolve_run(_sweep(), _point(), backend="local")
    t5x = resolve_run(_sweep(), _point(), backend="t5x")
    assert local.run_id == t5x.run_id and local.backend != t5x.backend
    assert local.legacy_run_id() != t5x.legacy_run_id()  # ids once differed by backend
    # A spec.json written when the id included the backend is read back, not refused.
    old = {**t5x.to_json(), "run_id": t5x.legacy_run_id()}
    assert RunSpec.from_json(old).run_id == t5x.run_id
    with pytest.raises(ValueError, match="edited"):
        RunSpec.from_json({**old, "run_id": "0123456789ab"})


def test_run_id_changes_when_a_mixtures_rates_change():
    def register(weight):
        for name in ("test_rates.mix",):
            if name in seqio.MixtureRegistry.names():
                seqio.MixtureRegistry.remove(name)
            _SPECS.pop(name, None)
        register_mixture(
            "test_rates.mix",
            [("demo.general_only", FixedWeight(1.0)), ("demo.legal", FixedWeight(weight))],
        )

    sweep = _sweep(mixtures=["test_rates.mix"], baseline_mixture="test_rates.mix")
    register(1.0)
    first = resolve_run(sweep, _point("test_rates.mix"))
    again = resolve_run(sweep, _point("test_rates.mix"))
    register(2.0)
    changed = resolve_run(sweep, _point("test_rates.mix"))
    assert first.run_id == again.run_id != changed.run_id
    rates = changed.data["test_rates.mix"]["rates"]
    assert rates["sample_flan.general"] * 2 == pytest.approx(
        sum(v for k, v in rates.items() if k.startswith("sample_lawinstruct."))
    )


def test_run_id_changes_when_a_data_file_changes(tmp_path):
    from flawn import paths
    from flawn.tasks.registry import register_flan_tasks
    from flawn.vocab import load_vocabulary

    path = tmp_path / "general.jsonl"
    rows = [
        {"inputs": f"Question {i}?", "targets": "Yes", "task_source": "t0", "task_name": "q"}
        for i in range(20)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    vocab = load_vocabulary(str(paths.SAMPLE_VOCAB))
    (task,) = register_flan_tasks("test_files", [str(path)], vocab)["t0"]
    sweep = _sweep(mixtures=[task], baseline_mixture=task)
    before = resolve_run(sweep, _point(task))
    digest = file_digest(path)
    rows[3]["targets"] = "No"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert file_digest(path) != digest
    after = resolve_run(sweep, _point(task))
    assert before.run_id != after.run_id


def test_two_stage_regimes_chain_their_stages():
    sweep = _sweep(
        regimes=["two_stage"],
        macros={**MACROS, "STAGE2_MIXTURE": "demo.legal", "STAGE2_STEPS": 5},
    )
    spec = resolve_run(sweep, _point(regime="two_stage"))
    first, second = spec.stages
    assert (first.name, first.mixture, first.steps, first.init) == (
        "stage1",
        "demo.general_only",
        10,
        "scratch",
    )
    assert (second.name, second.mixture, second.steps, second.init) == (
        "stage2",
        "demo.legal",
        5,
        "previous",
    )
    assert "OptimizerConfig.learning_rate = 0.001" in second.gin
    assert set(spec.data) == {"demo.general_only", "demo.legal"}


def test_unknown_names_are_reported_for_every_run_before_anything_runs(tmp_path):
    experiment = tmp_path / "typos.gin"
    experiment.write_text("""
import flawn.sweeps.spec
Sweep.name = 'typos'
Sweep.mixtures = ['demo.general_only', 'demo.general_plus_legl']
Sweep.baseline_mixture = 'demo.general_only'
Sweep.sizes = ['tiny', 'tinny']
Sweep.macros = {'TASK_FEATURE_LENGTHS': {'inputs': 144, 'targets': 16}, 'TRAIN_STEPS': 4,
                'BATCH_SIZE': 4}
Sweep.eval_suite = 'no_such_suite'
""")
    with pytest.raises(ConfigError) as caught:
        plan_sweep(str(experiment), output_dir=tmp_path / "runs")
    message = str(caught.value)
    assert "nothing was run" in message
    assert "'demo.general_plus_legal'" in message  # the nearest mixture name
    assert "did you mean 'tiny'" in message
    assert "no_such_suite" in message
    assert not (tmp_path / "runs").exists()


def test_plan_lists_runs_costs_and_data_plans(tmp_path):
    from flawn.sweeps.planning import format_plan, plan_as_json

    plan = plan_sweep("experiments/demo.gin", output_dir=tmp_path)
    assert [r.spec.axes["mixture"] for r in plan.runs] == [
        "demo.general_only",
        "demo.general_plus_legal",
    ]
    data = json.loads(plan_as_json(plan, "tpu_v4", 0.4))
    run = data["runs"][0]
    assert run["flops"] == pytest.approx(run["stages"][0]["flops"]) and run["flops"] > 0
    assert run["stages"][0]["six_nd"] > run["flops"]  # 6ND overstates an encoder-decoder
    assert run["stages"][0]["data_plan"]["rows"][0]["source"] == "sample_flan.general"
    assert data["total"]["hours"] == pytest.approx(data["total"]["flops"] / (275e12 * 0.4) / 3600)
    text = format_plan(plan, "tpu_v4", 0.4)
    assert "Plan for demo.general_plus_legal" in text and "TPU v4" in text


def test_status_names_the_current_id_of_a_run_whose_id_included_the_backend(tmp_path):
    from flawn.runs.manifest import Manifest
    from flawn.sweeps.launcher import orphan_rows

    plan = plan_sweep("experiments/demo.gin", output_dir=tmp_path, strict=False)
    run = plan.runs[0]
    legacy = run.spec.legacy_run_id("t5x")
    Manifest(plan.sweep_dir).update(**{legacy: {"name": run.spec.name, "status": "finished"}})
    (row,) = orphan_rows(plan)
    assert row["run id"] == legacy and row["note"].startswith(f"now {run.spec.run_id}")


def test_the_launch_hint_names_the_sweep_as_launched_whatever_the_backend():
    import argparse
    import shlex

    from flawn.cli.sweep import _same_sweep

    args = argparse.Namespace(experiment="experiments/demo.gin", output_dir="/tmp/r", backend="t5x")
    hint = _same_sweep("status", args, ["Sweep.seeds = [0, 1]"])
    assert shlex.split(hint) == [
        "flawn",
        "sweep",
        "status",
        "experiments/demo.gin",
        "--output-dir",
        "/tmp/r",
        "--gin_bindings=Sweep.seeds = [0, 1]",
    ]
    default = argparse.Namespace(experiment="experiments/demo.gin", output_dir="runs")
    assert _same_sweep("status", default, []) == "flawn sweep status experiments/demo.gin"
