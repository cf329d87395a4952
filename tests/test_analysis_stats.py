import subprocess
import sys

import numpy as np
import pytest
import scipy.stats
from sklearn.metrics import balanced_accuracy_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from flawn.analysis import stats
from flawn.analysis.stats import (
    McNemarResult,
    TaskMatrix,
    adjust_p_values,
    bootstrap_task_statistics,
    combine_seeds,
    mcnemar_exact,
    paired_test,
    percentile_interval,
    task_statistic,
)


@pytest.mark.slow
def test_module_imports_neither_tensorflow_nor_jax():
    code = (
        "import sys, flawn.analysis.stats; "
        "print(sorted(m for m in ('tensorflow', 'jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- TaskMatrix and task_statistic -------------------------------------------------


def test_task_matrix_validates_shapes_naming_the_task():
    with pytest.raises(ValueError, match=r"'contract_nli'.*shape"):
        TaskMatrix("contract_nli", np.zeros(5))
    with pytest.raises(ValueError, match=r"'contract_nli'.*strata"):
        TaskMatrix("contract_nli", np.zeros((5, 2)), strata=np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match=r"'contract_nli'.*integer"):
        TaskMatrix("contract_nli", np.zeros((5, 2)), strata=np.linspace(0, 1, 5))
    matrix = TaskMatrix("t", [[1, 0], [0, 1], [1, 1]])
    assert matrix.values.dtype == np.float64
    assert (matrix.n_examples, matrix.n_runs) == (3, 2)


def test_task_statistic_plain_mean():
    values = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.5, 1.0]])
    np.testing.assert_allclose(task_statistic(TaskMatrix("t", values)), [0.625, 0.5])


def test_stratified_task_statistic_is_balanced_accuracy():
    golds = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 1, 0, 0])
    predictions = [
        np.array([0, 0, 1, 0, 2, 0, 1, 0, 2, 2, 0, 1, 0, 0]),
        np.array([1, 1, 1, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 2]),
        np.zeros_like(golds),  # always the majority class
    ]
    values = np.stack([(p == golds).astype(float) for p in predictions], axis=1)
    got = task_statistic(TaskMatrix("t", values, strata=golds))
    expected = [balanced_accuracy_score(golds, p) for p in predictions]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert got[2] == pytest.approx(1 / 3)
    # The plain mean differs: this is accuracy, which the majority class inflates.
    assert task_statistic(TaskMatrix("t", values))[2] == pytest.approx(8 / 14)


# --- bootstrap_task_statistics ------------------------------------------------------


def _binary(rng, n, p):
    return (rng.random(n) < p).astype(float)


def test_bootstrap_shape_determinism_and_identical_runs():
    rng = np.random.default_rng(0)
    column = _binary(rng, 60, 0.4)
    other = _binary(rng, 60, 0.7)
    matrices = [
        TaskMatrix("a", np.stack([column, column, other], axis=1)),
        TaskMatrix("b", rng.random((25, 3)), strata=rng.integers(0, 3, 25)),
    ]
    samples = bootstrap_task_statistics(matrices, n_resamples=200, seed=3)
    assert samples.shape == (200, 2, 3)
    # Same draws for every run: identical columns give identical samples.
    np.testing.assert_array_equal(samples[:, 0, 0], samples[:, 0, 1])
    assert np.std(samples[:, 0, 0]) > 0
    assert not np.array_equal(samples[:, 0, 0], samples[:, 0, 2])
    np.testing.assert_array_equal(samples, bootstrap_task_statistics(matrices, 200, seed=3))
    assert not np.array_equal(samples, bootstrap_task_statistics(matrices, 200, seed=4))


def test_bootstrap_draws_do_not_depend_on_other_tasks_or_order():
    rng = np.random.default_rng(1)
    a = TaskMatrix("a", rng.random((40, 2)))
    b = TaskMatrix("b", rng.random((30, 2)), strata=rng.integers(0, 2, 30))
    both = bootstrap_task_statistics([a, b], 100, seed=0)
    swapped = bootstrap_task_statistics([b, a], 100, seed=0)
    alone = bootstrap_task_statistics([a], 100, seed=0)
    np.testing.assert_array_equal(both[:, 0], swapped[:, 1])
    np.testing.assert_array_equal(both[:, 1], swapped[:, 0])
    np.testing.assert_array_equal(both[:, 0], alone[:, 0])


