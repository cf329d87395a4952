"""Uncertainty of task scores: paired bootstraps, seed resampling and paired tests.

The unit of analysis is a :class:`TaskMatrix`: one task's per-example values
(e.g. exact match) for several runs, with row ``i`` the same example in every
run. Bootstrapping resamples examples and applies the same draws to every run,
so differences between runs stay paired; :func:`combine_seeds` then resamples
the seeds of each condition on top, so an interval reflects both the examples
and the training seeds.

The bootstrap never gathers values per resample. It draws how often each
example is picked (a ``(B, n)`` count matrix) and takes ``counts @ values`` as
one BLAS product, which bootstraps a whole sweep (100 runs, 90,000 examples,
1,000 resamples) in seconds. This module imports neither TensorFlow nor JAX.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Sequence

import numpy as np
import scipy.stats
from statsmodels.stats.multitest import multipletests

#: Upper bound on the entries of one count matrix (resamples x examples): with
#: the int64 draws, the counts and their float copy this keeps a chunk near 100 MB.
_CHUNK_ELEMENTS = 1 << 22

#: Names accepted by :func:`adjust_p_values` and the statsmodels method behind each.
_ADJUSTMENTS = {"holm": "holm", "bh": "fdr_bh"}
#: How tables and plots name the adjustments of :func:`adjust_p_values`.
ADJUSTMENT_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg"}
#: How tables and plots name the tests of :func:`paired_test`, and when each is used.
TEST_NAMES = {
    "mcnemar_exact": ("McNemar's exact test", "on 0/1 items"),
    "wilcoxon": ("Wilcoxon signed-rank test", "on other values"),
}
#: Adjusted p-values below this make a difference "significant" in tables and plots.
SIGNIFICANCE_LEVEL = 0.05


@dataclasses.dataclass
class TaskMatrix:
    """One task's per-example values for several runs, aligned by example.

    Attributes:
        task: The task's name; it also seeds the task's bootstrap draws.
        values: float64, shape ``(n_examples, n_runs)``; row ``i`` is the same
            example in every run. NaNs are kept and propagate into the scores.
        strata: Integer codes, shape ``(n_examples,)``: the gold classes when
            the task score is the unweighted mean over classes of per-class
            means (LegalBench balanced accuracy is the mean of per-class recall,
            with exact match as the per-example value). None for a plain mean.
    """

    task: str
    values: np.ndarray
    strata: np.ndarray | None = None

    def __post_init__(self):
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] == 0:
            raise ValueError(
                f"task {self.task!r}: values must have shape (n_examples, n_runs) with both "
                f"at least 1, got shape {values.shape}"
            )
        self.values = values
        if self.strata is not None:
            strata = np.asarray(self.strata)
            if strata.shape != (values.shape[0],):
                raise ValueError(
                    f"task {self.task!r}: strata must have shape ({values.shape[0]},) to match "
                    f"the examples of values, got shape {strata.shape}"
                )
            if strata.dtype.kind not in "iub":
                raise ValueError(
                    f"task {self.task!r}: strata must be integer codes, got dtype {strata.dtype}"
                )
            self.strata = strata

    @property
    def n_examples(self) -> int:
        """Number of examples (rows of ``values``)."""
        return self.values.shape[0]

    @property
    def n_runs(self) -> int:
        """Number of runs (columns of ``values``)."""
        return self.values.shape[1]


def _layout(matrix: TaskMatrix) -> tuple[np.ndarray, np.ndarray]:
    """Values grouped by stratum, and the boundaries of the groups.

    Returns:
        ``(values, bounds)``: the rows of ``matrix.values`` reordered so that
        each stratum is contiguous, and ``bounds`` with stratum ``k`` in rows
        ``bounds[k]:bounds[k + 1]``. Without strata: one group of all rows.
    """
    if matrix.strata is None:
        return matrix.values, np.array([0, matrix.n_examples])
    # A stable sort keeps the examples of a stratum in their original order.
    order = np.argsort(matrix.strata, kind="stable")
    _, sizes = np.unique(matrix.strata, return_counts=True)
    return matrix.values[order], np.concatenate([[0], np.cumsum(sizes)])


def task_statistic(matrix: TaskMatrix) -> np.ndarray:
    """Point estimate per run: the task score the bootstrap resamples.

    Args:
        matrix: One task's values.

    Returns:
        Shape ``(n_runs,)``: the mean over examples, or with strata the
        unweighted mean over strata of the stratum means.
    """
    values, bounds = _layout(matrix)
    means = [values[lo:hi].mean(axis=0) for lo, hi in itertools.pairwise(bounds)]
    return np.mean(means, axis=0)


def _task_rng(task: str, seed: int) -> np.random.Generator:
    """A generator that depends only on the seed and the task's name.

    Keying the draws by name (not position) makes a task's bootstrap the same
    whichever other tasks are analysed with it and in whatever order.
    """
    digest = hashlib.sha256(task.encode("utf-8")).digest()
    words = np.frombuffer(digest, dtype=np.uint32).tolist()
    return np.random.default_rng(np.random.SeedSequence([seed, *words]))


def _bootstrap_task(matrix: TaskMatrix, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap one task: shape ``(n_resamples, n_runs)``."""
    values, bounds = _layout(matrix)
    n = matrix.n_examples
    out = np.empty((n_resamples, matrix.n_runs))
    chunk = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_resamples, chunk):
        rows = min(chunk, n_resamples - start)
        # Each stratum's examples are drawn among themselves, so class sizes
        # stay fixed and every resample is scored exactly like the original.
        draws = np.empty((rows, n), dtype=np.int64)
        for lo, hi in itertools.pairwise(bounds):
            draws[:, lo:hi] = rng.integers(lo, hi, size=(rows, hi - lo))
        draws += np.arange(rows, dtype=np.int64)[:, None] * n
        counts = np.bincount(draws.ravel(), minlength=rows * n).reshape(rows, n)
        counts = counts.astype(np.float64)
        # Per stratum: the sum over drawn examples, a BLAS product (exact for
        # 0/1 values since counts are integers), then the stratum's mean.
        total = np.zeros((rows, matrix.n_runs))
        for lo, hi in itertools.pairwise(bounds):
            total += (counts[:, lo:hi] @ values[lo:hi]) / (hi - lo)
        out[start : start + rows] = total / (len(bounds) - 1)
    return out


