"""From a finished sweep to the next experiment file: what ``flawn propose`` does.

:func:`propose_next` reads the sweep (:mod:`~flawn.propose.observations`),
turns the user's limits into :class:`~flawn.propose.simplex.Constraints`
(a minimum general share, bounds, sources left out by a LawInstruct licence
view or by name), fits and proposes (:func:`~flawn.propose.propose_mixtures`)
and writes the proposals as a launchable experiment
(:mod:`~flawn.propose.writer`). Compute stays the source sweep's: the new
file keeps its steps, batch size, sizes and seeds, and a proposal only moves
examples between sources.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from flawn.propose.acquisition import METHODS
from flawn.propose.observations import BY, GENERAL, LEGAL, Observations, group_of
from flawn.propose.proposal import Proposal, propose_mixtures
from flawn.propose.simplex import Constraints, GroupMinimum

#: Prefix of the LawInstruct catalog's tasks, which a licence view can judge.
LAWINSTRUCT_PREFIX = "lawinstruct."


@dataclasses.dataclass(frozen=True)
class ProposalSettings:
    """What to optimise and within which limits.

    Attributes:
        objective: ``SUITE.overall`` or ``SUITE.<group>``, e.g. ``legalbench.overall``.
        k: How many mixtures to propose.
        by: ``group`` (legal vs general shares; each group keeps the
            proportions of its sources the sweep realised) or ``source``
            (one share per seqio task).
        min_general: Smallest total share of general (non-legal) sources.
        lower: ``{component: smallest share}`` (components as in ``by``).
        upper: ``{component: largest share}``.
        view: A LawInstruct licence x language view (``english_commercial``,
            ...): the catalog's subsets outside it get share 0.
        exclude: Source name patterns (``fnmatch``, e.g. ``lawinstruct.bva_*``)
            that get share 0.
        method: ``ei`` (expected improvement) or ``thompson``.
        seed: Seed of the candidates and draws.
    """

    objective: str
    k: int = 8
    by: str = "group"
    min_general: float = 0.0
    lower: Mapping[str, float] = dataclasses.field(default_factory=dict)
    upper: Mapping[str, float] = dataclasses.field(default_factory=dict)
    view: str | None = None
    exclude: Sequence[str] = ()
    method: str = "ei"
    seed: int = 0

    def __post_init__(self):
        if "." not in self.objective:
            raise ValueError(
                f"objective {self.objective!r} must be SUITE.NAME, e.g. legalbench.overall"
            )
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")
        if self.by not in BY:
            raise ValueError(f"by must be one of {list(BY)}, got {self.by!r}")
        if not 0.0 <= self.min_general <= 1.0:
            raise ValueError(f"min_general must be in [0, 1], got {self.min_general}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {self.method!r}")
        if self.view is not None:
            from flawn.catalog import VIEWS

            if self.view not in VIEWS:
                raise ValueError(
                    f"no LawInstruct view named {self.view!r}; views are {', '.join(VIEWS)}"
                )


@dataclasses.dataclass
class NextSweep:
    """What :func:`propose_next` did.

    Attributes:
        observations: The sweep as fitted (after exclusions).
        proposal: The fitted model's proposals.
        path: The experiment file written.
        excluded: Sources given share 0 (by the view or by name).
        unjudged: Legal sources a licence view cannot judge (not LawInstruct
            catalog tasks, e.g. the bundled samples); they keep their shares.
    """

    observations: Observations
    proposal: Proposal
    path: pathlib.Path
    excluded: list[str]
    unjudged: list[str]


def _sources(observations: Observations) -> list[str]:
    if observations.by == "source":
        return list(observations.components)
    return sorted({s for group in observations.within.values() for s in group})


def excluded_sources(
    sources: Sequence[str], view: str | None, patterns: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Sources a view or name patterns leave out, and legal sources the view cannot judge.

    Args:
        sources: Source (seqio task) names.
        view: A LawInstruct view name, or ``None``.
        patterns: ``fnmatch`` patterns of source names.

    Returns:
        ``(excluded, unjudged)``, each sorted.
    """
    excluded = {s for s in sources for p in patterns if fnmatch.fnmatchcase(s, p)}
    unjudged = set()
    if view is not None:
        from flawn.catalog import load_catalog

        admitted = {f"{LAWINSTRUCT_PREFIX}{subset.name}" for subset in load_catalog().view(view)}
        for source in sources:
            if source.startswith(LAWINSTRUCT_PREFIX):
                if source not in admitted:
                    excluded.add(source)
            elif group_of(source) == LEGAL:
                unjudged.add(source)
    return sorted(excluded), sorted(unjudged - excluded)


