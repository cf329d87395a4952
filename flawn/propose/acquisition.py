"""Choosing a batch of mixtures to run next, from a surrogate and candidate mixtures.

Sweeps run their mixtures in parallel, so a proposal is a batch of ``k``. The
default is expected improvement (EI) with a kriging believer: pick the
candidate with the largest EI over the best predicted observed score, pretend
it was run and scored its predicted mean (which leaves the mean unchanged and
shrinks the uncertainty around it), and repeat. Why EI rather than Thompson
sampling by default: with the few rounds a sweep affords, EI spends runs where
improvement is likely *and* large, and it is deterministic given the data,
so the same sweep gives the same proposal; Thompson sampling (``"thompson"``:
one joint posterior draw over the candidates per pick, its argmax) explores
more and needs no believer, and is offered for larger batches.

Either way candidates closer than ``min_distance`` (Hellinger) to a mixture
already in the batch are skipped: two near-identical runs teach little more
than one.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

from flawn.propose.surrogate import Surrogate, hellinger

#: Batch selection methods of :func:`select_batch`.
METHODS = ("ei", "thompson")


def expected_improvement(mean: np.ndarray, sd: np.ndarray, incumbent: float) -> np.ndarray:
    """Expected amount by which the true score exceeds ``incumbent`` (0 where sd is 0)."""
    sd = np.asarray(sd, dtype=float)
    gain = np.asarray(mean, dtype=float) - incumbent
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, gain / sd, 0.0)
    ei = gain * scipy.stats.norm.cdf(z) + sd * scipy.stats.norm.pdf(z)
    return np.where(sd > 0, ei, np.maximum(gain, 0.0))


def incumbent(surrogate: Surrogate) -> tuple[int, float]:
    """The observed run whose mixture has the best predicted score: (row, predicted score).

    The best *predicted* rather than the best *observed*: with noisy runs the
    highest observed score is biased upward (the winner's curse), and the
    posterior mean pools replicates and neighbours.
    """
    mean, _ = surrogate.predict(surrogate.shares)
    best = int(np.argmax(mean))
    return best, float(mean[best])


def select_batch(
    surrogate: Surrogate,
    candidates: np.ndarray,
    k: int,
    method: str = "ei",
    min_distance: float = 0.1,
    seed: int = 0,
) -> np.ndarray:
    """Indices of ``k`` candidates to run next.

    Args:
        surrogate: The fitted surrogate.
        candidates: ``(m, d)`` feasible mixtures.
        k: Batch size.
        method: ``"ei"`` (expected improvement, kriging believer) or
            ``"thompson"`` (Thompson sampling from the joint posterior).
        min_distance: Smallest Hellinger distance between two picks; halved
            as often as needed when the candidates cannot give ``k`` picks
            that far apart.
        seed: Seed of the Thompson draws.

    Returns:
        ``k`` distinct row indices into ``candidates``, in pick order.

    Raises:
        ValueError: If ``method`` is unknown or there are fewer than ``k``
            distinct candidates.
    """
    if method not in METHODS:
        raise ValueError(f"unknown proposal method {method!r}; use one of {list(METHODS)}")
    if not 1 <= k <= len(candidates):
        raise ValueError(
            f"cannot pick {k} mixtures from {len(candidates)} candidates; "
            "ask for fewer or loosen the constraints"
        )

    def distance(pick: int) -> np.ndarray:
        return hellinger(candidates[pick], candidates)[0]

    while True:
        picks = (
            _expected_improvement_batch(surrogate, candidates, k, distance, min_distance)
            if method == "ei"
            else _thompson_batch(surrogate, candidates, k, distance, min_distance, seed)
        )
        if len(picks) == k:
            return np.array(picks)
        min_distance /= 2


def _expected_improvement_batch(surrogate, candidates, k, distance, min_distance) -> list[int]:
    _, best = incumbent(surrogate)
    allowed = np.ones(len(candidates), dtype=bool)
    picks: list[int] = []
    model = surrogate
    while len(picks) < k and allowed.any():
        mean, sd = model.predict(candidates)
        # sd breaks ties where EI vanishes everywhere (a flat prior far from any gain).
        value = expected_improvement(mean, sd, best) + 1e-9 * sd
        pick = int(np.flatnonzero(allowed)[np.argmax(value[allowed])])
        picks.append(pick)
        allowed &= distance(pick) >= min_distance
        if len(picks) < k:
            model = model.believe(candidates[pick])
    return picks


def _thompson_batch(surrogate, candidates, k, distance, min_distance, seed) -> list[int]:
    rng = np.random.default_rng(seed)
    draws = surrogate.sample(candidates, 4 * k, rng)
    allowed = np.ones(len(candidates), dtype=bool)
    picks: list[int] = []
    for draw in draws:
        if len(picks) == k or not allowed.any():
            break
        pick = int(np.flatnonzero(allowed)[np.argmax(draw[allowed])])
        picks.append(pick)
        allowed &= distance(pick) >= min_distance
    return picks