def bootstrap_task_statistics(
    matrices: Sequence[TaskMatrix], n_resamples: int = 1000, seed: int = 0
) -> np.ndarray:
    """Paired bootstrap of task scores over examples.

    Examples are resampled with replacement within each task (within each
    stratum when strata are given, so class sizes stay fixed and balanced
    accuracy is exactly the stratified mean), and the same draws are applied
    to every run, so differences between runs stay paired. A task's draws
    depend only on ``seed`` and its name, not on the other tasks.

    Args:
        matrices: One matrix per task, all with the same number of runs and
            distinct task names.
        n_resamples: Number of bootstrap resamples ``B``.
        seed: Seed of the draws.

    Returns:
        Shape ``(n_resamples, n_tasks, n_runs)``: the task score of every run
        in every resample.

    Raises:
        ValueError: On no matrices, differing numbers of runs, a repeated task
            name (its draws would repeat too) or ``n_resamples < 1``.
    """
    if not matrices:
        raise ValueError("no task matrices to bootstrap")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    runs = {m.task: m.n_runs for m in matrices}
    if len(set(runs.values())) > 1:
        raise ValueError(f"all tasks must have the same runs; runs per task: {runs}")
    names = [m.task for m in matrices]
    if len(set(names)) < len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"task names must be distinct; repeated: {repeated}")
    out = np.empty((n_resamples, len(matrices), matrices[0].n_runs))
    for t, matrix in enumerate(matrices):
        out[:, t] = _bootstrap_task(matrix, n_resamples, _task_rng(matrix.task, seed))
    return out


