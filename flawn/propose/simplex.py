"""The feasible mixtures of a proposal: named shares on the simplex under constraints.

A mixture is a vector of shares, one per named component, that sums to 1. The
sum is fixed because a proposal keeps the compute fixed: every proposed run
trains on the same number of examples as the runs it learns from, and a
proposal only redistributes them between components. Constraints narrow the
simplex to a polytope:

* per-component lower and upper bounds (``lower={"legal": 0.1}``);
* group minima, e.g. the general components together at least 0.2 (a
  "minimum general share" that keeps general instruction following);
* components forced to zero, e.g. sources a licence view excludes.

:meth:`Constraints.resolve` checks them against the component names and
returns a :class:`Region`, which says why when nothing is feasible and makes
candidate mixtures (:func:`candidates`) and space-filling designs
(:func:`space_filling`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.optimize

#: Vertices per region (bounds and group rows as bytes): LPs are the slow part of candidates.
_VERTICES: dict[bytes, np.ndarray] = {}
#: Slack when checking that shares respect bounds and sum to 1.
TOLERANCE = 1e-9


@dataclasses.dataclass(frozen=True)
class GroupMinimum:
    """Components whose shares together must reach a minimum.

    Attributes:
        components: Names of the group's components.
        minimum: Their smallest total share, in ``[0, 1]``.
        name: How errors name the group (defaults to its members).
    """

    components: tuple[str, ...]
    minimum: float
    name: str = ""

    def __post_init__(self):
        object.__setattr__(self, "components", tuple(self.components))
        if not self.components:
            raise ValueError(f"group minimum {self.label}: name at least one component")
        if len(set(self.components)) != len(self.components):
            raise ValueError(f"group minimum {self.label}: a component is listed twice")
        if not 0.0 <= self.minimum <= 1.0:
            raise ValueError(
                f"group minimum {self.label}: minimum must be in [0, 1], got {self.minimum}"
            )

    @property
    def label(self) -> str:
        """The group's name, or its members joined by ``+``."""
        return self.name or "+".join(self.components)


@dataclasses.dataclass(frozen=True)
class Constraints:
    """Which mixtures a proposal may return (all of them sum to 1: fixed compute).

    Components not named keep the default bounds ``[0, 1]``.

    Attributes:
        lower: Smallest share per component name.
        upper: Largest share per component name.
        groups: Group minima (:class:`GroupMinimum`).
        excluded: Components forced to share 0 (e.g. excluded by a licence view).
    """

    lower: Mapping[str, float] = dataclasses.field(default_factory=dict)
    upper: Mapping[str, float] = dataclasses.field(default_factory=dict)
    groups: Sequence[GroupMinimum] = ()
    excluded: Sequence[str] = ()

    def resolve(self, components: Sequence[str]) -> Region:
        """The feasible region for these components, checked.

        Args:
            components: Component names, in the order of the share columns.

        Returns:
            The region (bounds and group rows as arrays).

        Raises:
            ValueError: Naming the component or group at fault: an unknown or
                repeated name, a bound outside ``[0, 1]``, a lower bound above
                an upper one, an excluded component with a positive lower
                bound, or constraints no mixture summing to 1 can meet.
        """
        components = tuple(components)
        if not components:
            raise ValueError("no components: a mixture needs at least one")
        repeated = sorted({c for c in components if components.count(c) > 1})
        if repeated:
            raise ValueError(f"components listed twice: {repeated}")
        index = {c: i for i, c in enumerate(components)}

        def position(name: str, where: str) -> int:
            if name not in index:
                raise ValueError(
                    f"{where} names unknown component {name!r}; components are {list(components)}"
                )
            return index[name]

        lo, hi = np.zeros(len(components)), np.ones(len(components))
        for where, values, target in (("lower", self.lower, lo), ("upper", self.upper, hi)):
            for name, value in values.items():
                value = float(value)
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{where} bound of {name!r} must be in [0, 1], got {value}")
                target[position(name, f"{where} bound")] = value
        for name in self.excluded:
            i = position(name, "excluded")
            if lo[i] > 0:
                raise ValueError(
                    f"component {name!r} is excluded (share 0) but has lower bound "
                    f"{lo[i]}; drop one of the two"
                )
            hi[i] = 0.0
        for name, low, high in zip(components, lo, hi, strict=True):
            if low > high:
                raise ValueError(
                    f"component {name!r}: lower bound {low} is above upper bound {high}"
                )
        if lo.sum() > 1 + TOLERANCE:
            raise ValueError(
                f"lower bounds sum to {lo.sum():.4g} > 1, but shares sum to 1 "
                "(fixed compute); lower some of them"
            )
        if hi.sum() < 1 - TOLERANCE:
            raise ValueError(
                f"upper bounds (0 for excluded components) sum to {hi.sum():.4g} "
                "< 1, but shares sum to 1 (fixed compute); raise some of them"
            )
        rows, minima, labels = [], [], []
        for group in self.groups:
            row = np.zeros(len(components))
            for name in group.components:
                row[position(name, f"group minimum {group.label}")] = 1.0
            if row @ hi < group.minimum - TOLERANCE:
                raise ValueError(
                    f"group minimum {group.label} needs >= {group.minimum} but its "
                    f"members' upper bounds allow at most {row @ hi:.4g}"
                )
            outside = (1 - row) @ lo
            if group.minimum + outside > 1 + TOLERANCE:
                raise ValueError(
                    f"group minimum {group.label} needs >= {group.minimum} but the "
                    f"other components' lower bounds already take {outside:.4g}"
                )
            rows.append(row)
            minima.append(group.minimum)
            labels.append(group.label)
        region = Region(
            components,
            lo,
            hi,
            np.array(rows).reshape(-1, len(components)),
            np.array(minima),
            tuple(labels),
        )
        if region.vertex(np.zeros(len(components))) is None:
            # Each constraint alone is satisfiable; overlapping groups together are not.
            raise ValueError(
                f"group minima {list(labels)} cannot all hold together with the "
                "bounds and shares summing to 1; lower some of them"
            )
        return region


