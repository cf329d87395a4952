"""Does proposing beat a grid? Sequential proposals vs a grid on simulated response surfaces.

A :class:`Surface` is a known score-vs-mixture function with a known optimum.
Two families, drawn at random so that no test is tuned to one optimum:

* ``"quadratic"``: a concave bowl ``top - (x - x*)' A (x - x*)`` with ``x*``
  drawn inside the simplex and a random curvature ``A`` whose eigenvalues
  differ up to 10x (some directions of trade-off matter far more than others);
* ``"log"``: ``sum_i a_i log(x_i + e_i)``, diminishing returns per component
  as data mixing laws fit them, with an optimum that may sit on a face
  (some components best left out).

Each surface is scaled so its best and worst mixtures differ by ``spread``
points (default drawn from 3-8), around a score of 40-60.

Noise: a run's overall score is the mean of per-task scores over LegalBench's
161 tasks (rule_qa out) at their real test sizes (46 to 10,923 items, 90,344
in all), each task an average of Bernoulli items with the run's accuracy
``p``, so its standard error is ``100 * sqrt(sum_t p (1 - p) / n_t) / 161``,
about 0.31 points at ``p = 0.5``; this is what one run's bootstrap interval
reports, and the proposer is told it. On top, a training-seed offset with sd
``seed_sd`` (default 0.5 points), which the proposer is *not* told (its
white-noise term has to find it).

A simulation runs ``rounds`` rounds of ``k`` runs. Round 1 is a shared
initial design: the first ``k`` mixtures of a farthest-first (maximin)
design, i.e. a balanced mixture and pure components. Then the proposer picks
``k`` per round with :func:`~flawn.propose.propose_mixtures`, while the grid
takes the next ``k`` of the same maximin order, so after the last round both
have spent ``rounds * k`` runs. After each round each method recommends one
evaluated mixture: the proposer its best *predicted*, the grid its best
*observed* (what a grid ablation reports); ``grid+gp`` recommends the best
predicted of a surrogate fitted to the grid's runs, separating what the
surrogate's smoothing gives from what adaptive design gives. Simple regret
is the true optimum minus the true score of the recommendation.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd
import scipy.optimize
import threadpoolctl

from flawn.propose.acquisition import incumbent
from flawn.propose.proposal import propose_mixtures
from flawn.propose.simplex import Constraints, Region, candidates, space_filling
from flawn.propose.surrogate import Surrogate

#: Surface families of :func:`random_surface`.
KINDS = ("quadratic", "log")


@dataclasses.dataclass(frozen=True, eq=False)
class Surface:
    """A known true score (points) as a function of mixture shares.

    Attributes:
        kind: ``"quadratic"`` or ``"log"``.
        dim: Number of components.
        center: Quadratic: the bowl's centre ``x*``; log: the weights ``a``.
        matrix: Quadratic: the curvature ``A``; log: ``diag(e)`` (the offsets).
        base: Added to the raw function.
        gain: Multiplies the raw function.
    """

    kind: str
    dim: int
    center: np.ndarray
    matrix: np.ndarray
    base: float = 0.0
    gain: float = 1.0

    def raw(self, shares: np.ndarray) -> np.ndarray:
        """The unscaled function."""
        x = np.atleast_2d(shares)
        if self.kind == "quadratic":
            diff = x - self.center
            return -np.einsum("ni,ij,nj->n", diff, self.matrix, diff)
        return np.log(x + np.diag(self.matrix)) @ self.center

    def __call__(self, shares: np.ndarray) -> np.ndarray:
        """True scores (points) of the rows of ``shares``."""
        return self.base + self.gain * self.raw(shares)

    @functools.cached_property
    def optimum(self) -> tuple[np.ndarray, float]:
        """The best mixture on the whole simplex and its score (dense search, then SLSQP)."""
        region = Constraints().resolve([f"c{i}" for i in range(self.dim)])
        pool = candidates(region, 20000, seed=0)
        start = pool[np.argmax(self(pool))]
        result = scipy.optimize.minimize(
            lambda x: -self(x)[0],
            start,
            method="SLSQP",
            bounds=[(0.0, 1.0)] * self.dim,
            constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1}],
        )
        best = region.project(result.x) if result.success else start
        if self(best)[0] < self(start)[0]:
            best = start
        return best, float(self(best)[0])


def random_surface(
    dim: int, rng: np.random.Generator, kind: str | None = None, spread: float | None = None
) -> Surface:
    """A random surface of one family, scaled to a realistic range.

    Args:
        dim: Number of components (2 or more).
        rng: Source of randomness.
        kind: ``"quadratic"`` or ``"log"`` (default: either, at random).
        spread: Best minus worst score over the simplex, in points (default:
            uniform in 3-8).

    Returns:
        The surface; its best score lies between 40 and 60 points.
    """
    kind = kind or str(rng.choice(KINDS))
    if kind not in KINDS:
        raise ValueError(f"unknown surface kind {kind!r}; use one of {list(KINDS)}")
    spread = float(rng.uniform(3, 8)) if spread is None else spread
    if kind == "quadratic":
        # Anywhere inside the simplex, sometimes close to a face.
        center = rng.dirichlet(np.full(dim, 1.5))
        rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        curvature = rotation @ np.diag(np.exp(rng.uniform(0, np.log(10), dim))) @ rotation.T
        surface = Surface(kind, dim, center, curvature)
    else:
        weights = rng.dirichlet(np.ones(dim))
        surface = Surface(kind, dim, weights, np.diag(rng.uniform(0.02, 0.3, dim)))
    region = Constraints().resolve([f"c{i}" for i in range(dim)])
    values = surface.raw(candidates(region, 5000, seed=1))
    _, top = surface.optimum
    low = min(float(values.min()), top)
    gain = spread / max(top - low, 1e-12)
    base = float(rng.uniform(40, 60)) - gain * top
    return Surface(kind, dim, surface.center, surface.matrix, base, gain)


@functools.cache
def legalbench_item_counts() -> np.ndarray:
    """Test items per LegalBench task, as in flawn's task table (rule_qa out)."""
    from flawn.analysis.synthetic import legalbench_tasks

    return np.array([task.n for task in legalbench_tasks()])