def combine_seeds(
    samples: np.ndarray, groups: Sequence[Sequence[int]], seed: int = 0
) -> np.ndarray:
    """Two-level bootstrap: resample the seeds of each condition on top of examples.

    For each resample ``b`` and each group, ``len(group)`` of its runs are
    drawn with replacement and their ``samples[b, run]`` averaged, so seed
    and example uncertainty are combined. A group of one run is that run's
    column unchanged.

    Args:
        samples: Shape ``(B, n_runs)``: bootstrapped aggregate scores of each
            run (examples resampled with the same draws for every run).
        groups: Run indices (columns of ``samples``) of each condition.
        seed: Seed of the seed draws.

    Returns:
        Shape ``(B, n_groups)``.

    Raises:
        ValueError: On a 1-D ``samples``, an empty group or an index out of range.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2:
        raise ValueError(f"samples must have shape (B, n_runs), got shape {samples.shape}")
    n_resamples, n_runs = samples.shape
    # One child generator per group: a group's draws do not depend on the others.
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(groups))]
    out = np.empty((n_resamples, len(groups)))
    for g, (group, rng) in enumerate(zip(groups, rngs, strict=True)):
        members = np.asarray(group, dtype=np.int64)
        if members.ndim != 1 or members.size == 0:
            raise ValueError(f"group {g} must be a non-empty list of run indices, got {group!r}")
        if members.min() < 0 or members.max() >= n_runs:
            raise ValueError(f"group {g} has run indices {group!r} outside 0..{n_runs - 1}")
        if members.size == 1:
            out[:, g] = samples[:, members[0]]
            continue
        picked = members[rng.integers(0, members.size, size=(n_resamples, members.size))]
        out[:, g] = np.take_along_axis(samples, picked, axis=1).mean(axis=1)
    return out


def percentile_interval(
    samples: np.ndarray, level: float = 0.95, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval.

    Args:
        samples: Bootstrap samples.
        level: Coverage, strictly between 0 and 1.
        axis: The axis of the resamples.

    Returns:
        ``(lo, hi)``, the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles
        along ``axis``.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be strictly between 0 and 1, got {level}")
    tail = (1 - level) / 2
    lo, hi = np.quantile(np.asarray(samples, dtype=np.float64), [tail, 1 - tail], axis=axis)
    return lo, hi


def zero_width(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Which intervals are degenerate: zero width (NaN intervals are not).

    A percentile bootstrap interval has zero width when (nearly) every
    resample gives the same value, e.g. when, within every stratum, each
    example's value (or, for a difference, each paired difference) is the
    same: a class all right or all wrong in every run. It shows that
    resampling could not vary the score, not that the score is certain.

    Args:
        lo: Lower ends.
        hi: Upper ends, the same shape.

    Returns:
        Booleans of that shape.
    """
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    return np.isclose(lo, hi, rtol=0.0, atol=1e-12) & ~np.isnan(lo) & ~np.isnan(hi)


@dataclasses.dataclass(frozen=True)
class McNemarResult:
    """Outcome of an exact McNemar test.

    Attributes:
        baseline_only: Items the baseline got right and the condition wrong (b).
        condition_only: Items the condition got right and the baseline wrong (c).
        p_value: Two-sided exact binomial p-value of b out of b + c at 0.5.
    """

    baseline_only: int
    condition_only: int
    p_value: float