@dataclasses.dataclass(frozen=True, eq=False)
class Region:
    """A checked feasible region: ``lo <= x <= hi``, ``groups @ x >= minima``, ``sum(x) = 1``.

    Made by :meth:`Constraints.resolve`.

    Attributes:
        components: Component names, in column order.
        lo: Lower bound per component.
        hi: Upper bound per component.
        groups: One 0/1 row per group minimum.
        minima: Each group's minimum.
        labels: Each group's name.
    """

    components: tuple[str, ...]
    lo: np.ndarray
    hi: np.ndarray
    groups: np.ndarray
    minima: np.ndarray
    labels: tuple[str, ...] = ()

    @property
    def dim(self) -> int:
        """Number of components."""
        return len(self.components)

    def contains(self, shares: np.ndarray, tolerance: float = 1e-7) -> np.ndarray:
        """Whether each row of ``shares`` (n, d) is feasible, within ``tolerance``."""
        x = np.atleast_2d(shares)
        ok = np.abs(x.sum(axis=1) - 1) <= tolerance
        ok &= np.all(x >= self.lo - tolerance, axis=1) & np.all(x <= self.hi + tolerance, axis=1)
        if len(self.minima):
            ok &= np.all(x @ self.groups.T >= self.minima - tolerance, axis=1)
        return ok

    def violations(self, shares: np.ndarray) -> list[str]:
        """What one mixture violates, as sentences naming the component or group."""
        x = np.asarray(shares, dtype=float)
        out = []
        if abs(x.sum() - 1) > 1e-7:
            out.append(f"shares sum to {x.sum():.6g}, not 1")
        for name, value, low, high in zip(self.components, x, self.lo, self.hi, strict=True):
            if value < low - 1e-7 or value > high + 1e-7:
                out.append(f"{name} = {value:.4g} outside [{low:.4g}, {high:.4g}]")
        for row, minimum, label in zip(self.groups, self.minima, self.labels, strict=True):
            if row @ x < minimum - 1e-7:
                out.append(f"group {label} = {row @ x:.4g} < {minimum:.4g}")
        return out

    def vertex(self, direction: np.ndarray) -> np.ndarray | None:
        """The feasible mixture maximising ``direction @ x`` (a vertex), or None if infeasible."""
        result = scipy.optimize.linprog(
            -np.asarray(direction, dtype=float),
            A_ub=-self.groups if len(self.minima) else None,
            b_ub=-self.minima if len(self.minima) else None,
            A_eq=np.ones((1, self.dim)),
            b_eq=[1.0],
            bounds=list(zip(self.lo, self.hi, strict=True)),
            method="highs",
        )
        if result.status != 0:
            return None
        return self.project(result.x)

    def project(self, shares: np.ndarray) -> np.ndarray:
        """Clips LP round-off: bounds applied, rows renormalised to sum to 1."""
        x = np.clip(np.asarray(shares, dtype=float), self.lo, self.hi)
        return x / x.sum(axis=-1, keepdims=True)

    def vertices(self) -> np.ndarray:
        """Vertices of the region, found by linear programs in many directions.

        Directions: each component up and down, each pair traded against each
        other, and ``4 d`` random ones (fixed seed); for the few components
        of a mixture this finds every vertex in practice. Cached per region
        (a proposal loop asks for the same region every round).
        """
        key = b"".join(a.tobytes() for a in (self.lo, self.hi, self.groups, self.minima))
        if key not in _VERTICES:
            eye = np.eye(self.dim)
            directions = [*eye, *-eye]
            pairs = itertools.permutations(range(self.dim), 2)
            directions += [eye[i] - eye[j] for i, j in pairs]
            directions += list(np.random.default_rng(0).normal(size=(4 * self.dim, self.dim)))
            found = [v for v in (self.vertex(d) for d in directions) if v is not None]
            _VERTICES[key] = _unique_rows(np.array(found))
        return _VERTICES[key].copy()


