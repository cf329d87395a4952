"""Planning a sweep: every run resolved and checked before anything trains.

:func:`plan_sweep` expands an experiment, resolves every point to a
:class:`~flawn.runs.RunSpec` (which checks sizes, regimes, run files and
mixture names, suggesting the nearest ones), asks the backend whether it can
run each spec, checks the evaluation suites, and estimates what each run
costs. Every problem of every run is reported at once.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from etils import epath

from flawn.errors import ConfigError, FlawnError
from flawn.runs.backend import check_backend_name, get_backend
from flawn.runs.spec import EvalSpec, RunSpec
from flawn.sweeps import cost as costs
from flawn.sweeps.spec import Sweep, expand, load_sweep, resolve_run


@dataclasses.dataclass(frozen=True)
class StageSettings:
    """What a stage's config says about its shape of work.

    Attributes:
        lengths: ``{"inputs": n, "targets": m}``.
        batch_size: Rows per step.
        vocab_size: Rows of the output layer (for FLOPs).
        pack: Whether rows are packed.
    """

    lengths: Mapping[str, int]
    batch_size: int
    vocab_size: int
    pack: bool


@dataclasses.dataclass
class PlannedRun:
    """One resolved run with its per-stage settings and costs.

    Attributes:
        spec: The run.
        settings: Per stage, in order.
        costs: Per stage, in order.
    """

    spec: RunSpec
    settings: list[StageSettings]
    costs: list[costs.StageCost]

    @property
    def flops(self) -> float:
        """Training FLOPs of all stages."""
        return sum(c.flops for c in self.costs)

    @property
    def tokens(self) -> float:
        """Positions processed by all stages."""
        return sum(c.tokens for c in self.costs)

    @property
    def input_length(self) -> int:
        """The final stage's encoder length (prompts are fitted to it)."""
        return int(self.settings[-1].lengths["inputs"])


@dataclasses.dataclass
class SweepPlan:
    """A sweep, resolved.

    Attributes:
        sweep: The experiment's sweep.
        experiment: The experiment file.
        sweep_dir: ``<output>/<sweep name>``.
        backend: The backend every run uses.
        runs: The runs, baseline first.
        evals: The evaluations each run gets.
        warnings: What would stop a launch on this host but not the plan
            (e.g. an evaluation suite whose test rows are elsewhere).
    """

    sweep: Sweep
    experiment: str
    sweep_dir: epath.Path
    backend: str
    runs: list[PlannedRun]
    evals: list[EvalSpec]
    warnings: list[str] = dataclasses.field(default_factory=list)

    def run_dir(self, run: PlannedRun):
        """The folder of a run."""
        from flawn.runs.run_dir import RunDir

        return RunDir(self.sweep_dir / run.spec.run_id)

    def totals(self) -> dict[str, float]:
        """FLOPs and tokens over all runs."""
        return {
            "flops": sum(r.flops for r in self.runs),
            "tokens": sum(r.tokens for r in self.runs),
        }


def _stage_settings(stage_gin: str, mixture: str) -> StageSettings:
    import seqio

    from flawn import gin_utils
    from flawn.train.config import TrainConfig

    gin_utils.parse([], ["MODEL_DIR = '/dev/null'"], text=stage_gin)
    try:
        config = TrainConfig()
    except ValueError as err:
        raise gin_utils.explain_required(err) or ConfigError(str(err)) from err
    vocab = config.model.vocab_size
    if not vocab:
        # The config's mixture: a regime that extends the vocabulary trains on a variant of it.
        name = config.mixture_or_task_name or mixture
        targets = seqio.get_mixture_or_task(name).output_features["targets"].vocabulary
        vocab = config.model.with_vocab_size(targets.vocab_size).vocab_size
    return StageSettings(dict(config.task_feature_lengths), config.batch_size, vocab, config.pack)


def _matches(spec: RunSpec, only: Sequence[str]) -> bool:
    return any(spec.run_id.startswith(o) or o in spec.name for o in only)


