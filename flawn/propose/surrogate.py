"""A Gaussian-process surrogate of benchmark score as a function of mixture shares.

Why a Gaussian process, and not RegMix's ensemble of gradient-boosted trees
fitted to bootstrap resamples: RegMix fits thousands of tiny proxy runs, and a
flawn sweep has tens of real ones. With tens of points a GP is the standard
choice: the response to shares is smooth (moving a few percent of examples
moves the score a little), which a smooth kernel encodes and a tree ensemble
does not (trees are piecewise constant, so the optimum sits on a split and
nearby mixtures tie); each run's measurement noise is known from its
bootstrap interval and enters a GP directly as per-observation noise; and
proposals need a calibrated posterior (expected improvement, intervals)
that widens away from the data, whereas the spread of a bootstrap tree
ensemble collapses there (every tree extrapolates the same constant).

Geometry: shares live on the simplex and may be exactly 0 (a general-only
baseline has legal share 0), so log-ratio transforms are out. The kernel acts
on the Hellinger embedding ``x -> sqrt(x)``: Euclidean distance there is
``sqrt(2)`` times the Hellinger distance between the mixtures, so a Matérn
kernel on it is a valid kernel on the simplex, and moving 1% of the examples
into a component it lacked counts for more than moving 1% between two large
components.

Model: ``score = m + f(sqrt(x)) + e``, with ``f ~ GP(0, c * Matern52(l))``,
``e`` the run's known measurement noise (its standard error squared, as
``alpha``) plus a fitted white-noise term for what the standard errors miss
(training-seed variation, misfit). Scores are centred and scaled before
fitting. :meth:`Surrogate.predict` returns the latent ``m + f``: the *true*
score of a mixture, without a new run's noise.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

#: Prior sd of the true score (points) when too few runs to fit one: mixture
#: ablations in legal instruction tuning move LegalBench scores by a few points.
PRIOR_SD = 2.0
#: Fewer distinct mixtures than this: hyperparameters stay at their prior values
#: (a marginal likelihood over two or three points cannot pick a length scale).
MIN_FIT = 5
#: Prior length scale in the Hellinger embedding (the embedded simplex has diameter sqrt(2)).
PRIOR_LENGTH_SCALE = 0.5
#: Smallest per-run variance (normalised units), so exact scores cannot make the system singular.
_JITTER = 1e-8


def embed(shares: np.ndarray) -> np.ndarray:
    """The Hellinger embedding ``sqrt(x)`` of mixtures (rows of shares)."""
    return np.sqrt(np.clip(np.asarray(shares, dtype=float), 0.0, None))


def hellinger(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hellinger distances (in ``[0, 1]``) between rows of ``a`` (n, d) and ``b`` (m, d)."""
    ea, eb = embed(np.atleast_2d(a)), embed(np.atleast_2d(b))
    # |u - v|^2 = |u|^2 + |v|^2 - 2 u.v, without an (n, m, d) difference array.
    squared = (ea**2).sum(1)[:, None] + (eb**2).sum(1)[None, :] - 2 * ea @ eb.T
    return np.sqrt(np.clip(squared, 0.0, None) / 2)