def binomial_se(scores: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
    """Standard error (points) of a mean of per-task accuracies at overall accuracy ``scores``.

    Args:
        scores: Overall scores, 0-100 points.
        items: Items per task (default: LegalBench's test sizes).

    Returns:
        ``100 * sqrt(sum_t p (1 - p) / n_t) / T`` with ``p = scores / 100``.
    """
    n = legalbench_item_counts() if items is None else np.asarray(items)
    p = np.clip(np.asarray(scores, dtype=float) / 100, 0.0, 1.0)
    return 100 * np.sqrt(p * (1 - p) * np.sum(1.0 / n)) / len(n)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One simulation's budget and noise.

    Attributes:
        rounds: Rounds of runs (round 1 is the shared initial design).
        k: Runs per round.
        seed_sd: Training-seed noise (points) the proposer is not told about.
        method: The proposer's batch method (``"ei"`` or ``"thompson"``).
    """

    rounds: int = 5
    k: int = 4
    seed_sd: float = 0.5
    method: str = "ei"


def _observe(surface: Surface, x: np.ndarray, seed_sd: float, rng) -> tuple[np.ndarray, ...]:
    """Noisy scores of mixtures ``x`` and the standard errors a run would report."""
    truth = surface(x)
    se = binomial_se(truth)
    noise = rng.normal(0, 1, len(x)) * np.sqrt(se**2 + seed_sd**2)
    return truth + noise, se


def simulate(surface: Surface, setting: Setting, seed: int) -> pd.DataFrame:
    """One replication: regret per round of the proposer, the grid and grid+gp.

    Args:
        surface: The true response.
        setting: Budget and noise.
        seed: Seed of the observation noise and the proposer.

    Returns:
        Rows ``method``, ``round`` (1-based), ``runs`` (spent so far),
        ``regret`` (points) and, for the proposer from round 2 on,
        ``coverage``: the share of that round's proposals whose true score
        lies in their 95% interval.
    """
    with threadpoolctl.threadpool_limits(1):  # tiny matrices: see propose_mixtures
        return _simulate(surface, setting, seed)


def _simulate(surface: Surface, setting: Setting, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    components = [f"c{i}" for i in range(surface.dim)]
    region: Region = Constraints().resolve(components)
    pool = candidates(region, 2000, seed=seed)
    order = space_filling(pool, setting.rounds * setting.k)
    design = pool[order]
    _, best = surface.optimum
    rows = []

    def regret(x: np.ndarray) -> float:
        return best - float(surface(x)[0])

    # The grid: the maximin order's prefixes, with their own noise draws.
    grid_y, grid_se = _observe(surface, design, setting.seed_sd, rng)
    # The proposer: round 1 shares the grid's first k runs (same observations).
    x, y, se = design[: setting.k], grid_y[: setting.k], grid_se[: setting.k]
    for r in range(1, setting.rounds + 1):
        covered = np.nan
        if r > 1:
            proposal = propose_mixtures(
                x, y, se, components, setting.k, seed=seed + r, method=setting.method
            )
            truth = surface(proposal.shares)
            covered = float(np.mean((proposal.lo <= truth) & (truth <= proposal.hi)))
            new_y, new_se = _observe(surface, proposal.shares, setting.seed_sd, rng)
            x, y, se = np.vstack([x, proposal.shares]), np.r_[y, new_y], np.r_[se, new_se]
        row, _ = incumbent(Surrogate.fit(x, y, se, seed=seed))
        rows.append(("proposer", r, len(x), regret(x[row]), covered))
        spent = r * setting.k
        rows.append(("grid", r, spent, regret(design[np.argmax(grid_y[:spent])]), np.nan))
        row, _ = incumbent(Surrogate.fit(design[:spent], grid_y[:spent], grid_se[:spent], seed))
        rows.append(("grid+gp", r, spent, regret(design[row]), np.nan))
    return pd.DataFrame(rows, columns=["method", "round", "runs", "regret", "coverage"])


def benchmark(
    replications: int,
    dims: tuple[int, ...] = (3, 4, 5),
    setting: Setting = Setting(),
    seed: int = 0,
) -> pd.DataFrame:
    """Regret per round over ``replications`` random surfaces (dims and kinds cycled).

    Args:
        replications: Surfaces simulated; replication ``i`` has ``dims[i %
            len(dims)]`` components and kind ``KINDS[(i // len(dims)) % 2]``.
        dims: Component counts to cycle through.
        setting: Budget and noise.
        seed: Base seed; replication ``i`` uses ``seed + i``.

    Returns:
        :func:`simulate`'s rows for all replications, with ``replication``,
        ``dim`` and ``kind`` columns.
    """
    frames = []
    for i in range(replications):
        rng = np.random.default_rng([seed, i])
        kind = KINDS[(i // len(dims)) % len(KINDS)]
        surface = random_surface(dims[i % len(dims)], rng, kind=kind)
        frame = simulate(surface, setting, seed=seed * 1000 + i)
        frames.append(frame.assign(replication=i, dim=surface.dim, kind=kind))
    return pd.concat(frames, ignore_index=True)


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error of regret per round and method (replications pooled).

    Returns:
        One row per round: ``runs`` and, per method, ``<method>`` (mean) and
        ``<method>_se``.
    """
    grouped = results.groupby(["round", "method"])["regret"]
    stats = grouped.agg(["mean", "std", "count"])
    stats["se"] = stats["std"] / np.sqrt(stats["count"])
    mean = stats["mean"].unstack("method")
    se = stats["se"].unstack("method").add_suffix("_se")
    runs = results.groupby("round")["runs"].max()
    return pd.concat([runs, mean, se], axis=1)