def without_sources(observations: Observations, excluded: Sequence[str]) -> Observations:
    """The observations with ``excluded`` sources left out of the group proportions.

    For ``by="group"`` each group's sources are renormalised without them, so
    the written mixtures give them nothing (the observed shares, which are
    what was run, are unchanged). For ``by="source"`` nothing changes: the
    constraints give those components share 0.

    Raises:
        ValueError: If a group the sweep drew from would have no source left.
    """
    if observations.by == "source" or not excluded:
        return observations
    within = {}
    for group, proportions in observations.within.items():
        kept = {s: p for s, p in proportions.items() if s not in set(excluded)}
        if not kept:
            raise ValueError(
                f"every {group} source of sweep {observations.sweep} is excluded "
                f"({', '.join(sorted(proportions))}); relax --view/--exclude or pass --by source"
            )
        total = sum(kept.values())
        within[group] = {s: p / total for s, p in kept.items()}
    return dataclasses.replace(observations, within=within)


def constraints_for(
    observations: Observations, settings: ProposalSettings, excluded: Sequence[str]
) -> Constraints:
    """The feasible mixtures for these observations and settings."""
    lower = dict(settings.lower)
    groups = []
    if settings.min_general > 0:
        if observations.by == "group":
            lower[GENERAL] = max(lower.get(GENERAL, 0.0), settings.min_general)
        else:
            general = tuple(c for c in observations.components if group_of(c) == GENERAL)
            if not general:
                raise ValueError(
                    f"--min-general {settings.min_general}: sweep {observations.sweep} has no "
                    "general source"
                )
            groups.append(GroupMinimum(general, settings.min_general, name="general sources"))
    dropped = [c for c in observations.components if c in set(excluded)]
    return Constraints(lower=lower, upper=dict(settings.upper), groups=groups, excluded=dropped)


def propose_next(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    settings: ProposalSettings,
    *,
    experiment: str | os.PathLike | None = None,
    bindings: Sequence[str] = (),
    name: str | None = None,
    force: bool = False,
    mode: str | None = None,
    where: Mapping[str, Any] | None = None,
    n_resamples: int = 1000,
    allow_missing: bool = False,
) -> NextSweep:
    """Reads a finished sweep, proposes ``settings.k`` mixtures and writes the next experiment.

    Args:
        sources: The sweep folder (or its run folders).
        out: The experiment file to write (e.g. ``experiments/demo_next.gin``).
        settings: Objective, number of proposals and limits.
        experiment: The source sweep's experiment file (default: its manifest's).
        bindings: ``--gin`` bindings the source sweep was planned with.
        name: The new sweep's name, also its mixtures' prefix (default: ``out``'s
            stem, e.g. ``demo_next`` for ``experiments/demo_next.gin``).
        force: Overwrite ``out``.
        mode: The scoring mode, when the suite was scored in several.
        where: ``{axis: value}`` picking one group of runs (e.g. one size).
        n_resamples: Bootstrap resamples of the scores' intervals.
        allow_missing: Leave out runs without a current evaluation.

    Returns:
        The :class:`NextSweep`.

    Raises:
        ValueError: For an unknown objective or component, constraints no
            mixture meets, or a sweep that cannot be read as mixtures.
        FileExistsError: If ``out`` exists and ``force`` is not set.
    """
    from flawn.propose.observations import load_observations
    from flawn.propose.writer import proposals_from_shares, write_next_experiment

    out = pathlib.Path(out)
    # The file's name names the sweep and its mixtures (<name>.p01, ...), so two proposals
    # written to two files never share a run folder or a mixture name.
    name = name or re.sub(r"[^A-Za-z0-9_]", "_", out.stem)
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; pass --force to overwrite it")
    observations = load_observations(
        sources,
        settings.objective,
        by=settings.by,
        mode=mode,
        where=where,
        n_resamples=n_resamples,
        allow_missing=allow_missing,
    )
    excluded, unjudged = excluded_sources(_sources(observations), settings.view, settings.exclude)
    observations = without_sources(observations, excluded)
    constraints = constraints_for(observations, settings, excluded)
    proposal = propose_mixtures(
        observations.shares,
        observations.scores,
        observations.se,
        observations.components,
        settings.k,
        constraints,
        seed=settings.seed,
        method=settings.method,
    )
    limits = describe_limits(settings, excluded)
    notes = [f"limits: {limits}"] if limits else []
    proposed = proposals_from_shares(
        observations, proposal.shares, proposal.predicted, proposal.lo, proposal.hi
    )
    method = "batch expected improvement" if proposal.method == "ei" else "Thompson sampling"
    path = write_next_experiment(
        out,
        observations,
        proposed,
        model=f"Gaussian process, {proposal.kernel}; {method}" + (f"; {notes[0]}" if notes else ""),
        experiment=experiment,
        bindings=bindings,
        name=name,
        force=force,
    )
    return NextSweep(observations, proposal, path, excluded, unjudged)


def describe_limits(settings: ProposalSettings, excluded: Sequence[str]) -> str:
    """The limits in words, for the file's header and the console."""
    parts = []
    if settings.min_general > 0:
        parts.append(f"general share >= {settings.min_general:g}")
    parts += [f"{c} >= {v:g}" for c, v in settings.lower.items()]
    parts += [f"{c} <= {v:g}" for c, v in settings.upper.items()]
    if settings.view:
        parts.append(f"LawInstruct view {settings.view}")
    if excluded:
        parts.append(f"{len(excluded)} source(s) excluded")
    return ", ".join(parts)