def _check_pair(baseline: np.ndarray, condition: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    baseline = np.asarray(baseline, dtype=np.float64)
    condition = np.asarray(condition, dtype=np.float64)
    if baseline.shape != condition.shape or baseline.ndim not in (1, 2):
        raise ValueError(
            "baseline and condition must have the same shape, (n,) or (n, k), got "
            f"{baseline.shape} and {condition.shape}"
        )
    return baseline, condition


def _is_binary(values: np.ndarray) -> bool:
    return bool(np.all((values == 0) | (values == 1)))


def mcnemar_exact(baseline: np.ndarray, condition: np.ndarray) -> McNemarResult:
    """Exact McNemar test on paired binary items.

    With ``(n, k)`` arrays, the ``k`` columns are seed-matched pairs (baseline
    seed ``j`` against condition seed ``j``): the discordant counts are summed
    over columns. Under H0 every discordant pair is still a fair coin, so the
    pooled test stays an exact binomial test.

    Args:
        baseline: 0/1 values, shape ``(n,)`` or ``(n, k)``.
        condition: 0/1 values of the same shape.

    Returns:
        The discordant counts and the p-value (1 when there are none).

    Raises:
        ValueError: On different shapes or a value other than 0 and 1.
    """
    baseline, condition = _check_pair(baseline, condition)
    for name, values in (("baseline", baseline), ("condition", condition)):
        bad = values[~((values == 0) | (values == 1))]
        if bad.size:
            raise ValueError(f"{name} must hold only 0 and 1, found {bad[0]:g}")
    b = int(np.sum((baseline == 1) & (condition == 0)))
    c = int(np.sum((baseline == 0) & (condition == 1)))
    p = 1.0 if b + c == 0 else float(scipy.stats.binomtest(b, b + c, 0.5).pvalue)
    return McNemarResult(baseline_only=b, condition_only=c, p_value=p)


def paired_test(baseline: np.ndarray, condition: np.ndarray) -> tuple[str, float]:
    """A paired test of a condition against the baseline on the same items.

    Args:
        baseline: Per-item values, shape ``(n,)`` or ``(n, k)`` (seed-matched
            columns, paired column by column).
        condition: Values of the same shape.

    Returns:
        ``("mcnemar_exact", p)`` when all values are 0/1, else
        ``("wilcoxon", p)``: the Wilcoxon signed-rank test of the paired
        differences with zero differences dropped (``zero_method="wilcox"``),
        and p = 1 when every difference is zero.

    Raises:
        ValueError: On different shapes or NaN values.
    """
    baseline, condition = _check_pair(baseline, condition)
    if np.isnan(baseline).any() or np.isnan(condition).any():
        raise ValueError("paired_test got NaN values; drop the unscored items first")
    if _is_binary(baseline) and _is_binary(condition):
        return "mcnemar_exact", mcnemar_exact(baseline, condition).p_value
    differences = (condition - baseline).ravel()
    if not np.any(differences):
        return "wilcoxon", 1.0
    return "wilcoxon", float(scipy.stats.wilcoxon(differences, zero_method="wilcox").pvalue)


def adjust_p_values(p_values: Sequence[float], method: str) -> np.ndarray:
    """Multiplicity-adjusted p-values.

    Args:
        p_values: One p-value per comparison; NaNs are left NaN and are not
            counted in the family.
        method: ``"holm"`` (family-wise error) or ``"bh"`` (Benjamini-Hochberg
            false discovery rate).

    Returns:
        The adjusted p-values, in the input's order.

    Raises:
        ValueError: On an unknown method.
    """
    if method not in _ADJUSTMENTS:
        raise ValueError(f"unknown adjustment {method!r}; known: {sorted(_ADJUSTMENTS)}")
    p = np.asarray(p_values, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        out[tested] = multipletests(p[tested], method=_ADJUSTMENTS[method])[1]
    return out


def significance_rule(
    tests: Sequence[str] = (), method: str = "holm", alpha: float = SIGNIFICANCE_LEVEL
) -> str:
    """What "significant" means in a table or plot: the test and the correction.

    Args:
        tests: The tests used (names :func:`paired_test` returns), e.g. a
            column of per-task results; repeats are fine.
        method: The adjustment (see :func:`adjust_p_values`).
        alpha: The significance level.

    Returns:
        E.g. ``significant = Holm-adjusted p < 0.05 (McNemar's exact test per
        task, Holm correction across the tasks of each condition)``.
    """
    if method not in ADJUSTMENT_NAMES:
        raise ValueError(f"unknown adjustment {method!r}; known: {sorted(ADJUSTMENT_NAMES)}")
    used = [t for t in dict.fromkeys(tests) if isinstance(t, str) and t]
    unknown = sorted(set(used) - set(TEST_NAMES))
    if unknown:
        raise ValueError(f"unknown test(s) {unknown}; known: {sorted(TEST_NAMES)}")
    if len(used) > 1:
        named = ", ".join(f"{TEST_NAMES[t][0]} {TEST_NAMES[t][1]}" for t in TEST_NAMES if t in used)
    elif used:
        named = TEST_NAMES[used[0]][0]
    else:
        named = "a paired test"
    correction = ADJUSTMENT_NAMES[method]
    return (
        f"significant = {correction}-adjusted p < {alpha:g} ({named} per task, "
        f"{correction} correction across the tasks of each condition)"
    )