def plan_sweep(
    experiment: str,
    bindings: Sequence[str] = (),
    output_dir: str | os.PathLike = "runs",
    backend: str | None = None,
    only: Sequence[str] = (),
    strict: bool = True,
) -> SweepPlan:
    """Resolves and checks every run of an experiment.

    Args:
        experiment: The experiment gin file.
        bindings: Extra bindings for it (``Sweep.seeds = [0, 1]``).
        output_dir: Root of sweep folders (local or ``gs://``).
        backend: Overrides the experiment's backend.
        only: Keep runs whose id starts with, or whose name contains, one of these.
        strict: Treat what only the launch needs (evaluation data, the backend's
            own checks such as T5X being installed) as errors; when False
            (``flawn sweep plan``), they become the plan's warnings.

    Raises:
        ConfigError: Listing every run that cannot be resolved, with the reason.
    """
    from flawn.evals.run import check_eval_spec
    from flawn.models.sizes import get_size

    sweep = load_sweep(experiment, bindings)
    backend = backend or sweep.backend
    check_backend_name(backend)
    problems: dict[str, list[str]] = {}
    fingerprints: dict[str, Any] = {}
    specs: list[RunSpec] = []
    for point in expand(sweep):
        try:
            specs.append(resolve_run(sweep, point, backend, fingerprints))
        except FlawnError as err:
            problems.setdefault(str(err), []).append(point.name)
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.run_id in seen:
            problems.setdefault(
                f"runs {seen[spec.run_id]} and {spec.name} resolve to the same run "
                f"{spec.run_id}: an axis changes nothing that is trained",
                [],
            ).append(spec.name)
        seen[spec.run_id] = spec.name
    evals = sweep.eval_specs()
    launch_problems: dict[str, list[str]] = problems if strict else {}
    for eval_spec in evals:
        try:
            check_eval_spec(eval_spec)
        except FlawnError as err:
            launch_problems.setdefault(str(err), []).append(f"evaluation {eval_spec.describe()}")
    from flawn.runs.run_vocabulary import vocabulary_problems

    runner = get_backend(backend)
    for spec in specs:
        # On every backend, each problem apart (validate raises them joined, after its own).
        found = vocabulary_problems(spec)
        try:
            runner.validate(spec)
        except FlawnError as err:
            if str(err) != "; ".join(found):
                found.append(str(err))
        for message in found:
            launch_problems.setdefault(message, []).append(spec.name)
    warnings = [] if strict else [f"{m} [{', '.join(n[:3])}]" for m, n in launch_problems.items()]
    if problems:
        lines = [f"{experiment}: {len(problems)} problem(s); nothing was run:"]
        for message, names in problems.items():
            shown = ", ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")
            lines.append(f"  - {message}" + (f"  [{shown}]" if shown else ""))
        raise ConfigError("\n".join(lines))
    if only:
        specs = [s for s in specs if _matches(s, only)]
        if not specs:
            raise ConfigError(f"--only {list(only)} matches no run of {experiment}")
    runs = []
    settings_memo: dict[tuple[str, str], StageSettings] = {}
    for spec in specs:
        shape = get_size(spec.size).shape
        settings, stage_costs = [], []
        for stage in spec.stages:
            key = (stage.gin, stage.mixture)
            if key not in settings_memo:
                settings_memo[key] = _stage_settings(stage.gin, stage.mixture)
            s = settings_memo[key]
            settings.append(s)
            stage_costs.append(
                costs.stage_cost(
                    stage.name, shape, s.vocab_size, s.lengths, s.batch_size, stage.steps
                )
            )
        runs.append(PlannedRun(spec, settings, stage_costs))
    root = epath.Path(output_dir)
    if not str(root).startswith(("gs://", "s3://")):
        root = epath.Path(os.path.abspath(os.fspath(root)))
    return SweepPlan(sweep, experiment, root / sweep.name, backend, runs, evals, warnings)


def data_plans(plan: SweepPlan, measure: bool = False) -> dict[tuple, Any]:
    """The data plan of every distinct stage (mixture, lengths, batch size, steps).

    Examples per packed row are computed once per (mixture, lengths) and
    scaled to each run length; ``measure`` runs the real pipeline for them
    (slower), otherwise they are estimated from token lengths.
    """
    from flawn.mixtures.plan import plan_mixture

    base: dict[tuple, Any] = {}
    out: dict[tuple, Any] = {}
    for run in plan.runs:
        for stage, settings in zip(run.spec.stages, run.settings, strict=True):
            lengths = tuple(sorted(settings.lengths.items()))
            key = (stage.mixture, lengths, settings.pack, settings.batch_size, stage.steps)
            if key in out:
                continue
            root = (stage.mixture, lengths, settings.pack)
            if root not in base:
                base[root] = plan_mixture(
                    stage.mixture, 1, 1, dict(lengths), pack=settings.pack, measure=measure
                )
            out[key] = base[root].scaled(stage.steps, settings.batch_size)
    return out


