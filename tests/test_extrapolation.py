"""Size extrapolation: the weighted line, its coverage held out on simulated sweeps, the notes."""

import math

import numpy as np
import pandas as pd
import pytest

from flawn.analysis import extrapolation
from flawn.analysis.compare import Comparison, compare
from flawn.analysis.extrapolation_check import (
    LADDER,
    Setting,
    few_legalbench_tasks,
    simulate_heldout,
)
from flawn.analysis.loading import load_examples, load_task_scores
from flawn.analysis.rules import rule_for_suite
from flawn.analysis.synthetic import write_sweep
from flawn.cli import main
from flawn.errors import ConfigError

SIZES4 = ("small", "base", "large", "xl")
#: True gain of `plus` per decade of parameters, by LegalBench category (accuracy units).
SLOPES = {"interpretation": 0.04, "issue-spotting": 0.0}


def _gain(mixture, size, task):
    if mixture == "base":
        return 0.0
    decades = math.log10(
        extrapolation.size_parameters(size) / extrapolation.size_parameters("small")
    )
    return 0.02 + SLOPES.get(task.category, 0.02) * decades


@pytest.fixture(scope="module")
def size_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sizes")
    tasks = few_legalbench_tasks(seed=1)
    write_sweep(
        root,
        tasks,
        {"base": 0.0, "plus": 0.0},
        sizes=SIZES4,
        suite="legalbench",
        parquet_only=True,
        seed=2,
        effect_of=_gain,
    )
    return root


def test_fit_lines_recovers_a_line_and_widens_for_scatter():
    x = np.log10([7.7e7, 2.5e8, 7.8e8, 2.8e9])
    exact = extrapolation.fit_lines(x, [2 + 3 * (x - 8)], np.full((1, 4), 0.5), 10.0)
    assert exact["slope"][0] == pytest.approx(3.0) and exact["predicted"][0] == pytest.approx(8.0)
    assert exact["phi"][0] == 1.0  # no residual: measurement noise alone
    # the interval is for a measured delta: it is wider than the noise of the target alone
    assert exact["hi"][0] - exact["predicted"][0] > 1.96 * 0.5
    scattered = extrapolation.fit_lines(x, [2 + 3 * (x - 8) + [0, 3, -3, 0]], np.full(4, 0.5), 10)
    assert scattered["phi"][0] > 1
    assert scattered["hi"][0] - scattered["lo"][0] > 5 * (exact["hi"][0] - exact["lo"][0])
    two = extrapolation.fit_lines(x[:2], [[1.0, 2.0]], [[0.5, 0.5]], x[2])
    assert two["dof"][0] == 0 and two["predicted"][0] == pytest.approx(
        2.0 + 1 / (x[1] - x[0]) * (x[2] - x[1])
    )
    with pytest.raises(ValueError, match="at least 2 sizes"):
        extrapolation.fit_lines(x[:1], [[1.0]], [[0.5]], x[2])


@pytest.mark.parametrize(
    "setting",
    [
        Setting(sizes=LADDER[:4], items=2000, misfit=0.0),
        Setting(sizes=LADDER[:4], items=2000, misfit=1.0),
        Setting(sizes=LADDER[:5], items=500, misfit=1.0),
        Setting(sizes=LADDER[:3], items=2000, misfit=0.0),  # 2 fitted sizes: noise only
    ],
    ids=["3-fitted", "3-fitted-misfit", "4-fitted-misfit", "2-fitted-no-misfit"],
)
def test_held_out_largest_size_is_covered_near_nominal(setting):
    found = simulate_heldout(setting, replications=200, categories=6, seed=7)
    assert len(found) == 1200
    assert 0.85 <= found["covered"].mean() <= 0.99


def test_two_fitted_sizes_under_cover_when_sizes_scatter():
    # why 2 sizes are flagged: the interval has no room for misfit it cannot see
    found = simulate_heldout(Setting(sizes=LADDER[:3], items=2000, misfit=3.0), 200, 6, seed=7)
    assert found["covered"].mean() < 0.8


def _comparison(size, delta, half, name="overall", level="overall"):
    deltas = pd.DataFrame(
        [
            {
                "condition": "plus",
                "level": level,
                "name": name,
                "delta": delta,
                "lo": delta - half,
                "hi": delta + half,
            }
        ]
    )
    return Comparison(
        "legalbench",
        "generation",
        "",
        "k",
        {"regime": "ft", "size": size},
        "mixture",
        "base",
        rule_for_suite("legalbench"),
        pd.DataFrame(),
        deltas,
        [],
    )