def test_bootstrap_refuses_bad_inputs():
    a = TaskMatrix("a", np.zeros((4, 2)))
    with pytest.raises(ValueError, match="no task"):
        bootstrap_task_statistics([])
    with pytest.raises(ValueError, match="same runs"):
        bootstrap_task_statistics([a, TaskMatrix("b", np.zeros((4, 3)))])
    with pytest.raises(ValueError, match=r"repeated.*'a'"):
        bootstrap_task_statistics([a, a])
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_task_statistics([a], n_resamples=0)


def test_stratified_bootstrap_keeps_class_sizes():
    # Class 0 always right, class 1 always wrong, unequal class sizes: balanced
    # accuracy is 0.5 in every resample only if each resample keeps both classes
    # at their sizes (a plain resample would move the accuracy around).
    strata = np.array([0] * 30 + [1] * 7)
    strata = strata[np.random.default_rng(2).permutation(strata.size)]
    values = (strata == 0).astype(float)[:, None]
    samples = bootstrap_task_statistics([TaskMatrix("t", values, strata)], 500, seed=0)
    np.testing.assert_array_equal(samples, 0.5)
    plain = bootstrap_task_statistics([TaskMatrix("t", values)], 500, seed=0)
    assert np.std(plain) > 0.02


def test_bootstrap_equals_explicit_index_resampling_with_the_same_draws():
    # A naive gather with the draws the bootstrap makes (one chunk, one stratum)
    # must give the same means: the count matrix is only a faster way to sum.
    rng = np.random.default_rng(5)
    n, runs, n_resamples = 50, 3, 300
    values = rng.random((n, runs))
    fast = bootstrap_task_statistics([TaskMatrix("t", values)], n_resamples, seed=7)[:, 0]
    draws = stats._task_rng("t", 7).integers(0, n, size=(n_resamples, n))
    naive = values[draws].mean(axis=1)
    np.testing.assert_allclose(fast, naive, rtol=0, atol=1e-12)


def test_bootstrap_spread_matches_the_analytic_standard_error():
    rng = np.random.default_rng(6)
    n, n_resamples = 400, 2000
    values = _binary(rng, n, 0.3)
    samples = bootstrap_task_statistics([TaskMatrix("t", values[:, None])], n_resamples)[:, 0, 0]
    p = values.mean()
    assert samples.mean() == pytest.approx(p, abs=0.003)
    assert samples.std() == pytest.approx(np.sqrt(p * (1 - p) / n), rel=0.1)
    # A naive bootstrap with its own draws agrees in distribution.
    naive = values[rng.integers(0, n, size=(n_resamples, n))].mean(axis=1)
    assert samples.std() == pytest.approx(naive.std(), rel=0.1)

    # Stratified: the variance of a mean of K class means is sum p_k(1-p_k)/n_k / K^2.
    strata = np.repeat([0, 1, 2], [250, 100, 50])
    values = np.concatenate([_binary(rng, 250, 0.8), _binary(rng, 100, 0.5), _binary(rng, 50, 0.2)])
    matrix = TaskMatrix("s", values[:, None], strata)
    samples = bootstrap_task_statistics([matrix], n_resamples)[:, 0, 0]
    per_class = [values[strata == k] for k in range(3)]
    analytic = np.sqrt(sum(v.mean() * (1 - v.mean()) / v.size for v in per_class)) / 3
    assert samples.mean() == pytest.approx(task_statistic(matrix)[0], abs=0.003)
    assert samples.std() == pytest.approx(analytic, rel=0.1)


def test_bootstrap_chunks_large_tasks(monkeypatch):
    # Chunking bounds memory; the result must still cover every resample.
    monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", 1000)
    rng = np.random.default_rng(8)
    values = _binary(rng, 300, 0.5)[:, None]
    samples = bootstrap_task_statistics([TaskMatrix("t", values)], 1000)[:, 0, 0]
    assert len(np.unique(samples)) > 20
    assert samples.std() == pytest.approx(
        np.sqrt(values.mean() * (1 - values.mean()) / 300), rel=0.1
    )


