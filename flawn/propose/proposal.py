"""Proposing the next mixtures to run from a finished sweep: :func:`propose_mixtures`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd
import threadpoolctl

from flawn.propose import acquisition
from flawn.propose.simplex import Constraints, candidates
from flawn.propose.surrogate import Surrogate

#: Normal quantile of the two-sided 95% intervals.
Z95 = 1.959963984540054
#: The range of the analysis package's scores (points); intervals are cut to it.
SCORE_RANGE = (0.0, 100.0)
#: Random candidate mixtures scored per proposal (besides vertices and midpoints).
N_CANDIDATES = 2000


@dataclasses.dataclass(frozen=True, eq=False)
class Proposal:
    """The next mixtures to run, with predicted scores.

    Attributes:
        components: Component names, the columns of ``shares``.
        shares: ``(k, d)`` proposed mixtures (rows sum to 1), in pick order.
        predicted: ``(k,)`` predicted true score of each (points).
        lo: ``(k,)`` lower end of a 95% interval of the true score (the
            latent GP's sd; a new run adds its own noise on top), cut to
            :data:`SCORE_RANGE`.
        hi: ``(k,)`` upper end of that interval.
        best_observed: Predicted score of the best observed mixture (the
            incumbent that expected improvement is measured against).
        best_shares: ``(d,)`` that mixture.
        kernel: The surrogate's kernel as text (fitted or prior).
        method: ``"ei"`` or ``"thompson"``.
    """

    components: tuple[str, ...]
    shares: np.ndarray
    predicted: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    best_observed: float
    best_shares: np.ndarray
    kernel: str
    method: str

    def frame(self) -> pd.DataFrame:
        """One row per proposal: a column per component's share, then predicted, lo, hi."""
        frame = pd.DataFrame(self.shares, columns=list(self.components))
        frame["predicted"], frame["lo"], frame["hi"] = self.predicted, self.lo, self.hi
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="proposal")
        return frame


def propose_mixtures(
    shares: np.ndarray,
    scores: np.ndarray,
    score_se: np.ndarray,
    components: Sequence[str],
    k: int,
    constraints: Constraints | None = None,
    seed: int = 0,
    method: str = "ei",
) -> Proposal:
    """Fits score ~ mixture on finished runs and proposes the next ``k`` mixtures.

    Compute stays fixed: every proposal sums to 1, so it redistributes the
    same number of training examples between the components. Observed runs
    need not meet ``constraints`` (a sweep may predate a licence view); the
    proposals do. A proposal may repeat an observed mixture when another run
    of it (another seed) is worth the most.

    Args:
        shares: ``(n, d)`` observed mixtures, one row per run (several seeds
            of one mixture are several rows); rows sum to 1, zeros allowed.
        scores: ``(n,)`` each run's score (the analysis package's 0-100 points).
        score_se: ``(n,)`` each score's standard error, e.g. from a 95%
            interval: ``(hi - lo) / (2 * 1.96)``.
        components: The ``d`` component names.
        k: How many mixtures to propose.
        constraints: Bounds, group minima and exclusions (default: the whole
            simplex).
        seed: Seed of candidates, optimiser restarts and Thompson draws; the
            same inputs and seed give the same proposal.
        method: ``"ei"`` (expected improvement, kriging believer) or
            ``"thompson"``; see :mod:`flawn.propose.acquisition`.

    Returns:
        The proposal.

    Raises:
        ValueError: On malformed inputs (naming the argument and row) or
            infeasible constraints (naming the component or group).
    """
    components = tuple(components)
    x, y, se = _checked(shares, scores, score_se, components)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if method not in acquisition.METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {list(acquisition.METHODS)}")
    region = (constraints or Constraints()).resolve(components)
    # Tens of runs make tiny matrices: BLAS threads only add overhead (5x
    # slower on a busy machine), so one thread.
    with threadpoolctl.threadpool_limits(1):
        pool = candidates(region, N_CANDIDATES, seed)
        surrogate = Surrogate.fit(x, y, se, seed=seed)
        picks = acquisition.select_batch(surrogate, pool, k, method=method, seed=seed)
        mean, sd = surrogate.predict(pool[picks])
        best, best_mean = acquisition.incumbent(surrogate)
    return Proposal(
        components=components,
        shares=pool[picks],
        predicted=mean,
        # The GP knows nothing of the score's range; the true score lies within it, so
        # cutting the interval there loses no coverage.
        lo=np.clip(mean - Z95 * sd, *SCORE_RANGE),
        hi=np.clip(mean + Z95 * sd, *SCORE_RANGE),
        best_observed=best_mean,
        best_shares=x[best],
        kernel=surrogate.describe(),
        method=method,
    )


def _checked(shares, scores, score_se, components) -> tuple[np.ndarray, ...]:
    """The inputs as float arrays, or a ValueError saying which and where."""
    x = np.asarray(shares, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(components):
        raise ValueError(
            f"shares must be (runs, {len(components)}) for components "
            f"{list(components)}, got shape {x.shape}"
        )
    if len(x) == 0:
        raise ValueError("no runs: a proposal needs at least one scored run")
    named = {"scores": scores, "score_se": score_se}
    arrays = {}
    for name, values in named.items():
        values = np.asarray(values, dtype=float)
        if values.shape != (len(x),):
            raise ValueError(
                f"{name} must have one value per run ({len(x)}), got shape {values.shape}"
            )
        bad = np.flatnonzero(~np.isfinite(values) | ((values < 0) if name == "score_se" else 0))
        if len(bad):
            raise ValueError(
                f"{name}[{bad[0]}] = {values[bad[0]]} is not a finite"
                f"{' non-negative' if name == 'score_se' else ''} number"
            )
        arrays[name] = values
    for row, mixture in enumerate(x):
        if not np.all(np.isfinite(mixture)) or np.any(mixture < -1e-9):
            raise ValueError(f"shares row {row} has a negative or missing share: {mixture}")
        if abs(mixture.sum() - 1) > 1e-6:
            raise ValueError(
                f"shares row {row} sums to {mixture.sum():.6g}, not 1; give each "
                "run's fraction of examples per component"
            )
    return np.clip(x, 0.0, None), arrays["scores"], arrays["score_se"]
