import json
import subprocess
import sys

import pandas as pd
import pytest

from flawn.analysis import delta_table, format_table, load_task_scores, score_table
from flawn.analysis.compare import compare
from flawn.analysis.tables import markdown_table
from flawn.results import TASK_COLUMNS, TASKS_FILE, RunInfo, eval_dir, write_rows


def _rows(mixture, seed, scores, suite="s", mode="generation"):
    info = RunInfo(
        f"id-{mixture}-{seed}",
        f"{mixture}/s{seed}",
        "study",
        mixture,
        "tiny",
        "finetune",
        seed,
        axes={"mixture": mixture, "size": "tiny", "regime": "finetune", "seed": seed},
    )
    return [
        {
            **info.as_row(),
            "eval_id": f"{suite}.{mode}-x",
            "suite": suite,
            "mode": mode,
            "task": task,
            "category": "c",
            "metric": "balanced_accuracy",
            "score": score,
            "n": 10,
            "n_truncated": 0,
            "abstention_rate": None,
        }
        for task, score in scores.items()
    ]


def test_delta_table_on_hand_made_rows():
    rows = (
        _rows("general", 0, {"t1": 0.50, "t2": 0.20})
        + _rows("general", 1, {"t1": 0.70, "t2": 0.40})  # two seeds, averaged
        + _rows("legal", 0, {"t1": 0.90, "t2": 0.80})
    )
    table = delta_table(pd.DataFrame(rows), baseline="general", by="mixture")
    assert list(table.columns) == ["general (baseline)", "legal", "Δ legal"]
    assert list(table.index) == ["t1", "t2", "mean"]
    assert table.loc["t1", "general (baseline)"] == pytest.approx(0.60)
    assert table.loc["t2", "general (baseline)"] == pytest.approx(0.30)
    assert table.loc["t1", "Δ legal"] == pytest.approx(0.30)
    assert table.loc["t2", "Δ legal"] == pytest.approx(0.50)
    assert table.loc["mean", "legal"] == pytest.approx(0.85)
    assert table.loc["mean", "Δ legal"] == pytest.approx(0.40)
    text = format_table(table)
    assert "+0.300" in text and "+0.400" in text


def test_unknown_baseline_is_an_error():
    with pytest.raises(KeyError, match="baseline 'nope'"):
        delta_table(pd.DataFrame(_rows("general", 0, {"t": 1.0})), baseline="nope", by="mixture")


def _write_eval(run_dir, rows, suite="s", mode="generation", finished=True):
    folder = eval_dir(run_dir, f"{suite}.{mode}-x")
    write_rows(folder / TASKS_FILE, rows, TASK_COLUMNS)
    if finished:  # eval.json is written last: without it the evaluation is unfinished
        spec = {"suite": suite, "mode": mode}
        (folder / "eval.json").write_text(json.dumps({"spec": spec, "describe": suite, "step": 4}))


def test_rows_round_trip_through_run_folders(tmp_path):
    for mixture, score in (("general", 0.5), ("legal", 0.75)):
        _write_eval(tmp_path / mixture, _rows(mixture, 0, {"t": score}))
    _write_eval(tmp_path / "legal", _rows("legal", 0, {"t": 0.1}, "s2"), "s2", finished=False)
    (tmp_path / "report.md").write_text("# not a run")  # what `runs/demo/*` also matches
    scores = load_task_scores([tmp_path / "general", tmp_path / "legal", tmp_path / "report.md"])
    assert list(scores.columns)[: len(TASK_COLUMNS)] == list(TASK_COLUMNS)
    assert "axis.mixture" in scores.columns and set(scores["suite"]) == {"s"}
    assert score_table(scores, by="mixture").loc["t"].tolist() == [0.5, 0.75]
    with pytest.raises(FileNotFoundError, match="no finished evaluation"):
        load_task_scores([tmp_path / "missing"])


def test_tables_never_average_across_suites_or_scoring_modes(tmp_path):
    for mixture, score in (("general", 0.2), ("legal", 0.6)):
        _write_eval(tmp_path / mixture, _rows(mixture, 0, {"t1": score, "t2": score}))
        _write_eval(
            tmp_path / mixture,
            _rows(mixture, 0, {"t1": score + 0.3}, mode="rank_classification"),
            mode="rank_classification",
        )
        _write_eval(tmp_path / mixture, _rows(mixture, 0, {"1-1": 0.1}, "lawbench"), "lawbench")
    scores = load_task_scores([tmp_path / "general", tmp_path / "legal"])
    with pytest.raises(ValueError, match="never averages across suites"):
        delta_table(scores, baseline="general", by="mixture")
    comparisons = compare(scores, None, "mixture", "general")
    shapes = {
        (c.suite, c.mode): sorted(c.scores.loc[c.scores["level"] == "task", "name"].unique())
        for c in comparisons
    }
    assert shapes == {
        ("s", "generation"): ["t1", "t2"],
        ("s", "rank_classification"): ["t1"],
        ("lawbench", "generation"): ["1-1"],
    }
    generation = next(c for c in comparisons if c.mode == "generation" and c.suite == "s")
    overall = generation.deltas.set_index(["level", "name"]).loc[("overall", "overall")]
    assert overall["delta"] == pytest.approx(0.4)  # suite `s` has no rule: plain mean, scale 1
    assert "s · generation" in generation.title
    assert "unweighted mean over the tasks" in generation.rule.describe()
    with pytest.raises(ValueError, match="never averages or mixes suites"):
        markdown_table(comparisons)


def test_rows_must_match_the_schema(tmp_path):
    bad = _rows("general", 0, {"t": 0.5})[0] | {"surprise": 1}
    with pytest.raises(ValueError, match="extra \\['surprise'\\]"):
        write_rows(tmp_path / "x.jsonl", [bad], TASK_COLUMNS)


def test_importing_analysis_does_not_import_tensorflow_or_jax():
    code = (
        "import sys, flawn.analysis, flawn.results; "
        "import flawn.analysis.analyze, flawn.analysis.cards, flawn.analysis.compare; "
        "import flawn.analysis.plots, flawn.analysis.curves, flawn.analysis.synthetic; "
        "print(sorted(m for m in ('tensorflow', 'jax', 'seqio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