def candidates(region: Region, n: int = 2000, seed: int = 0) -> np.ndarray:
    """Feasible mixtures to score an acquisition on.

    The region's vertices and the midpoints between pairs of them (pure and
    half-half mixtures, where optima of mixture ablations often sit), then
    Dirichlet(1) draws over the free mass above the lower bounds, kept if
    they meet the upper bounds and group minima; when constraints reject most
    draws, random convex combinations of the vertices (feasible by
    convexity) fill the rest. Deterministic given ``seed``.

    Args:
        region: The feasible region.
        n: How many random mixtures to add to the vertices and midpoints.
        seed: Seed of the draws.

    Returns:
        ``(m, d)`` distinct feasible mixtures.
    """
    rng = np.random.default_rng(seed)
    vertices = region.vertices()
    pairs = list(itertools.combinations(range(len(vertices)), 2))
    if len(pairs) > n:
        pairs = [pairs[i] for i in rng.choice(len(pairs), n, replace=False)]
    midpoints = np.array([(vertices[i] + vertices[j]) / 2 for i, j in pairs])
    parts = [vertices, midpoints.reshape(-1, region.dim), vertices.mean(axis=0, keepdims=True)]
    free = region.hi > region.lo
    mass = 1.0 - region.lo.sum()
    drawn = np.empty((0, region.dim))
    if free.any() and mass > TOLERANCE:
        for _ in range(5):
            u = np.zeros((4 * n, region.dim))
            u[:, free] = rng.dirichlet(np.ones(free.sum()), size=4 * n)
            x = region.lo + mass * u
            drawn = np.vstack([drawn, x[region.contains(x)]])
            if len(drawn) >= n:
                break
    drawn = drawn[:n]
    if len(drawn) < n:
        weights = rng.dirichlet(np.ones(len(vertices)), size=n - len(drawn))
        drawn = np.vstack([drawn, weights @ vertices])
    parts.append(drawn)
    return _unique_rows(region.project(np.vstack(parts)))


def space_filling(points: np.ndarray, n: int, start: np.ndarray | None = None) -> np.ndarray:
    """Indices of ``n`` rows of ``points`` chosen farthest-first (a maximin design).

    Each pick is the point farthest (Euclidean, in shares) from those picked
    so far, so any prefix of the order is itself spread out: the order of a
    grid ablation that runs ``k`` mixtures per round.

    Args:
        points: ``(m, d)`` candidate mixtures.
        n: How many to pick (at most ``m``).
        start: The first pick is the point nearest this mixture (default: the
            candidates' mean, i.e. a balanced mixture).

    Returns:
        ``n`` row indices, in pick order.
    """
    if not 1 <= n <= len(points):
        raise ValueError(f"space_filling: n must be in [1, {len(points)}], got {n}")
    start = points.mean(axis=0) if start is None else np.asarray(start, dtype=float)
    order = [int(np.argmin(np.linalg.norm(points - start, axis=1)))]
    nearest = np.linalg.norm(points - points[order[0]], axis=1)
    while len(order) < n:
        pick = int(np.argmax(nearest))
        order.append(pick)
        nearest = np.minimum(nearest, np.linalg.norm(points - points[pick], axis=1))
    return np.array(order)


def _unique_rows(x: np.ndarray, decimals: int = 9) -> np.ndarray:
    # Rounded copies decide equality, the original rows are kept, first occurrence order.
    _, first = np.unique(np.round(x, decimals), axis=0, return_index=True)
    return x[np.sort(first)]