def test_percentile_intervals_of_paired_differences_cover_at_the_nominal_rate():
    # Baseline and condition answer the same items (correlated through a shared
    # per-item difficulty); the interval of the macro-mean difference should
    # cover the true difference about 95% of the time.
    rng = np.random.default_rng(9)
    base_p = np.array([0.55, 0.7, 0.4, 0.85, 0.6])
    cond_p = np.array([0.65, 0.7, 0.5, 0.8, 0.75])
    sizes = [150, 120, 180, 150, 140]
    truth = np.mean(cond_p - base_p)
    replications, covered, widths = 300, 0, []
    for rep in range(replications):
        matrices = []
        for t, n in enumerate(sizes):
            shared = rng.random(n)
            own = rng.random((n, 2))
            # Half the items are decided by the shared draw: strongly correlated pairs.
            u = np.where(rng.random((n, 1)) < 0.5, shared[:, None], own)
            values = (u < np.array([base_p[t], cond_p[t]])).astype(float)
            matrices.append(TaskMatrix(f"task{t}", values))
        samples = bootstrap_task_statistics(matrices, n_resamples=500, seed=rep)
        difference = samples[:, :, 1].mean(axis=1) - samples[:, :, 0].mean(axis=1)
        lo, hi = percentile_interval(difference)
        covered += lo <= truth <= hi
        widths.append(hi - lo)
    assert 0.90 <= covered / replications <= 0.99
    # Pairing matters: unpaired intervals would be about sqrt(2) wider.
    unpaired_se = np.sqrt(np.mean([p * (1 - p) for p in (*base_p, *cond_p)]) * 2 / 148) / np.sqrt(5)
    assert np.mean(widths) < 0.85 * 2 * 1.96 * unpaired_se


# --- combine_seeds and percentile_interval ------------------------------------------


def test_combine_seeds_with_one_run_per_group_is_the_columns():
    samples = np.random.default_rng(10).random((100, 4))
    np.testing.assert_array_equal(combine_seeds(samples, [[2], [0], [3]]), samples[:, [2, 0, 3]])


def test_combine_seeds_adds_seed_spread_and_is_deterministic():
    rng = np.random.default_rng(11)
    example_level = rng.normal(0, 0.01, size=(2000, 1))
    offsets = np.array([0.0, 0.05, 0.1, 0.15])
    samples = 0.5 + example_level + offsets  # four seeds sharing the example draws
    combined = combine_seeds(samples, [[0], [0, 1, 2, 3]], seed=1)
    assert combined[:, 1].mean() == pytest.approx(0.5 + offsets.mean(), abs=0.003)
    # The seed spread: sd of a mean of 4 draws from the offsets, on top of the examples'.
    expected_sd = np.sqrt(0.01**2 + offsets.var() / 4)
    assert combined[:, 1].std() == pytest.approx(expected_sd, rel=0.1)
    assert combined[:, 1].std() > 2 * combined[:, 0].std()
    np.testing.assert_array_equal(combined, combine_seeds(samples, [[0], [0, 1, 2, 3]], seed=1))
    assert not np.array_equal(combined, combine_seeds(samples, [[0], [0, 1, 2, 3]], seed=2))


def test_combine_seeds_refuses_bad_groups():
    samples = np.zeros((10, 3))
    with pytest.raises(ValueError, match="non-empty"):
        combine_seeds(samples, [[0], []])
    with pytest.raises(ValueError, match="outside"):
        combine_seeds(samples, [[0, 3]])
    with pytest.raises(ValueError, match="shape"):
        combine_seeds(np.zeros(10), [[0]])


def test_percentile_interval():
    samples = np.arange(1001, dtype=float)[:, None] * np.array([1.0, -1.0])
    lo, hi = percentile_interval(samples, level=0.9)
    np.testing.assert_allclose(lo, [50.0, -950.0])
    np.testing.assert_allclose(hi, [950.0, -50.0])
    lo, hi = percentile_interval(samples.T, axis=1)
    np.testing.assert_allclose(lo, [25.0, -975.0])
    with pytest.raises(ValueError, match="level"):
        percentile_interval(samples, level=95)


# --- paired tests and multiplicity --------------------------------------------------


def _pairs(both, baseline_only, condition_only, neither):
    """Paired 0/1 arrays with the given cells of the 2x2 table."""
    baseline = [1] * both + [1] * baseline_only + [0] * condition_only + [0] * neither
    condition = [1] * both + [0] * baseline_only + [1] * condition_only + [0] * neither
    return np.array(baseline), np.array(condition)


