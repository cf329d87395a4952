"""Writing a run's ``t5x/`` folder from its :class:`~flawn.t5x.plan.RunPlan`."""

from __future__ import annotations

import os

from flawn.mixtures.defined import definitions_json
from flawn.runs.run_dir import RunDir
from flawn.runs.spec import RunSpec
from flawn.t5x import gin_files, scripts
from flawn.t5x.layout import T5XLayout
from flawn.t5x.plan import RunPlan


def write_t5x_files(plan: RunPlan, spec: RunSpec, run_dir: RunDir) -> T5XLayout:
    """Writes gin files, ``plan.json``, the scripts; converts flawn starting checkpoints.

    Files are rewritten on every call (they are a function of the plan);
    converted checkpoints are written once. Each stage's flawn config also goes to
    ``<run>/stages/<stage>/config.gin``, as the local backend writes it.

    Returns:
        The layout written.
    """
    layout = T5XLayout(run_dir.t5x_dir)
    env = {name: os.environ[name] for name in scripts.FLAWN_ENV if os.environ.get(name)}
    layout.write(layout.MODEL_GIN, gin_files.model_gin(plan))
    layout.write(layout.RUN_GIN, gin_files.run_gin(plan))
    for stage_spec in spec.stages:
        # The stage's resolved flawn config, as the local backend keeps it: run cards,
        # W&B logging and `flawn eval` read a run's settings from there whatever trained it.
        run_dir.stage(stage_spec.name).write_config(stage_spec.gin)
    for stage in plan.stages:
        layout.write(layout.stage_gin(stage.name), gin_files.stage_gin(plan, stage))
        if stage.init_kind == "flawn":
            _convert_init(layout, stage)
    for e in plan.evals:
        if e.runs_on_t5x:
            layout.write(layout.infer_gin(e.key), gin_files.infer_gin(plan, e))
    layout.write_plan(plan.to_json())
    if plan.mixture_definitions:
        # Registered by `import flawn.tasks` in T5X's processes (launch.sh names the file).
        source = f"run {plan.run_id} ({plan.run_name}): Sweep.mixture_weights of {spec.sweep}"
        layout.write(layout.MIXTURES, definitions_json(plan.mixture_definitions, source))
    layout.write(layout.LAUNCH, scripts.launch_sh(plan, env), executable=True)
    layout.write(layout.POD, scripts.pod_sh(plan, env), executable=True)
    return layout


def _convert_init(layout: T5XLayout, stage) -> None:
    """Writes the flawn checkpoint a stage starts from in T5X's layout (once)."""
    from flawn.t5x.checkpoints import flawn_to_t5x, read_flawn_params

    target = layout.root / stage.init_path
    if (target / "checkpoint").exists():
        return
    params, step = read_flawn_params(stage.init_source, stage.start_step)
    flawn_to_t5x(params, target.parent, step)
