"""Sweeps: the experiment files of ``experiments/`` and their expansion into runs.

An experiment file binds a :class:`Sweep`: the named axes (mixtures, sizes,
regimes, seeds), further axes over any gin macro or binding (crossed, or
zipped in groups, or with named values that set several bindings at once),
the evaluations, and the backend. :func:`expand` lists the sweep's points and
:func:`resolve_run` turns one point into a :class:`~flawn.runs.RunSpec`.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import gin

from flawn import gin_utils, paths
from flawn.errors import ConfigError
from flawn.runs.spec import INIT_PREVIOUS, INIT_SCRATCH, EvalSpec, RunSpec, Stage

#: Bound to MODEL_DIR while resolving; stored configs leave MODEL_DIR unbound.
_MODEL_DIR_PLACEHOLDER = "__FLAWN_MODEL_DIR__"
_MACRO = re.compile(r"^[A-Z][A-Z0-9_]*$")
_BINDING = re.compile(r"^[\w./]+\.\w+$")
#: Set through the sweep's own fields, never through axes or macros.
_RESERVED = {"MIXTURE_OR_TASK_NAME", "SEED", "MODEL_DIR", "MODEL_SIZE"}


@gin.configurable
@dataclasses.dataclass(frozen=True)
class Sweep:
    """A study: named axes, further axes over gin bindings, evaluations, a backend.

    Attributes:
        name: The study's name; runs go to ``<output_dir>/<name>/<run_id>/``.
        mixtures: seqio mixtures (or tasks) to train on (the ``mixture`` axis,
            bound to MIXTURE_OR_TASK_NAME).
        mixture_weights: Mixtures the experiment defines itself, ``{name:
            {task or mixture: weight}}``: fixed weights, relative (divided by
            their sum), registered when the sweep is loaded and recorded in
            each run's spec (see :mod:`flawn.mixtures.defined`).
        baseline_mixture: The mixture every other one is compared with
            (shorthand for ``baseline={'mixture': ...}``).
        baseline: ``{axis: value}``: the condition every other value of that
            axis is compared with, within runs that agree on every other axis
            but the seed.
        sizes: Model sizes (``gin/models/<size>.gin``; the ``size`` axis).
        regimes: Regimes (``gin/regimes/<regime>.gin``; the ``regime`` axis).
        seeds: Seeds (bound to SEED; the ``seed`` axis).
        macros: Macro values shared by every run (e.g. TRAIN_STEPS, BATCH_SIZE).
        axes: Further crossed axes. A key is a macro (``LEGAL_SHARE``), a gin
            binding (``OptimizerConfig.learning_rate``), or a label whose
            value is ``{value name: {binding or macro: value, ...}}`` (named
            values that set several bindings at once).
        zip_axes: Groups of axes varied together: each group is
            ``{key: [values...]}`` with lists of equal length; the groups are
            crossed with everything else.
        extra_axes: Older name of ``axes`` (merged into it).
        bindings: Extra gin bindings applied to every run, e.g.
            ``["OptimizerConfig.learning_rate = 1e-3"]``; part of each run's id.
        backend: ``local`` or ``t5x`` (``flawn sweep launch --backend`` overrides it).
        eval_suite: The main evaluation's suite: ``sample`` (bundled),
            ``legalbench``, ``lawbench``, or a folder of LegalBench-format tasks.
        eval_tasks: Tasks of that suite (default: all).
        eval_split: Which split it scores.
        eval_mode: ``generation`` or ``rank_classification``.
        max_decode_length: Most tokens generated per answer.
        extra_evals: More evaluations, each a dict of :class:`~flawn.runs.EvalSpec` fields.
        description: What the study asks, for plans and reports.
        vocabulary: The SentencePiece vocabulary the runs must train with: a
            name in :data:`flawn.runs.run_vocabulary.KNOWN` (``'t5'``: T5 1.1 /
            Flan-T5's) or a local ``.model`` file; ``None``: whatever the
            mixtures are tokenized with (``FLAWN_VOCABULARY``). Recorded and
            checked with each run (:mod:`flawn.runs.run_vocabulary`).
    """

    name: str = gin.REQUIRED
    mixtures: Sequence[str] = gin.REQUIRED
    mixture_weights: Mapping[str, Mapping[str, float]] = dataclasses.field(default_factory=dict)
    baseline_mixture: str | None = None
    baseline: Mapping[str, Any] | None = None
    sizes: Sequence[str] = ("tiny",)
    regimes: Sequence[str] = ("finetune",)
    seeds: Sequence[int] = (0,)
    macros: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    axes: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    zip_axes: Sequence[Mapping[str, Sequence[Any]]] = ()
    extra_axes: Mapping[str, Sequence[Any]] = dataclasses.field(default_factory=dict)
    bindings: Sequence[str] = ()
    backend: str = "local"
    eval_suite: str = "sample"
    eval_tasks: Sequence[str] | None = None
    eval_split: str = "test"
    eval_mode: str = "generation"
    max_decode_length: int = 16
    extra_evals: Sequence[Mapping[str, Any]] = ()
    description: str = ""
    vocabulary: str | None = None

    def __post_init__(self):
        if not self.mixtures:
            raise ValueError("Sweep.mixtures is empty")
        from flawn.mixtures.defined import check_definitions

        object.__setattr__(self, "mixture_weights", check_definitions(self.mixture_weights))
        for field in ("sizes", "regimes", "seeds"):
            if not getattr(self, field):
                raise ValueError(f"Sweep.{field} is empty")
        if self.extra_axes:
            object.__setattr__(self, "axes", {**dict(self.axes), **dict(self.extra_axes)})
            object.__setattr__(self, "extra_axes", {})
        baseline = dict(self.baseline or {})
        if self.baseline_mixture is not None:
            baseline.setdefault("mixture", self.baseline_mixture)
        if len(baseline) != 1:
            raise ValueError(
                "a sweep needs exactly one baseline: Sweep.baseline_mixture = 'NAME' or "
                "Sweep.baseline = {'AXIS': VALUE}"
            )
        object.__setattr__(self, "baseline", baseline)
        ((axis, value),) = baseline.items()
        values = self.axis_values().get(axis)
        if values is None:
            raise ValueError(
                f"Sweep.baseline names axis {axis!r}, which the sweep does not vary "
                f"(axes: {', '.join(self.axis_values())})"
            )
        if value not in values:
            raise ValueError(
                f"Sweep.baseline value {value!r} is not one of the swept values of {axis!r}: "
                f"{list(values)}"
            )
        self._check_keys()
        if "TASK_FEATURE_LENGTHS" not in self.macros:
            raise ValueError(
                "Sweep.macros must set TASK_FEATURE_LENGTHS (eval uses its input length)"
            )
        self.eval_specs()  # validates the evaluation settings

    def _check_keys(self) -> None:
        keys = list(self.macros) + list(self.axes)
        for group in self.zip_axes:
            keys += list(group)
            lengths = {len(v) for v in group.values()}
            if len(lengths) > 1:
                raise ValueError(
                    f"Sweep.zip_axes group {dict(group)} has lists of different lengths; "
                    "zipped axes vary together, so their lists must be equally long"
                )
        clash = _RESERVED & set(keys)
        if clash:
            raise ValueError(
                f"Sweep.macros/axes must not set {sorted(clash)}; use the sweep's own fields "
                "(mixtures, seeds, sizes)"
            )
        seen = set()
        for key in [*self.axes, *(k for g in self.zip_axes for k in g)]:
            if key in seen or key in {"mixture", "size", "regime", "seed"}:
                raise ValueError(f"axis {key!r} is declared twice")
            seen.add(key)
        for key, values in self.axes.items():
            if isinstance(values, Mapping):
                for label, bindings in values.items():
                    if not isinstance(bindings, Mapping):
                        raise ValueError(
                            f"axis {key!r}: value {label!r} must map bindings to values "
                            "(named values set several bindings at once)"
                        )
                    for inner in bindings:
                        _check_binding_key(inner, f"axis {key!r} value {label!r}")
            else:
                _check_binding_key(key, "Sweep.axes")
        for key in self.macros:
            _check_binding_key(key, "Sweep.macros")

    def axis_values(self) -> dict[str, list[Any]]:
        """Every axis with its values (named axes first)."""
        out: dict[str, list[Any]] = {
            "mixture": list(self.mixtures),
            "size": list(self.sizes),
            "regime": list(self.regimes),
            "seed": list(self.seeds),
        }
        for key, values in self.axes.items():
            out[key] = list(values)  # named values: their names
        for group in self.zip_axes:
            for key, values in group.items():
                out[key] = list(values)
        return out

    @property
    def condition_axis(self) -> str:
        """The axis the baseline is a value of."""
        return next(iter(self.baseline))

    @property
    def baseline_value(self) -> Any:
        """The baseline's value on :attr:`condition_axis`."""
        return next(iter(self.baseline.values()))

    def eval_specs(self) -> list[EvalSpec]:
        """The evaluations every run gets: the main one, then ``extra_evals``."""
        main = EvalSpec(
            suite=self.eval_suite,
            mode=self.eval_mode,
            split=self.eval_split,
            tasks=tuple(self.eval_tasks) if self.eval_tasks else None,
            max_decode_length=self.max_decode_length,
        )
        try:
            return [main, *(EvalSpec(**dict(e)) for e in self.extra_evals)]
        except TypeError as err:
            raise ValueError(f"Sweep.extra_evals: {err}") from err


def _check_binding_key(key: str, where: str) -> None:
    if not (_MACRO.match(key) or _BINDING.match(key)):
        raise ValueError(
            f"{where}: {key!r} is neither a macro (UPPER_CASE) nor a gin binding "
            "(Configurable.parameter)"
        )


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep, before it is resolved.

    Attributes:
        axes: ``{axis: value}`` for every axis (named values by their name).
        bindings: ``{macro or binding: value}`` the point sets, beyond the named axes.
    """

    axes: Mapping[str, Any]
    bindings: Mapping[str, Any]

    @property
    def mixture(self) -> str:
        """The training mixture."""
        return self.axes["mixture"]

    @property
    def size(self) -> str:
        """The model size."""
        return self.axes["size"]

    @property
    def regime(self) -> str:
        """The regime."""
        return self.axes["regime"]

    @property
    def seed(self) -> int:
        """The seed."""
        return int(self.axes["seed"])

    @property
    def name(self) -> str:
        """``mixture/size/regime/seedN[/AXIS=value...]``."""
        extra = [f"{k}={v}" for k, v in self.axes.items() if k not in _NAMED]
        return "/".join([self.mixture, self.size, self.regime, f"seed{self.seed}", *extra])


_NAMED = ("mixture", "size", "regime", "seed")


def expand(sweep: Sweep) -> list[SweepPoint]:
    """Every point of the sweep: crossed axes, zipped groups, baseline first within each group."""
    crossed: list[list[tuple[dict[str, Any], dict[str, Any]]]] = []
    for key, values in sweep.axes.items():
        if isinstance(values, Mapping):
            crossed.append([({key: label}, dict(b)) for label, b in values.items()])
        else:
            crossed.append([({key: v}, {key: v}) for v in values])
    for group in sweep.zip_axes:
        keys = list(group)
        rows = zip(*(group[k] for k in keys), strict=True)
        crossed.append(
            [(dict(zip(keys, r, strict=True)), dict(zip(keys, r, strict=True))) for r in rows]
        )
    combos = list(itertools.product(*crossed)) if crossed else [()]
    axis, baseline = sweep.condition_axis, sweep.baseline_value
    points = []
    for size in sweep.sizes:
        for regime in sweep.regimes:
            for combo in combos:
                for seed in sweep.seeds:
                    group = []
                    for mixture in sweep.mixtures:
                        axes = {"mixture": mixture, "size": size, "regime": regime, "seed": seed}
                        bindings: dict[str, Any] = {}
                        for axis_values, axis_bindings in combo:
                            axes.update(axis_values)
                            bindings.update(axis_bindings)
                        group.append(SweepPoint(axes, bindings))
                    points.extend(group)
    # Baseline runs first, so deltas can be printed as soon as a condition finishes.
    return sorted(points, key=lambda p: p.axes[axis] != baseline)


def load_sweep(experiment_file: str, bindings: Sequence[str] = ()) -> Sweep:
    """Parses an experiment gin file and returns its :class:`Sweep`.

    Registers the mixtures it defines (``Sweep.mixture_weights``).

    Raises:
        ConfigError: If the file is missing or the sweep is invalid (naming the
            file), or a mixture it defines cannot be registered.
    """
    gin_utils.parse([experiment_file], bindings)
    try:
        sweep = Sweep()
    except (ValueError, TypeError) as err:
        raise gin_utils.explain_required(err) or ConfigError(f"{experiment_file}: {err}") from err
    finally:
        gin.clear_config()
    if sweep.mixture_weights:
        import flawn.tasks  # noqa: F401  (the tasks and named mixtures they are made of)
        from flawn.mixtures.defined import register_definitions

        register_definitions(sweep.mixture_weights, experiment_file)
    return sweep


def _literal(value: Any) -> str:
    # repr() of str/int/float/bool/None/list/tuple/dict is valid gin literal syntax.
    return repr(value)


def _gin_file(folder: str, name: str, what: str) -> str:
    path = f"gin/{folder}/{name}.gin"
    if not (paths.project_root() / path).exists():
        known = sorted(p.stem for p in (paths.project_root() / "gin" / folder).glob("*.gin"))
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(f"unknown {what} {name!r}{hint} ({path} does not exist; known: {known})")
    return path


def _parse_config(files: Sequence[str], bindings: Sequence[str], what: str) -> None:
    try:
        gin_utils.parse(files, bindings)
    except ConfigError as err:
        raise ConfigError(f"{what}: {err}") from err


def _initial_checkpoint(size_name: str, init: str) -> str:
    from flawn.models.sizes import FAMILIES, get_size

    size = get_size(size_name)
    if init == "default":
        return size.initial_checkpoint() or INIT_SCRATCH
    if init in FAMILIES and init != "flawn":
        checkpoint = size.initial_checkpoint(init)
        if checkpoint is None:
            raise ConfigError(
                f"INIT={init!r}: size {size_name!r} has no public {init} checkpoint (only the "
                "T5 1.1 shapes do); use INIT='scratch' or a checkpoint folder"
            )
        return checkpoint
    return init


def _schedule() -> str:
    """The parsed config's learning-rate schedule, e.g. ``cosine, peak 0.003, warm-up 50``."""
    try:
        name = gin.query_parameter("OptimizerConfig.schedule")
        peak = gin.query_parameter("OptimizerConfig.learning_rate")
        warmup = gin.query_parameter("OptimizerConfig.warmup_steps")
    except ValueError:  # a run file that does not configure the optimizer
        return ""
    return f"{name}, peak {peak:g}, warm-up {warmup}"


def resolve_run(
    sweep: Sweep,
    point: SweepPoint,
    backend: str | None = None,
    fingerprints: dict[str, Any] | None = None,
) -> RunSpec:
    """Resolves one point to a :class:`RunSpec`: stages, their gin configs, the data fingerprint.

    Args:
        sweep: The sweep.
        point: One of :func:`expand`'s points.
        backend: Overrides ``sweep.backend``.
        fingerprints: A memo of mixture fingerprints shared across calls.

    Raises:
        ConfigError: For an unknown size, regime, run file or mixture (with the
            nearest names), or a stage that cannot be resolved.
    """
    from flawn.mixtures.defined import needed_definitions
    from flawn.models.sizes import get_size
    from flawn.runs.fingerprint import mixture_fingerprint
    from flawn.runs.vocabulary import stage_bindings as vocabulary_stage_bindings
    from flawn.sweeps.regime import Regime

    backend = backend or sweep.backend
    size = get_size(point.size)
    model_file = _gin_file("models", point.size, "model size")
    regime_file = _gin_file("regimes", point.regime, "regime")
    # Macros go to the regime file and every stage; bindings of configurables only to the
    # stages (the regime file does not import what they configure).
    values = {**sweep.macros, **point.bindings}
    macros = [f"{k} = {_literal(v)}" for k, v in sorted(values.items()) if _MACRO.match(k)]
    macros += [
        f"MIXTURE_OR_TASK_NAME = {_literal(point.mixture)}",
        f"SEED = {point.seed}",
        f"MODEL_DIR = {_literal(_MODEL_DIR_PLACEHOLDER)}",
    ]
    parameters = [f"{k} = {_literal(v)}" for k, v in sorted(values.items()) if not _MACRO.match(k)]
    common = [*macros, *parameters, *sweep.bindings]
    _parse_config([model_file, regime_file], macros, f"regime {point.regime}")
    try:
        regime = Regime()
    except (ValueError, TypeError) as err:
        raise gin_utils.explain_required(err) or ConfigError(f"{regime_file}: {err}") from err
    finally:
        gin.clear_config()

    fingerprints = {} if fingerprints is None else fingerprints
    recipe = _vocabulary_recipe(regime, regime_file) if regime.extends_vocabulary else None
    stages = []
    for number, declared in enumerate(regime.stages):
        run_file = _gin_file("runs", declared.get("run", "finetune"), "run file")
        mixture, steps = str(declared["mixture"]), int(declared["steps"])
        stage_bindings = [
            f"{k} = {_literal(v)}" for k, v in (declared.get("bindings") or {}).items()
        ]
        bindings = [
            *common,
            f"MIXTURE_OR_TASK_NAME = {_literal(mixture)}",
            f"TRAIN_STEPS = {steps}",
            *stage_bindings,
        ]
        if recipe is not None:
            bindings += vocabulary_stage_bindings(recipe, mixture, bool(size.vocab_size))
        _parse_config([model_file, run_file], bindings, f"stage {declared['name']}")
        try:
            text = gin.config_str()
            schedule = _schedule()
            init = declared.get("init")
            if init is None:
                init = (
                    _initial_checkpoint(point.size, str(gin.query_parameter("%INIT")))
                    if number == 0
                    else INIT_PREVIOUS
                )
        finally:
            gin.clear_config()
        text = text.replace(_literal(_MODEL_DIR_PLACEHOLDER), "%gin.REQUIRED")
        stages.append(
            Stage(str(declared["name"]), run_file, mixture, steps, str(init), text, schedule)
        )
        if mixture not in fingerprints:
            fingerprints[mixture] = mixture_fingerprint(mixture)
    return RunSpec(
        sweep=sweep.name,
        name=point.name,
        axes=dict(point.axes),
        size=point.size,
        regime=point.regime,
        seed=point.seed,
        backend=backend,
        stages=tuple(stages),
        data={s.mixture: fingerprints[s.mixture] for s in stages},
        # With an extended vocabulary the rows come from it (stage_bindings binds 0).
        model={
            "size": size.name,
            "vocab_size": 0 if recipe is not None else size.vocab_size,
            **dict(size.shape),
        },
        vocabulary=recipe.to_json() if recipe is not None else None,
        vocabulary_model=_run_vocabulary(stages, sweep.vocabulary),
        mixture_definitions=needed_definitions(sweep.mixture_weights, [s.mixture for s in stages])
        or None,
    )


def _run_vocabulary(stages: Sequence[Stage], requested: str | None) -> dict[str, Any]:
    """The vocabulary a run's mixtures are tokenized with, and the one it asks for."""
    import seqio

    from flawn.runs.run_vocabulary import describe_stage_vocabularies

    return describe_stage_vocabularies(
        [
            (
                s.name,
                s.mixture,
                seqio.get_mixture_or_task(s.mixture).output_features["targets"].vocabulary,
            )
            for s in stages
        ],
        requested,
    )


def _vocabulary_recipe(regime, regime_file: str):
    """The recipe of a regime's vocabulary extension, on the vocabulary its stages share.

    Raises:
        ConfigError: If a stage's mixture is unknown, the stages use different
            vocabularies, or a file of the extension is missing.
    """
    import seqio

    from flawn.runs.vocabulary import make_recipe

    where = f"{regime_file}: Regime.vocabulary_extension"
    vocabularies = {}
    for declared in regime.stages:
        mixture = str(declared["mixture"])
        try:
            provider = seqio.get_mixture_or_task(mixture)
        except ValueError:
            known = sorted(set(seqio.MixtureRegistry.names()) | set(seqio.TaskRegistry.names()))
            close = difflib.get_close_matches(mixture, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(
                f"stage {declared['name']}: unknown mixture or task {mixture!r}{hint}"
            ) from None
        vocabulary = provider.output_features["targets"].vocabulary
        vocabularies[declared["name"]] = vocabulary
    files = {n: getattr(v, "sentencepiece_model_file", repr(v)) for n, v in vocabularies.items()}
    if len(set(files.values())) > 1:
        listed = ", ".join(f"{n}: {f}" for n, f in files.items())
        raise ConfigError(
            f"{where}: the stages' mixtures use different vocabularies ({listed}); the extension "
            "extends one base vocabulary, so every stage must use the same"
        )
    return make_recipe(regime.vocabulary_extension, next(iter(vocabularies.values())), where)