@dataclasses.dataclass(frozen=True, eq=False)
class Surrogate:
    """A fitted GP on mixture shares; make one with :meth:`fit`.

    Attributes:
        shares: ``(n, d)`` observed mixtures (duplicates allowed: seeds).
        scores: ``(n,)`` observed scores (points, 0-100).
        noise_var: ``(n,)`` each observation's known variance (points squared).
        gp: The fitted scikit-learn regressor (on normalised scores).
        offset: Mean subtracted from the scores.
        scale: Divisor of the centred scores.
        fitted: Whether hyperparameters were fitted (else prior values).
    """

    shares: np.ndarray
    scores: np.ndarray
    noise_var: np.ndarray
    gp: GaussianProcessRegressor
    offset: float
    scale: float
    fitted: bool

    @classmethod
    def fit(
        cls,
        shares: np.ndarray,
        scores: np.ndarray,
        score_se: np.ndarray,
        seed: int = 0,
    ) -> Surrogate:
        """Fits the GP to observed runs.

        With fewer than :data:`MIN_FIT` distinct mixtures the hyperparameters
        are not fitted: amplitude the scores' spread (at least
        :data:`PRIOR_SD` points) and length scale :data:`PRIOR_LENGTH_SCALE`,
        so the posterior is mostly prior and its intervals are honestly wide.

        Args:
            shares: ``(n, d)`` mixtures, rows summing to 1.
            scores: ``(n,)`` scores.
            score_se: ``(n,)`` standard errors of the scores (e.g. a 95%
                interval's width / (2 * 1.96)); 0 is allowed.
            seed: Seed of the optimiser restarts.

        Returns:
            The fitted surrogate.
        """
        x = np.asarray(shares, dtype=float)
        y = np.asarray(scores, dtype=float)
        se = np.asarray(score_se, dtype=float)
        offset = float(y.mean())
        # Scale: the scores' spread, but never below their noise or PRIOR_SD, so
        # that two runs with close scores do not claim a flat, certain surface.
        noise_rms = float(np.sqrt(np.mean(se**2)))
        scale = max(float(y.std()), noise_rms, PRIOR_SD)
        distinct = len(np.unique(np.round(x, 9), axis=0))
        fitted = distinct >= MIN_FIT
        kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
            PRIOR_LENGTH_SCALE, (0.05, 10.0), nu=2.5
        ) + WhiteKernel(1e-2, (1e-6, 10.0))
        gp = GaussianProcessRegressor(
            kernel=kernel,
            alpha=np.maximum(se**2 / scale**2, _JITTER),
            normalize_y=False,  # done above: alpha must be in the same units as y
            optimizer="fmin_l_bfgs_b" if fitted else None,
            n_restarts_optimizer=2 if fitted else 0,
            random_state=seed,
        )
        with warnings.catch_warnings():
            # A noise level at its bound is expected (the known run noise may
            # explain all of it), not a problem to report.
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(embed(x), (y - offset) / scale)
        return cls(x, y, se**2, gp, offset, scale, fitted)

    @property
    def white_var(self) -> float:
        """The fitted extra noise variance (normalised units); not part of the true score."""
        return float(self.gp.kernel_.k2.noise_level)

    def predict(self, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and sd of the true score (latent, no run noise) per mixture.

        Args:
            shares: ``(m, d)`` mixtures.

        Returns:
            ``(mean, sd)``, each ``(m,)``, in score points.
        """
        mean, sd = self.gp.predict(embed(shares), return_std=True)
        # sklearn's predictive variance includes the white-noise term; the true
        # score's does not.
        var = np.clip(sd**2 - self.white_var, 0.0, None)
        return self.offset + self.scale * mean, self.scale * np.sqrt(var)

    def sample(self, shares: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """Joint posterior draws of the true score over ``shares``: ``(n, m)`` points."""
        mean, cov = self.gp.predict(embed(shares), return_cov=True)
        cov[np.diag_indices_from(cov)] -= self.white_var
        # A Cholesky factor with a little jitter: ~10x faster than the eigh of
        # multivariate_normal on thousands of candidates, and exact enough.
        jitter = 1e-10
        while True:
            try:
                factor = np.linalg.cholesky(cov + jitter * np.eye(len(cov)))
                break
            except np.linalg.LinAlgError:
                jitter *= 10
        draws = mean + rng.standard_normal((n, len(mean))) @ factor.T
        return self.offset + self.scale * draws

    def believe(self, shares: np.ndarray) -> Surrogate:
        """This surrogate with runs at ``shares`` assumed to score their predicted mean.

        The kriging believer of batch selection: the kernel stays as fitted
        and the believed runs are as noisy as a typical real one, so the
        mean is unchanged and only the uncertainty near them shrinks.
        """
        x = np.atleast_2d(shares)
        mean, _ = self.predict(x)
        se = np.sqrt(np.concatenate([self.noise_var, np.full(len(x), np.median(self.noise_var))]))
        # Refit in this surrogate's units: the fixed kernel's amplitude is in them.
        return self._refit_same_units(
            np.vstack([self.shares, x]), np.concatenate([self.scores, mean]), se
        )

    def _refit_same_units(self, x: np.ndarray, y: np.ndarray, se: np.ndarray) -> Surrogate:
        gp = GaussianProcessRegressor(
            kernel=self.gp.kernel_,
            alpha=np.maximum(se**2 / self.scale**2, _JITTER),
            normalize_y=False,
            optimizer=None,
        )
        gp.fit(embed(x), (y - self.offset) / self.scale)
        return Surrogate(x, y, se**2, gp, self.offset, self.scale, self.fitted)

    def describe(self) -> str:
        """The kernel as text, in score points, and whether it was fitted."""
        k = self.gp.kernel_
        amplitude = self.scale * np.sqrt(k.k1.k1.constant_value)
        how = "fitted" if self.fitted else f"prior: fewer than {MIN_FIT} distinct mixtures"
        return (
            f"{amplitude:.3g}**2 * Matern(length_scale={k.k1.k2.length_scale:.3g}, nu=2.5) "
            f"on sqrt(shares) + White(sd={self.scale * np.sqrt(self.white_var):.3g}) "
            f"+ known run noise; scores in points, mean {self.offset:.4g} ({how})"
        )