def plan_as_json(
    plan: SweepPlan, target: str = "tpu_v4", mfu: float = costs.DEFAULT_MFU, with_data: bool = True
) -> str:
    """The plan as JSON (runs, stages, data plans, costs) for tools."""
    chosen = costs.get_target(target)
    plans = data_plans(plan) if with_data else {}
    runs = []
    for run in plan.runs:
        stages = []
        for stage, settings, cost in zip(run.spec.stages, run.settings, run.costs, strict=True):
            key = (
                stage.mixture,
                tuple(sorted(settings.lengths.items())),
                settings.pack,
                settings.batch_size,
                stage.steps,
            )
            stages.append(
                {
                    "name": stage.name,
                    "mixture": stage.mixture,
                    "steps": stage.steps,
                    "init": stage.init,
                    "schedule": stage.schedule,
                    "batch_size": settings.batch_size,
                    "lengths": dict(settings.lengths),
                    "tokens": cost.tokens,
                    "flops": cost.flops,
                    "six_nd": cost.six_nd,
                    "data_plan": plans[key].as_dict() if key in plans else None,
                }
            )
        runs.append(
            {
                "run_id": run.spec.run_id,
                "name": run.spec.name,
                "axes": dict(run.spec.axes),
                "size": run.spec.size,
                "regime": run.spec.regime,
                "stages": stages,
                "flops": run.flops,
                "tokens": run.tokens,
                "hours": costs.hours(run.flops, chosen, mfu),
            }
        )
    totals = plan.totals()
    return json.dumps(
        {
            "sweep": plan.sweep.name,
            "experiment": plan.experiment,
            "backend": plan.backend,
            "sweep_dir": os.fspath(plan.sweep_dir),
            "target": {
                "name": chosen.name,
                "label": chosen.label,
                "peak_flops": costs.peak_flops(chosen),
                "source": chosen.source,
                "mfu": mfu,
            },
            "evals": [dataclasses.asdict(e) for e in plan.evals],
            "warnings": plan.warnings,
            "runs": runs,
            "total": {**totals, "hours": costs.hours(totals["flops"], chosen, mfu)},
        },
        indent=2,
        default=str,
    )


def format_plan(
    plan: SweepPlan, target: str = "tpu_v4", mfu: float = costs.DEFAULT_MFU, with_data: bool = True
) -> str:
    """The plan for people: the runs with their costs, then each distinct data plan."""
    import pandas as pd

    chosen = costs.get_target(target)
    rows = []
    for run in plan.runs:
        rows.append(
            {
                "run id": run.spec.run_id,
                "run": run.spec.name,
                "stages": " -> ".join(f"{s.name} {s.mixture} x{s.steps}" for s in run.spec.stages),
                "tokens": f"{run.tokens:,.0f}",
                "PFLOPs": f"{run.flops / 1e15:,.3g}",
                "6ND / exact": f"{sum(c.six_nd for c in run.costs) / run.flops:.2f}",
                f"hours ({chosen.name})": f"{costs.hours(run.flops, chosen, mfu):,.3g}",
            }
        )
    totals = plan.totals()
    header = (
        f"Sweep `{plan.sweep.name}` ({plan.experiment}): {len(plan.runs)} run(s) on backend "
        f"{plan.backend}, into {plan.sweep_dir}\n"
        + (f"{plan.sweep.description}\n" if plan.sweep.description else "")
        + f"Baseline: {plan.sweep.condition_axis} = {plan.sweep.baseline_value}. Evaluations: "
        + "; ".join(e.describe() for e in plan.evals)
    )
    footer = (
        f"Total: {totals['tokens']:,.0f} tokens, {totals['flops'] / 1e15:,.4g} PFLOPs, "
        f"{costs.hours(totals['flops'], chosen, mfu):,.4g} {chosen.label}-hours at "
        f"{mfu:.0%} MFU of {costs.peak_flops(chosen) / 1e12:,.4g} TFLOP/s ({chosen.source}). "
        "FLOPs count every matmul of forward and backward over padded lengths "
        "(encoder on inputs, decoder on targets, cross-attention on encoder outputs, attention "
        "scores); 6ND is shown for comparison."
    )
    parts = [
        header,
        "",
        pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True),
        "",
        footer,
    ]
    if plan.warnings:
        parts += ["", "Before launching on this host:"] + [f"  - {w}" for w in plan.warnings]
    if with_data:
        parts += ["", "Data plans (one per distinct stage):"]
        for plan_ in data_plans(plan).values():
            parts += ["", plan_.format_table()]
    return "\n".join(parts)