@pytest.mark.parametrize(
    "cells",
    [(10, 0, 0, 5), (3, 1, 0, 2), (0, 0, 1, 0), (5, 2, 7, 1), (40, 6, 6, 30), (50, 3, 19, 20)],
)
def test_mcnemar_exact_matches_statsmodels(cells):
    both, b, c, neither = cells
    result = mcnemar_exact(*_pairs(*cells))
    assert (result.baseline_only, result.condition_only) == (b, c)
    expected = mcnemar([[both, b], [c, neither]], exact=True).pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_mcnemar_exact_on_random_and_seed_matched_inputs():
    rng = np.random.default_rng(12)
    for n in (5, 20, 100, 500):
        baseline = rng.integers(0, 2, size=(n, 3))
        condition = np.where(rng.random((n, 3)) < 0.7, baseline, rng.integers(0, 2, size=(n, 3)))
        pooled = mcnemar_exact(baseline, condition)
        b = int(((baseline == 1) & (condition == 0)).sum())
        c = int(((baseline == 0) & (condition == 1)).sum())
        both = int(((baseline == 1) & (condition == 1)).sum())
        neither = baseline.size - b - c - both
        assert (pooled.baseline_only, pooled.condition_only) == (b, c)
        # Summing over seed-matched columns is McNemar on the pooled table.
        expected = mcnemar([[both, b], [c, neither]], exact=True).pvalue
        assert pooled.p_value == pytest.approx(expected, rel=1e-9)
        columns = [mcnemar_exact(baseline[:, j], condition[:, j]) for j in range(3)]
        assert sum(r.baseline_only for r in columns) == b
        assert sum(r.condition_only for r in columns) == c


def test_mcnemar_exact_refuses_non_binary_values():
    assert mcnemar_exact([True, False], [1.0, 1.0]) == McNemarResult(0, 1, 1.0)
    with pytest.raises(ValueError, match=r"condition.*found 0\.5$"):
        mcnemar_exact([1, 0, 1], [1, 0.5, 1])
    with pytest.raises(ValueError, match=r"baseline.*found 2$"):
        mcnemar_exact([1, 2], [1, 0])
    with pytest.raises(ValueError, match="same shape"):
        mcnemar_exact([1, 0], [1, 0, 1])


def test_paired_test_picks_mcnemar_for_binary_and_wilcoxon_otherwise():
    baseline, condition = _pairs(20, 2, 9, 5)
    assert paired_test(baseline, condition) == (
        "mcnemar_exact",
        mcnemar_exact(baseline, condition).p_value,
    )
    rng = np.random.default_rng(13)
    baseline = rng.random(60)
    condition = baseline + rng.normal(0.05, 0.1, size=60)
    condition[:5] = baseline[:5]  # zero differences are dropped
    name, p = paired_test(baseline, condition)
    expected = scipy.stats.wilcoxon(condition - baseline, zero_method="wilcox").pvalue
    assert name == "wilcoxon" and p == pytest.approx(expected, rel=1e-12)
    assert paired_test(baseline, baseline.copy()) == ("wilcoxon", 1.0)
    with pytest.raises(ValueError, match="NaN"):
        paired_test(np.array([0.5, np.nan]), np.array([0.2, 0.1]))


def test_adjust_p_values_matches_statsmodels_and_skips_nans():
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.005, 0.5])
    for method, name in (("holm", "holm"), ("bh", "fdr_bh")):
        np.testing.assert_allclose(adjust_p_values(p, method), multipletests(p, method=name)[1])
        with_nans = np.insert(p, [1, 4], np.nan)
        adjusted = adjust_p_values(list(with_nans), method)
        assert np.isnan(adjusted[[1, 5]]).all()
        # The NaNs are not part of the family: same values as without them.
        np.testing.assert_allclose(adjusted[~np.isnan(with_nans)], multipletests(p, method=name)[1])
    assert np.isnan(adjust_p_values([np.nan], "holm")).all()
    with pytest.raises(ValueError, match=r"'bonferroni'.*\['bh', 'holm'\]"):
        adjust_p_values(p, "bonferroni")