def test_non_identifiable_cases_are_flagged():
    one = extrapolation.extrapolate([_comparison("small", 1.0, 1.0)])
    assert one.empty  # one size: nothing to fit
    # a condition measured at one size while another size has other levels
    mixed = extrapolation.extrapolate(
        [_comparison("small", 1.0, 1.0), _comparison("base", 2.0, 1.0, "issue", "group")]
    )
    assert (mixed["note"] == "fewer than 2 sizes: no trend").all() and not mixed[
        "identifiable"
    ].any()
    two = extrapolation.extrapolate([_comparison("small", 1.0, 0.5), _comparison("base", 3.0, 0.5)])
    (row,) = two.itertuples()
    assert row.target == "large" and row.identifiable and "2 sizes" in row.note
    assert "no misfit check" in row.note
    noisy = extrapolation.extrapolate(
        [_comparison(s, d, 30.0) for s, d in zip(SIZES4[:3], (1.0, -2.0, 3.0), strict=True)]
    )
    assert "slope sign undetermined" in noisy["note"][0]
    assert "wider than the score range" in noisy["note"][0] and not noisy["identifiable"][0]
    top = extrapolation.extrapolate([_comparison("xl", 1.0, 0.5), _comparison("xxl", 3.0, 0.5)])
    assert "no larger size" in top["note"][0] and math.isnan(top["predicted"][0])
    flat = extrapolation.extrapolate(
        [_comparison("small", 1.0, 0.0), _comparison("base", 2.0, 0.0)]
    )
    assert "zero-width" in flat["note"][0] and not flat["identifiable"][0]
    with pytest.raises(ConfigError, match="unknown model size"):
        extrapolation.extrapolate([_comparison("small", 1.0, 0.5)], predict_size="huge")


def test_next_size_and_parameters_follow_the_size_table():
    counted = extrapolation.count_sizes({"tiny": 3_000_000}, vocab_rows=1280)
    assert extrapolation.next_size(["small", "base"], counted) == "large"
    assert extrapolation.next_size(["flan_t5_small"], counted) == "flan_t5_base"
    assert extrapolation.next_size(["tiny"], counted) == "mini"
    assert extrapolation.next_size(["mini"], counted) == "small"
    assert extrapolation.next_size(["xxl"], counted) is None
    spec = {
        "size": "tiny",
        "model": {
            "size": "tiny",
            "vocab_size": 0,
            "emb_dim": 128,
            "num_heads": 4,
            "head_dim": 32,
            "mlp_dim": 256,
            "num_encoder_layers": 2,
            "num_decoder_layers": 2,
        },
        "vocabulary_model": {"pieces": 1152, "extra_ids": 100},
    }
    size, count, rows = extrapolation.run_parameters(spec)
    assert (size, rows) == ("tiny", 1280) and count == extrapolation.size_parameters("tiny", 1280)


def test_run_folders_to_extrapolation(size_sweep):
    comparisons = compare(
        load_task_scores([size_sweep]),
        load_examples([size_sweep]),
        "mixture",
        "base",
        n_resamples=300,
    )
    assert sorted(c.group["size"] for c in comparisons) == sorted(SIZES4)
    frame = extrapolation.extrapolate(comparisons)
    assert set(frame["level"]) == {"overall", "group", "view"}
    assert (frame["sizes"] == ", ".join(SIZES4)).all() and (frame["target"] == "xxl").all()
    rows = frame.set_index("name")
    # the true slopes, in points per decade, lie in the fitted slopes' intervals
    for name, slope in (("interpretation", 4.0), ("issue-spotting", 0.0), ("rule-recall", 2.0)):
        assert rows.loc[name, "slope_lo"] <= slope <= rows.loc[name, "slope_hi"], name
    # the same fit as fit_lines on the comparisons' own deltas and intervals
    points = extrapolation.size_deltas(comparisons)
    mine = points[points["name"] == "interpretation"].copy()
    mine["x"] = np.log10(mine["size"].map(extrapolation.size_parameters))
    mine = mine.sort_values("x")
    fit = extrapolation.fit_lines(
        mine["x"], [mine["delta"]], [mine["se"]], math.log10(extrapolation.size_parameters("xxl"))
    )
    assert rows.loc["interpretation", "predicted"] == pytest.approx(fit["predicted"][0])


