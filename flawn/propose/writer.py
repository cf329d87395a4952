"""Writing proposed mixtures as the next experiment file, launchable as it is.

The new file repeats everything of the source sweep that decides what a run
costs and how it is judged (sizes, regimes, seeds, macros such as TRAIN_STEPS
and BATCH_SIZE, further axes, bindings, evaluations, backend, vocabulary)
and the baseline mixture, so its runs cost what the source's did and are
compared with the same baseline. Its mixtures are the baseline plus one
mixture per proposal, defined in the file itself by per-source weights
(``Sweep.mixture_weights``, see :mod:`flawn.mixtures.defined`). A comment
header says where it came from, the objective, the model, and each
proposal's predicted score with its interval.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from flawn.errors import ConfigError

#: Digits of the written weights (shares of 1): far below what sampling can tell apart.
WEIGHT_DIGITS = 6


@dataclasses.dataclass(frozen=True)
class ProposedMixture:
    """One proposed mixture.

    Attributes:
        weights: ``{task or mixture: weight}`` (relative; normalised when written).
        predicted: The model's predicted objective score.
        lo: Lower end of its predictive interval.
        hi: Upper end.
        note: One more line for the header (e.g. the acquisition value).
    """

    weights: Mapping[str, float]
    predicted: float
    lo: float
    hi: float
    note: str = ""


def proposals_from_shares(
    observations,
    shares: np.ndarray | Sequence[Sequence[float]],
    predicted: Sequence[float],
    lo: Sequence[float],
    hi: Sequence[float],
    notes: Sequence[str] | None = None,
) -> list[ProposedMixture]:
    """Proposals from rows of shares over ``observations.components``.

    Rows over groups (``by="group"``) are expanded to per-source weights with
    the within-group proportions the sweep realised
    (:meth:`flawn.propose.observations.Observations.source_weights`).

    Raises:
        ValueError: If the lengths disagree or a row is not a valid mixture.
    """
    rows = np.asarray(shares, dtype=float)
    if rows.ndim != 2 or not (len(rows) == len(predicted) == len(lo) == len(hi)):
        raise ValueError(
            f"need k rows of shares and k predictions and interval ends; got shares of shape "
            f"{rows.shape}, {len(predicted)} predictions, {len(lo)} lower and {len(hi)} upper ends"
        )
    notes = list(notes) if notes is not None else [""] * len(rows)
    return [
        ProposedMixture(observations.source_weights(row), float(p), float(a), float(b), n)
        for row, p, a, b, n in zip(rows, predicted, lo, hi, notes, strict=True)
    ]


def _normalised(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    if not total > 0 or any(w < 0 for w in weights.values()):
        raise ValueError(f"weights must be >= 0 with a positive total, got {dict(weights)}")
    out = {c: round(w / total, WEIGHT_DIGITS) for c, w in weights.items()}
    return {c: w for c, w in sorted(out.items()) if w > 0}


def _field_lines(sweep, skip: set[str]) -> list[str]:
    """``Sweep.field = value`` for every field that is not its default (nor in ``skip``)."""
    from flawn.sweeps.spec import Sweep

    lines = []
    for field in dataclasses.fields(Sweep):
        if field.name in skip:
            continue
        value = getattr(sweep, field.name)
        if field.default is not dataclasses.MISSING and value == field.default:
            continue
        if field.default_factory is not dataclasses.MISSING and value == field.default_factory():
            continue
        lines.append(f"Sweep.{field.name} = {_literal(value)}")
    return lines


def _literal(value: Any, indent: str = "") -> str:
    """A gin literal; mappings and long lists one entry per line."""
    if isinstance(value, Mapping) and value:
        inner = indent + "    "
        entries = [f"{inner}{k!r}: {_literal(v, inner)}," for k, v in value.items()]
        if sum(len(e) for e in entries) < 80:
            return "{" + ", ".join(f"{k!r}: {_literal(v)}" for k, v in value.items()) + "}"
        return "{\n" + "\n".join(entries) + f"\n{indent}}}"
    if isinstance(value, list | tuple):
        items = [_literal(v, indent + "    ") for v in value]
        if sum(len(i) for i in items) < 80:
            return "[" + ", ".join(items) + "]"
        return "[\n" + "".join(f"{indent}    {i},\n" for i in items) + f"{indent}]"
    return repr(value)


def render_experiment(
    sweep,
    proposals: Sequence[ProposedMixture],
    header: Sequence[str],
    name: str | None = None,
    description: str | None = None,
) -> str:
    """The text of the next experiment (see the module docstring).

    Args:
        sweep: The source :class:`~flawn.sweeps.spec.Sweep`.
        proposals: The proposed mixtures.
        header: Comment lines on top (without ``#``).
        name: The new ``Sweep.name`` (default ``<source name>_next``); also the
            prefix of the proposed mixtures' names (``<name>.p01``, ...).
        description: The new ``Sweep.description``.

    Raises:
        ValueError: If the source sweep's baseline is not a mixture, or there are no proposals.
    """
    from flawn.mixtures.defined import needed_definitions

    if sweep.condition_axis != "mixture":
        raise ValueError(
            f"sweep {sweep.name} compares on axis {sweep.condition_axis!r}; proposals are "
            "mixtures, so the source sweep needs a baseline mixture"
        )
    if not proposals:
        raise ValueError("no proposals to write")
    name = name or f"{sweep.name}_next"
    baseline = str(sweep.baseline_value)
    definitions = needed_definitions(sweep.mixture_weights, [baseline])
    names = [f"{name}.p{i:02d}" for i in range(1, len(proposals) + 1)]
    for mixture, proposal in zip(names, proposals, strict=True):
        definitions[mixture] = _normalised(proposal.weights)
    lines = [f"# {line}".rstrip() for line in header]
    lines += ["", "import flawn.sweeps.spec", ""]
    lines.append(f"Sweep.name = {name!r}")
    lines.append(f"Sweep.description = {description or sweep.description!r}")
    lines.append(f"Sweep.mixtures = {_literal([baseline, *names])}")
    lines.append(f"Sweep.baseline_mixture = {baseline!r}")
    lines.append(f"Sweep.mixture_weights = {_literal(definitions)}")
    skip = {"name", "description", "mixtures", "mixture_weights", "baseline", "baseline_mixture"}
    lines += _field_lines(sweep, skip | {"extra_axes"})
    return "\n".join(lines) + "\n"


def write_next_experiment(
    out: str | os.PathLike,
    observations,
    proposals: Sequence[ProposedMixture],
    model: str,
    experiment: str | os.PathLike | None = None,
    bindings: Sequence[str] = (),
    name: str | None = None,
    force: bool = False,
) -> pathlib.Path:
    """Writes the next experiment of a sweep: its settings, baseline and the proposals.

    Args:
        out: The new experiment file (e.g. ``experiments/demo_next.gin``).
        observations: What the proposals were fitted on
            (:func:`flawn.propose.observations.load_observations`): the source
            sweep, its objective and the experiment file it was planned from.
        proposals: The proposed mixtures, best first (see :func:`proposals_from_shares`).
        model: The model in words, for the header (e.g. ``GP, Matern 5/2; qEI``).
        experiment: The source sweep's experiment file (default: the one its
            manifest records).
        bindings: Bindings the source sweep was planned with
            (``--gin.Sweep.seeds=[0,1]``), which its manifest does not record.
        name: The new sweep's name (default ``<source>_next``).
        force: Overwrite ``out`` if it exists.

    Returns:
        The written file.

    Raises:
        FileExistsError: If ``out`` exists and ``force`` is not set.
        ConfigError: If the source experiment cannot be found or loaded, or
            the written file does not load (naming it).
    """
    from flawn.sweeps.spec import load_sweep

    out = pathlib.Path(out)
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; pass force=True (--force) to overwrite it")
    source = experiment or observations.experiment
    if not source or not pathlib.Path(source).is_file():
        raise ConfigError(
            f"the experiment file of sweep {observations.sweep} "
            f"({source or 'not in its manifest'}) is not found from {os.getcwd()}; "
            "pass the experiment file it was planned from"
        )
    sweep = load_sweep(os.fspath(source), bindings)
    where = observations.sweep_dir or ", ".join(
        sorted({r for ids in observations.run_ids.values() for r in ids})
    )
    header = [
        f"Proposed by flawn propose on {datetime.date.today().isoformat()} from sweep "
        f"{observations.sweep} ({where}),",
        f"planned from {source}" + (f" with {list(bindings)}" if bindings else "") + ".",
        f"Objective: {observations.objective} ({observations.mode}), "
        f"{len(observations.mixtures)} mixture(s) observed"
        + (f" (runs with {observations.group})" if observations.group else "")
        + f", by {observations.by}.",
        f"Model: {model}.",
        "Sizes, regimes, seeds, macros, bindings, evaluations and baseline are the source's,",
        "so each run costs what its runs did.",
        "",
        f"Predicted {observations.objective} ({observations.level:.0%} interval):",
    ]
    for baseline_row, mixture in enumerate(observations.mixtures):
        if mixture == observations.baseline:
            header.append(
                f"  {mixture} (baseline, observed): {observations.scores[baseline_row]:.4g} "
                f"[{observations.lo[baseline_row]:.4g}, {observations.hi[baseline_row]:.4g}]"
            )
    new_name = name or f"{sweep.name}_next"
    for i, proposal in enumerate(proposals, start=1):
        header.append(
            f"  {new_name}.p{i:02d}: {proposal.predicted:.4g} [{proposal.lo:.4g}, "
            f"{proposal.hi:.4g}]" + (f"  {proposal.note}" if proposal.note else "")
        )
    header += ["", f"  flawn sweep plan {out}", f"  flawn sweep launch {out}"]
    text = render_experiment(
        sweep,
        proposals,
        header,
        name=new_name,
        description=f"Next mixtures for {observations.objective}, proposed from sweep "
        f"{observations.sweep}",
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        load_sweep(os.fspath(tmp))
    except ConfigError as err:
        tmp.unlink()
        raise ConfigError(f"the experiment written for {out} does not load: {err}") from err
    os.replace(tmp, out)
    return out
