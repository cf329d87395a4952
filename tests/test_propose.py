"""Mixture proposals: constraints, the GP surrogate, batch selection, and regret vs a grid."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flawn.propose import Constraints, GroupMinimum, Proposal, propose_mixtures
from flawn.propose.acquisition import expected_improvement, select_batch
from flawn.propose.simplex import candidates, space_filling
from flawn.propose.simulation import (
    Setting,
    benchmark,
    binomial_se,
    legalbench_item_counts,
    random_surface,
    summary,
)
from flawn.propose.surrogate import Surrogate, hellinger

COMPONENTS = ["legal_en", "legal_multi", "flan", "dolly"]


def _runs(n=12, seed=0):
    """Runs on a smooth surface with an interior optimum near legal_en=0.45, flan=0.35."""
    rng = np.random.default_rng(seed)
    x = rng.dirichlet(np.ones(4), size=n)
    truth = 55 - 20 * ((x[:, 0] - 0.45) ** 2 + (x[:, 2] - 0.35) ** 2 + 0.5 * x[:, 1] ** 2)
    return x, truth + rng.normal(0, 0.4, n), np.full(n, 0.4)


# --- constraints -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraints", "message"),
    [
        (Constraints(lower={"legal_fr": 0.1}), "unknown component 'legal_fr'"),
        (Constraints(lower={"flan": 1.5}), "lower bound of 'flan' must be in \\[0, 1\\]"),
        (Constraints(lower={"flan": 0.5}, upper={"flan": 0.2}), "'flan': lower bound 0.5 is above"),
        (Constraints(lower={"flan": 0.6, "dolly": 0.6}), "lower bounds sum to 1.2 > 1"),
        (Constraints(upper={c: 0.2 for c in COMPONENTS}), "upper bounds .* sum to 0.8 < 1"),
        (Constraints(lower={"dolly": 0.1}, excluded=["dolly"]), "'dolly' is excluded"),
        (
            Constraints(
                groups=[GroupMinimum(("flan", "dolly"), 0.3, "general")],
                excluded=["flan"],
                upper={"dolly": 0.2},
            ),
            "group minimum general needs >= 0.3 but its members' upper bounds allow at most 0.2",
        ),
        (
            Constraints(groups=[GroupMinimum(("flan", "dolly"), 0.5)], lower={"legal_en": 0.6}),
            "group minimum flan\\+dolly needs >= 0.5 but the other components' lower bounds "
            "already take 0.6",
        ),
        (
            Constraints(
                groups=[
                    GroupMinimum(("legal_en", "flan"), 0.7),
                    GroupMinimum(("legal_multi", "dolly"), 0.7),
                ]
            ),
            "cannot all hold together",
        ),
    ],
)
def test_infeasible_or_malformed_constraints_name_the_culprit(constraints, message):
    with pytest.raises(ValueError, match=message):
        constraints.resolve(COMPONENTS)


def test_group_minimum_checks_itself():
    with pytest.raises(ValueError, match="minimum must be in"):
        GroupMinimum(("flan",), 1.2)
    with pytest.raises(ValueError, match="at least one component"):
        GroupMinimum((), 0.2, "general")


def test_candidates_are_feasible_distinct_and_seeded():
    constraints = Constraints(
        lower={"legal_en": 0.1},
        upper={"legal_multi": 0.15},
        groups=[GroupMinimum(("flan", "dolly"), 0.2, "general")],
    )
    region = constraints.resolve(COMPONENTS)
    pool = candidates(region, 500, seed=3)
    assert len(pool) > 500
    assert region.contains(pool).all()
    assert len(np.unique(pool.round(9), axis=0)) == len(pool)
    np.testing.assert_array_equal(pool, candidates(region, 500, seed=3))
    assert not np.array_equal(pool, candidates(region, 500, seed=4))
    # The vertices include the corner with as much legal_en as the others allow.
    assert np.isclose(pool[:, 0].max(), 1 - 0.2)


def test_tight_constraints_still_fill_the_candidates():
    # Dirichlet draws would almost never land here; convex combinations of vertices do.
    constraints = Constraints(
        lower={"legal_en": 0.3, "flan": 0.3}, upper={"legal_en": 0.32, "flan": 0.31, "dolly": 0.01}
    )
    region = constraints.resolve(COMPONENTS)
    pool = candidates(region, 200, seed=0)
    assert len(pool) >= 200 and region.contains(pool).all()


def test_space_filling_starts_balanced_then_spreads():
    region = Constraints().resolve(["a", "b", "c"])
    pool = candidates(region, 300, seed=0)
    order = space_filling(pool, 4)
    np.testing.assert_allclose(pool[order[0]], [1 / 3] * 3, atol=0.05)
    # Then the three pure components, the farthest points of the simplex.
    np.testing.assert_allclose(np.sort(pool[order[1:]].max(axis=1)), [1, 1, 1])


# --- surrogate -------------------------------------------------------------------------------


def test_hellinger_distance():
    a = np.array([[1.0, 0.0], [0.5, 0.5]])
    np.testing.assert_allclose(hellinger(a, a), [[0, 0.5411961], [0.5411961, 0]], atol=1e-6)
    assert hellinger(np.array([1.0, 0.0]), np.array([0.0, 1.0]))[0, 0] == pytest.approx(1.0)


def test_surrogate_recovers_a_smooth_surface_with_calibrated_intervals():
    x, y, se = _runs(n=30)
    model = Surrogate.fit(x, y, se)
    test = np.random.default_rng(9).dirichlet(np.ones(4), size=200)
    truth = 55 - 20 * ((test[:, 0] - 0.45) ** 2 + (test[:, 2] - 0.35) ** 2 + 0.5 * test[:, 1] ** 2)
    mean, sd = model.predict(test)
    assert model.fitted
    # Most of the variation explained (R^2 > 0.84), extrapolation to corners included ...
    assert np.sqrt(np.mean((mean - truth) ** 2)) < 0.4 * truth.std()
    # ... and the 95% intervals of the true score cover it about as often as they claim.
    coverage = np.mean(np.abs(mean - truth) <= 1.96 * sd)
    assert 0.85 <= coverage <= 1.0


def test_surrogate_with_two_runs_is_prior_and_wide():
    x = np.array([[0.0, 1.0], [0.3, 0.7]])
    model = Surrogate.fit(x, np.array([50.0, 51.0]), np.array([0.4, 0.4]))
    mean, sd = model.predict(np.array([[0.15, 0.85], [1.0, 0.0]]))
    assert not model.fitted and "prior" in model.describe()
    assert np.all(np.isfinite(mean))
    # Between the runs the interval is tighter than far from them, and far away it is wide.
    assert sd[0] < sd[1]
    assert sd[1] > 1.0


def test_surrogate_pools_replicates():
    # Eight seeds of one mixture: its predicted score is near their mean, its sd ~ se/sqrt(8).
    x = np.vstack([np.tile([0.2, 0.8], (8, 1)), [[0.0, 1.0]], [[0.6, 0.4]]])
    y = np.r_[np.linspace(49, 51, 8), 48.0, 50.5]
    model = Surrogate.fit(x, y, np.full(10, 1.0))
    mean, sd = model.predict(np.array([[0.2, 0.8]]))
    assert mean[0] == pytest.approx(50.0, abs=0.3)
    assert sd[0] < 0.6


# --- acquisition -----------------------------------------------------------------------------


def test_expected_improvement():
    ei = expected_improvement(np.array([1.0, 1.0, 0.0, 2.0]), np.array([1.0, 0.0, 1.0, 0.0]), 1.0)
    np.testing.assert_allclose(ei, [0.3989423, 0.0, 0.0833155, 1.0], atol=1e-6)


@pytest.mark.parametrize("method", ["ei", "thompson"])
def test_batch_has_no_near_duplicates(method):
    x, y, se = _runs()
    model = Surrogate.fit(x, y, se)
    pool = candidates(Constraints().resolve(COMPONENTS), 500, seed=0)
    picks = select_batch(model, pool, 5, method=method, min_distance=0.05)
    assert len(set(picks)) == 5
    distances = hellinger(pool[picks], pool[picks])
    assert distances[~np.eye(5, dtype=bool)].min() >= 0.05


def test_batch_relaxes_spacing_when_the_region_is_small():
    region = Constraints(
        lower={"legal_en": 0.49}, upper={"legal_en": 0.5, "dolly": 0.0}, excluded=["legal_multi"]
    ).resolve(COMPONENTS)
    pool = candidates(region, 50, seed=0)
    x, y, se = _runs()
    picks = select_batch(Surrogate.fit(x, y, se), pool, 4, min_distance=0.5)
    assert len(set(picks)) == 4


# --- propose_mixtures ------------------------------------------------------------------------


def test_proposal_respects_every_constraint():
    x, y, se = _runs()
    constraints = Constraints(
        lower={"legal_en": 0.1},
        upper={"legal_multi": 0.1},
        groups=[GroupMinimum(("flan", "dolly"), 0.4, "general")],
        excluded=["dolly"],
    )
    region = constraints.resolve(COMPONENTS)
    for method in ("ei", "thompson"):
        proposal = propose_mixtures(x, y, se, COMPONENTS, 4, constraints, seed=1, method=method)
        assert proposal.shares.shape == (4, 4)
        for row in proposal.shares:
            assert region.violations(row) == []
        assert np.all(proposal.shares[:, 3] == 0)
        assert np.all(proposal.shares[:, 2] >= 0.4 - 1e-9)
        assert np.allclose(proposal.shares.sum(axis=1), 1)


def test_proposal_moves_toward_the_optimum_with_intervals():
    x, y, se = _runs(n=20)
    proposal = propose_mixtures(x, y, se, COMPONENTS, 3, seed=0)
    frame = proposal.frame()
    assert list(frame.columns) == [*COMPONENTS, "predicted", "lo", "hi"]
    assert len(frame) == 3
    assert np.all(proposal.lo < proposal.predicted) and np.all(proposal.predicted < proposal.hi)
    # Good mixtures: the best proposal is within half a point of the true optimum (55; random
    # mixtures average about 50) and all of them keep legal_multi, which only costs, small.
    truth = 55 - 20 * (
        (proposal.shares[:, 0] - 0.45) ** 2
        + (proposal.shares[:, 2] - 0.35) ** 2
        + 0.5 * proposal.shares[:, 1] ** 2
    )
    assert truth.max() > 54.5
    assert np.all(proposal.shares[:, 1] < 0.1)
    assert proposal.predicted[0] >= proposal.best_observed - 0.5
    assert "fitted" in proposal.kernel and "Matern" in proposal.kernel
    # Same inputs, same seed: the same proposal.
    again = propose_mixtures(x, y, se, COMPONENTS, 3, seed=0)
    pd.testing.assert_frame_equal(frame, again.frame())


def test_demo_sized_sweep_of_two_runs():
    # The demo: general-only baseline (legal share 0) and one legal mixture.
    proposal = propose_mixtures(
        np.array([[0.0, 1.0], [0.3, 0.7]]),
        np.array([41.2, 42.0]),
        np.array([0.5, 0.5]),
        ["legal", "general"],
        k=2,
        constraints=Constraints(groups=[GroupMinimum(("general",), 0.2)]),
    )
    assert isinstance(proposal, Proposal)
    assert np.all(proposal.shares[:, 1] >= 0.2 - 1e-9)
    assert "prior" in proposal.kernel
    # Honest width: two runs cannot pin a new mixture's score to within a point.
    assert np.all(proposal.hi - proposal.lo > 2.0)


def test_duplicate_mixtures_and_zero_se_are_fine():
    x = np.array([[0.0, 1.0], [0.0, 1.0], [0.5, 0.5], [0.5, 0.5], [1.0, 0.0]] * 2)
    y = np.array([40.0, 40.6, 43.0, 42.4, 41.0] * 2)
    proposal = propose_mixtures(x, y, np.zeros(10), ["legal", "general"], 2)
    assert np.all(np.isfinite(proposal.predicted)) and np.all(proposal.hi >= proposal.lo)


def test_a_region_of_one_mixture_gives_it_or_says_why_not():
    constraints = Constraints(lower={"legal": 0.3, "general": 0.7})
    x, y, se = np.array([[0.0, 1.0], [0.5, 0.5]]), np.array([40.0, 42.0]), np.array([0.5, 0.5])
    proposal = propose_mixtures(x, y, se, ["legal", "general"], 1, constraints)
    np.testing.assert_allclose(proposal.shares, [[0.3, 0.7]])
    with pytest.raises(ValueError, match="cannot pick 2 mixtures from 1 candidates"):
        propose_mixtures(x, y, se, ["legal", "general"], 2, constraints)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"shares": np.array([[0.5, 0.6]])}, "shares row 0 sums to 1.1"),
        ({"shares": np.array([[0.5, 0.5, 0.0]])}, "shares must be \\(runs, 2\\)"),
        ({"scores": np.array([np.nan])}, "scores\\[0\\] = nan is not a finite"),
        ({"score_se": np.array([-1.0])}, "score_se\\[0\\] = -1.0 is not a finite non-negative"),
        ({"score_se": np.array([1.0, 1.0])}, "score_se must have one value per run"),
        ({"k": 0}, "k must be a positive integer"),
        ({"method": "ucb"}, "unknown method 'ucb'"),
        ({"components": ["legal", "legal"]}, "components listed twice"),
    ],
)
def test_bad_inputs_say_what_is_wrong(change, message):
    arguments = {
        "shares": np.array([[0.3, 0.7]]),
        "scores": np.array([50.0]),
        "score_se": np.array([0.5]),
        "components": ["legal", "general"],
        "k": 1,
    } | change
    with pytest.raises(ValueError, match=message):
        propose_mixtures(**arguments)


# --- simulation: proposing beats a grid ------------------------------------------------------


def test_binomial_se_at_legalbench_sizes():
    counts = legalbench_item_counts()
    assert len(counts) == 161 and counts.sum() == 90344
    se = binomial_se(np.array([50.0, 90.0]))
    assert 0.25 < se[0] < 0.35 and se[1] < se[0]


def test_random_surfaces_have_known_optima():
    rng = np.random.default_rng(0)
    for kind in ("quadratic", "log"):
        surface = random_surface(4, rng, kind=kind, spread=5.0)
        _, top = surface.optimum
        pool = candidates(Constraints().resolve(list("abcd")), 3000, seed=5)
        values = surface(pool)
        assert top >= values.max() - 1e-6
        assert 40 <= top <= 60
        assert top - values.min() == pytest.approx(5.0, rel=0.1)


def test_proposer_beats_the_grid_on_simulated_surfaces():
    # Twelve random surfaces (3-5 components, both families), 5 rounds of 4 runs, noise at
    # LegalBench's sizes plus an unreported seed sd of 0.5 points. Seed 2026 was not used
    # while developing. Measured on 12-surface blocks of unseen seeds (2026, 31-34): the grid's
    # mean final regret minus the proposer's was 0.10-0.28 points, their ratio 0.37-0.64;
    # seed 2026 was the worst block, so the margins below sit under the worst measured one.
    # Single surfaces go either way (noise of ~0.6 points per run).
    results = benchmark(12, setting=Setting(rounds=5, k=4), seed=2026)
    final = results[results["round"] == 5].pivot(
        index="replication", columns="method", values="regret"
    )
    assert (final >= -1e-9).all().all()
    proposer, grid = final["proposer"].mean(), final["grid"].mean()
    assert proposer < grid - 0.05
    assert proposer < 0.7 * grid
    # Not just the surrogate's smoothing: the same GP on the grid's runs does worse.
    assert proposer < final["grid+gp"].mean()
    table = summary(results)
    assert list(table.index) == [1, 2, 3, 4, 5]
    # The 95% intervals of proposals mostly hold their true score. Below 95% (about 90% in
    # development runs): proposals are picked where the posterior mean is high, so their
    # errors lean optimistic.
    coverage = results["coverage"].mean()
    assert 0.75 <= coverage <= 1.0
    # Round 1 is the shared design: the same regret for both.
    assert table.loc[1, "proposer"] == pytest.approx(table.loc[1, "grid+gp"])


def test_bench_script_prints_the_table_and_writes_the_plot(tmp_path, monkeypatch, capsys):
    script = Path(__file__).resolve().parents[1] / "bench" / "proposal.py"
    spec = importlib.util.spec_from_file_location("bench_proposal", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["proposal.py", "--replications", "2", "--rounds", "2", "--k", "2"]
    monkeypatch.setattr(
        sys, "argv", [*argv, "--out", str(tmp_path), "--csv", str(tmp_path / "r.csv")]
    )
    module.main()
    out = capsys.readouterr().out
    assert "| round | runs | proposer (GP + batch EI) |" in out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert len(rows) == 3  # header and two rounds (the separator row starts "|-")
    assert rows[2].startswith("| 2 | 4 | ")
    assert (tmp_path / "proposal_regret.png").stat().st_size > 0
    assert (tmp_path / "proposal_regret.pdf").stat().st_size > 0
    assert len(pd.read_csv(tmp_path / "r.csv")) == 2 * 2 * 3  # replications x rounds x methods
