import json
import subprocess
import sys

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest

from flawn.analysis.curves import CURVE_COLUMNS, load_curves
from flawn.analysis.plots import (
    plot_delta_vs_share,
    plot_forest,
    plot_scaling,
    plot_training_curves,
    save_figure,
)


def _run(root, run_id, mixture, seed, stages=True):
    """A run folder with two stages, ``a`` (100 planned steps) and ``b`` (50)."""
    folder = root / run_id
    folder.mkdir(parents=True)
    spec = {
        "run_id": run_id,
        "sweep": "study",
        "name": f"{mixture}/tiny/seed{seed}",
        "axes": {"mixture": mixture, "size": "tiny", "seed": seed},
        "stages": [
            {"name": "a", "mixture": "general", "steps": 100},
            {"name": "b", "mixture": mixture, "steps": 50},
        ],
    }
    (folder / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    if stages:
        lines = {
            "a": [{"step": 50, "loss": 3.0 + seed, "accuracy": 0.2}, {"step": 100, "loss": 2.0}],
            "b": [
                {"step": 25, "loss": 1.5, "note": "text is not a curve"},
                {"step": 50, "loss": 1.0, "eval/sample/mean": 0.4},
            ],
        }
        for stage, rows in lines.items():
            (folder / "stages" / stage).mkdir(parents=True)
            text = "".join(json.dumps(r) + "\n" for r in rows)
            (folder / "stages" / stage / "metrics.jsonl").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def sweep(tmp_path):
    root = tmp_path / "study"
    _run(root, "r1", "legal", 0)
    _run(root, "r2", "legal", 1)
    _run(root, "r3", "general", 0)
    _run(root, "r4", "general", 1, stages=False)  # not trained yet: skipped
    (root / "report.md").write_text("# stray file\n", encoding="utf-8")
    return root


def _saved(fig, tmp_path, name):
    png, pdf = save_figure(fig, tmp_path / "figures", name)
    assert (png.name, pdf.name) == (f"{name}.png", f"{name}.pdf")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and png.stat().st_size > 1000
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    return png, pdf


def _containers(ax):
    """Label -> (x, y) of each errorbar series (their data lines are unlabelled)."""
    return {
        c.get_label(): (list(c.lines[0].get_xdata()), list(c.lines[0].get_ydata()))
        for c in ax.containers
    }


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_load_curves_global_steps_and_axes(sweep):
    curves = load_curves([sweep, sweep / "report.md"])
    assert list(curves.columns) == [*CURVE_COLUMNS, "axis.mixture", "axis.seed", "axis.size"]
    assert sorted(set(curves["run_id"])) == ["r1", "r2", "r3"]
    loss = curves[(curves["run_id"] == "r2") & (curves["metric"] == "loss")]
    assert list(loss["stage"]) == ["a", "a", "b", "b"]
    assert list(loss["stage_index"]) == [0, 0, 1, 1]
    assert list(loss["step"]) == [50, 100, 25, 50]
    assert list(loss["global_step"]) == [50, 100, 125, 150]
    assert list(loss["value"]) == [4.0, 2.0, 1.5, 1.0]
    first = loss.iloc[0]
    assert (first["run_name"], first["axis.mixture"], first["axis.seed"]) == (
        "legal/tiny/seed1",
        "legal",
        1,
    )
    # In-training eval points are metrics; text values are not.
    evals = curves[curves["metric"] == "eval/sample/mean"]
    assert list(evals["global_step"]) == [150] * 3 and set(evals["value"]) == {0.4}
    assert "note" not in set(curves["metric"])
    only = load_curves([sweep / "r1"], metrics=["accuracy"])
    assert list(only["metric"]) == ["accuracy"] and list(only["global_step"]) == [50]


def test_load_curves_bad_line_names_file_and_line(tmp_path):
    folder = _run(tmp_path, "r1", "legal", 0)
    path = folder / "stages" / "b" / "metrics.jsonl"
    path.write_text('{"step": 25, "loss": 1.5}\n{"step": 50, "loss"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"stages/b/metrics\.jsonl:2: not valid JSON"):
        load_curves([folder])
    path.write_text('{"loss": 1.5}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"metrics\.jsonl:1: .*integer 'step'"):
        load_curves([folder])


def test_load_curves_without_metrics_says_what_was_searched(tmp_path):
    _run(tmp_path / "study", "r1", "legal", 0, stages=False)
    with pytest.raises(FileNotFoundError, match=r"metrics\.jsonl in 1 run folder\(s\) of .*study"):
        load_curves([tmp_path / "study"])


def test_plot_delta_vs_share(tmp_path):
    rows = [
        ("group", "civil", "legal50", 0.5, 0.20),
        ("group", "civil", "legal25", 0.25, 0.10),  # out of share order: sorted by share
        ("group", "criminal", "legal25", 0.25, -0.10),
        ("group", "criminal", "legal50", 0.5, 0.00),
        ("overall", "overall", "legal25", 0.25, 0.05),
        ("overall", "overall", "legal50", 0.5, 0.10),
    ]
    deltas = pd.DataFrame(rows, columns=["level", "name", "condition", "legal_share", "delta"])
    deltas = deltas.assign(lo=deltas["delta"] - 0.1, hi=deltas["delta"] + 0.1, baseline="general")
    fig = plot_delta_vs_share(deltas)
    ax = fig.axes[0]
    series = _containers(ax)
    assert list(series) == ["civil", "criminal", "overall"]
    assert series["civil"] == ([25.0, 50.0], [0.10, 0.20])
    assert series["overall"] == ([25.0, 50.0], [0.05, 0.10])
    widths = {c.get_label(): c.lines[0].get_linewidth() for c in ax.containers}
    assert widths["overall"] > widths["civil"] == widths["criminal"]
    assert _legend(ax) == ["civil", "criminal", "overall"]
    assert any(list(line.get_ydata()) == [0, 0] for line in ax.get_lines())  # the zero line
    assert "general" in ax.get_ylabel() and "%" in ax.get_xlabel()
    assert ax.get_title()
    _saved(fig, tmp_path, "delta_vs_share")
    with pytest.raises(ValueError, match="missing column"):
        plot_delta_vs_share(deltas.drop(columns="legal_share"))


def test_plot_scaling(tmp_path):
    sizes = ["tiny", "small", "base"]
    rows = [
        {"name": name, "condition": cond, "size": size, "score": 0.1 * i + bonus}
        for name in ("civil", "overall")
        for cond, bonus in (("general", 0.0), ("legal", 0.05))
        for i, size in reversed(list(enumerate(sizes)))  # rows out of size order
    ]
    fig = plot_scaling(pd.DataFrame(rows), sizes)
    assert [ax.get_title() for ax in fig.axes] == ["overall", "civil"]
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == sizes
        series = _containers(ax)
        assert list(series) == ["general", "legal"]
        assert series["legal"][0] == [0, 1, 2]
        assert series["legal"][1] == pytest.approx([0.05, 0.15, 0.25])
    assert fig.axes[0].get_shared_y_axes().joined(fig.axes[0], fig.axes[1])
    assert _legend(fig.axes[0]) == ["general", "legal"]
    _saved(fig, tmp_path, "scaling")
    with pytest.raises(ValueError, match=r"size\(s\) \['base'\] not in size_order"):
        plot_scaling(pd.DataFrame(rows), ["tiny", "small"])
    with pytest.raises(ValueError, match="several rows"):
        plot_scaling(pd.DataFrame(rows + rows[:1]), sizes)


def test_plot_forest(tmp_path):
    deltas = pd.DataFrame(
        {
            "condition": ["legal"] * 3 + ["mixed"] * 3,
            "name": ["t_mid", "t_top", "t_low"] * 2,
            "delta": [0.05, 0.30, -0.20, 0.05, 0.10, -0.10],
            "significant": [False, True, True, False, False, True],
        }
    )
    deltas = deltas.assign(lo=deltas["delta"] - 0.05, hi=deltas["delta"] + 0.05)
    with pytest.raises(ValueError, match="needs significance="):
        plot_forest(deltas)  # "significant" alone does not say which test and correction
    fig = plot_forest(deltas, significance="significant = my own test, no correction")
    assert [ax.get_title() for ax in fig.axes] == ["legal", "mixed"]
    # Rows by mean Δ: largest on top (highest y), the same rows in both panels.
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["t_low", "t_mid", "t_top"]
    legal = _containers(fig.axes[0])
    assert legal["significant"] == ([0.30, -0.20], [2, 0])
    assert legal["not significant"] == ([0.05], [1])
    color = fig.axes[0].containers[0].lines[0].get_color()
    assert matplotlib.colors.same_color(color, "C3")  # significant: highlighted in red
    assert any(list(line.get_xdata()) == [0, 0] for line in fig.axes[0].get_lines())
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["significant", "not significant"]
    assert legend.get_title().get_text() == "significant = my own test, no correction"
    _saved(fig, tmp_path, "forest")


def _forest_deltas(n_tasks=12):
    """Two conditions; the bottom row's Δ is large in the first panel (where legends sat)."""
    names = [f"task_{i:02d}" for i in range(n_tasks)]
    first = [0.05 * i - 0.2 for i in range(n_tasks)]
    first[0] = 0.45  # rightmost point of panel 1, on the bottom row
    second = [0.05 * i - 0.2 for i in range(n_tasks)]
    second[0] = -1.5  # makes task_00 the smallest mean Δ: the bottom row
    deltas = pd.DataFrame(
        {
            "condition": ["legal"] * n_tasks + ["mixed"] * n_tasks,
            "name": names * 2,
            "delta": first + second,
            "test": "mcnemar_exact",
            "p_holm": [0.01 if i % 3 == 0 else 0.4 for i in range(2 * n_tasks)],
        }
    )
    return deltas.assign(lo=deltas["delta"] - 0.04, hi=deltas["delta"] + 0.04)


def test_forest_legend_covers_no_row_and_names_the_test_and_correction(tmp_path):
    fig = plot_forest(_forest_deltas())
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    (legend,) = legends
    box = legend.get_window_extent(renderer)
    assert fig.axes[0].get_yticklabels()[0].get_text() == "task_00"  # the bottom row
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent(renderer))  # outside every panel
        for container in ax.containers:
            marker, (bars,) = container.lines[0], container.lines[2]
            points = np.column_stack([marker.get_xdata(), marker.get_ydata()])
            for x, y in ax.transData.transform(points):
                assert not box.contains(x, y)  # no row marker under the legend
            for segment in bars.get_segments():  # nor any interval
                for x, y in ax.transData.transform(segment):
                    assert not box.contains(x, y)
    title = legend.get_title().get_text().replace("\n", " ")
    assert title == (
        "significant = Holm-adjusted p < 0.05 (McNemar's exact test per task, Holm "
        "correction across the tasks of each condition)"
    )
    legal = _containers(fig.axes[0])
    assert sorted(legal["significant"][1]) == [0, 3, 6, 9]  # p_holm < 0.05 in red
    _saved(fig, tmp_path, "forest-legend")


def test_plot_forest_height_grows_with_tasks_and_is_capped():
    def height(n):
        frame = pd.DataFrame(
            {"name": [f"t{i}" for i in range(n)], "delta": 0.0, "lo": -1.0, "hi": 1.0}
        )
        return plot_forest(frame).get_size_inches()[1]

    assert height(5) < height(40) < height(160) < 30  # 160 tasks still get full-size rows
    assert height(400) == 30


def test_plot_training_curves(sweep, tmp_path):
    curves = load_curves([sweep])
    fig = plot_training_curves(curves)
    ax = fig.axes[0]
    runs = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in runs] == [
        "legal/tiny/seed0",
        "legal/tiny/seed1",
        "general/tiny/seed0",
    ]
    assert list(runs[0].get_xdata()) == [50, 100, 125, 150]
    boundaries = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [list(line.get_xdata()) for line in boundaries] == [[100, 100]]
    assert ax.get_title() == "loss during training"
    _saved(fig, tmp_path, "curves")

    # Grouped by mixture: both seeds of `legal` share a color and one legend entry.
    fig = plot_training_curves(curves, metric="eval/sample/mean", by="axis.mixture")
    ax = fig.axes[0]
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert len(solid) == 3 and solid[0].get_color() == solid[1].get_color() != solid[2].get_color()
    assert _legend(ax) == ["legal", "general"]
    with pytest.raises(ValueError, match=r"no metric 'perplexity'; found \['accuracy'"):
        plot_training_curves(curves, metric="perplexity")


def test_saved_pdf_is_reproducible(tmp_path):
    frame = pd.DataFrame(
        {"name": ["a", "b"], "delta": [0.1, -0.1], "lo": [0.0, -0.2], "hi": [0.2, 0.0]}
    )
    _, first = save_figure(plot_forest(frame), tmp_path / "one", "f")
    _, second = save_figure(plot_forest(frame), tmp_path / "two", "f")
    assert first.read_bytes() == second.read_bytes()


def test_importing_plots_and_curves_does_not_import_tensorflow_or_jax():
    code = (
        "import sys, flawn.analysis.plots, flawn.analysis.curves; "
        "print(sorted(m for m in ('tensorflow', 'jax', 'seqio', 'matplotlib.pyplot') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