def test_flawn_analyze_writes_the_size_extrapolation(size_sweep, tmp_path, capsys):
    out = tmp_path / "report"
    args = ["analyze", str(size_sweep), "--out", str(out), "--resamples", "200", "--no-cards"]
    assert main([*args, "--predict-size", "xxl"]) == 0
    printed = capsys.readouterr().out
    report = (out / "report.md").read_text()
    assert "Size extrapolation" in report and "Size extrapolation" in printed
    assert "| plus | group | interpretation | small, base, large, xl |" in report
    assert "xxl (11,135M)" in report
    plot = next((out / "plots").glob("extrapolation-*.png"))
    assert f"(plots/{plot.name})" in report and plot.with_suffix(".pdf").exists()
    frame = pd.read_parquet(out / "extrapolation.parquet")
    assert set(frame["condition"]) == {"plus"} and (frame["target"] == "xxl").all()
    assert (out / "tables" / "extrapolation.md").exists()


def test_flawn_analyze_without_sizes_has_no_extrapolation(tmp_path):
    tasks = few_legalbench_tasks(seed=1)
    write_sweep(tmp_path / "sweep", tasks, {"base": 0.0, "plus": 0.05}, parquet_only=True)
    out = tmp_path / "report"
    assert (
        main(
            [
                "analyze",
                str(tmp_path / "sweep"),
                "--out",
                str(out),
                "--resamples",
                "50",
                "--no-cards",
                "--no-plots",
            ]
        )
        == 0
    )
    assert "Size extrapolation" not in (out / "report.md").read_text()
    assert not (out / "extrapolation.parquet").exists()


def test_notebook_shows_the_extrapolation_of_a_sweep_with_sizes(size_sweep, monkeypatch):
    """The notebook's cells up to its training curves (a simulated sweep has none)."""
    import json

    import nbclient
    import nbformat

    from flawn import paths

    repo = paths.PACKAGE_DIR.parent
    notebook = nbformat.read(repo / "analysis" / "compare_mixtures.ipynb", as_version=4)
    stop = next(i for i, c in enumerate(notebook.cells) if "## Training curves" in c.source)
    notebook.cells = notebook.cells[:stop]
    monkeypatch.setenv("FLAWN_SWEEP_DIR", str(size_sweep))
    monkeypatch.setenv("FLAWN_RESAMPLES", "100")
    nbclient.NotebookClient(
        notebook, timeout=240, kernel_name="python3",
        resources={"metadata": {"path": str(repo / "analysis")}},
    ).execute()  # fmt: skip
    (last,) = [c for c in notebook.cells if "extrapolation.extrapolate" in c.source]
    shown = json.dumps([o.get("data", {}) for o in last.outputs])
    assert "predicted \\u0394" in shown or "predicted Δ" in shown
    assert "image/png" in shown and "xxl (11,135M)" in shown


def test_docs_coverage_table_is_what_the_bench_command_prints():
    import os
    import re
    import subprocess
    import sys

    from flawn import paths

    repo = paths.PACKAGE_DIR.parent
    doc = (repo / "docs" / "size_extrapolation.md").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(.*?)\n```", doc, flags=re.S)
    assert commands[0] == ".venv/bin/python bench/extrapolation.py"
    assert commands[1:] == [".venv/bin/python bench/extrapolation.py --run-folders 60"]
    done = subprocess.run(
        [sys.executable, "bench/extrapolation.py"], cwd=repo, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(repo)}, timeout=120, check=True,
    )  # fmt: skip
    table = done.stdout.split("\n\n")[0].strip()
    assert table.startswith("| fitted sizes") and table in doc


def test_run_folder_heldout_check_goes_through_compare(tmp_path):
    from flawn.analysis.extrapolation_check import run_folder_heldout

    found = run_folder_heldout(tmp_path, replications=2, seed=3)
    # 5 categories, overall and 2 views per sweep, each fitted on small/base/large
    assert len(found) == 2 * 8 and set(found["level"]) == {"group", "overall", "view"}
    assert found["covered"].mean() >= 0.5  # loose: 16 correlated fits; bench/ measures it
    assert not list(tmp_path.iterdir())  # the simulated sweeps are removed
