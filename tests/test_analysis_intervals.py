"""Zero-width bootstrap intervals are flagged; notes say how the intervals were made."""

import json

import numpy as np
import pytest

from flawn.analysis import stats
from flawn.analysis.analyze import analyze
from flawn.analysis.cards import run_card
from flawn.analysis.compare import compare
from flawn.analysis.loading import load_examples, load_task_scores
from flawn.analysis.tables import DEGENERATE_NOTE, latex_table, markdown_table, task_table
from flawn.results import EXAMPLE_COLUMNS, TASK_COLUMNS, RunInfo, write_rows

N = 40
GOLD = np.array(["A", "B"] * (N // 2))
#: Says "A" to everything: class A all right, class B all wrong, in both runs.
CONSTANT = (GOLD == "A").astype(float)


def _write_run(root, mixture, values, metrics):
    """A run folder of the sample suite with per-example rows (values: {task: 0/1 array})."""
    axes = {"mixture": mixture, "size": "small", "seed": 0}
    info = RunInfo(mixture, f"{mixture}/small/0", "s", mixture, "small", "finetune", 0, axes=axes)
    folder = root / info.run_id
    (folder / "spec.json").parent.mkdir(parents=True)
    (folder / "spec.json").write_text(json.dumps({"run_id": info.run_id, "name": info.run_name,
                                                  "axes": axes, "stages": []}))  # fmt: skip
    target = folder / "eval" / "sample.generation-x"
    ident = {**info.as_row(), "eval_id": target.name, "suite": "sample", "mode": "generation"}
    tasks, examples = [], []
    for task, vals in values.items():
        if metrics[task] == "balanced_accuracy":
            score = np.mean([vals[g == GOLD].mean() for g in ("A", "B")])
        else:
            score = vals.mean()
        tasks.append({**ident, "task": task, "category": "", "metric": metrics[task],
                      "score": float(score), "n": N, "n_truncated": 0,
                      "abstention_rate": None})  # fmt: skip
        examples += [{**ident, "task": task, "example": str(i), "prompt_hash": "",
                      "prediction": "", "gold": str(GOLD[i]), "metric": "exact_match",
                      "value": float(v), "truncated": False}
                     for i, v in enumerate(vals)]  # fmt: skip
    write_rows(target / "tasks.jsonl", tasks, TASK_COLUMNS)
    write_rows(target / "examples.jsonl", examples, EXAMPLE_COLUMNS)
    (target / "eval.json").write_text(json.dumps({"spec": {"suite": "sample"}, "describe": "x"}))


@pytest.fixture
def sweep(tmp_path):
    """Two runs; on sample_governing_law both say "A" to every item (a constant predictor)."""
    rng = np.random.default_rng(0)
    metrics = {
        "sample_governing_law": "balanced_accuracy",  # interpretation
        "sample_limitation_period": "balanced_accuracy",  # rule-recall
        "sample_gdpr_article": "accuracy",  # rule-recall, scored as a plain mean here
    }
    for mixture, p in (("general", 0.5), ("legal", 0.7)):
        values = {
            "sample_governing_law": CONSTANT,
            "sample_limitation_period": (rng.random(N) < p).astype(float),
            "sample_gdpr_article": (rng.random(N) < p).astype(float),
        }
        _write_run(tmp_path / "sweep", mixture, values, metrics)
    (tmp_path / "sweep" / "manifest.json").write_text(
        json.dumps({"baseline": {"mixture": "general"}})
    )
    return tmp_path / "sweep"


def test_a_stratum_all_right_or_all_wrong_gives_a_zero_width_interval_that_is_flagged():
    values = np.column_stack([CONSTANT, CONSTANT])
    strata = (GOLD == "B").astype(int)
    boot = stats.bootstrap_task_statistics([stats.TaskMatrix("t", values, strata)], 200)
    assert np.ptp(boot) == 0  # every resample the same: resampling within classes cannot vary
    lo, hi = stats.percentile_interval(boot[:, 0, :])
    assert stats.zero_width(lo, hi).all()
    unstratified = stats.bootstrap_task_statistics([stats.TaskMatrix("t", values)], 200)
    lo, hi = stats.percentile_interval(unstratified[:, 0, :])
    assert not stats.zero_width(lo, hi).any()
    assert not stats.zero_width([np.nan], [np.nan]).any()


def test_tables_mark_degenerate_intervals_and_name_the_stratification(sweep, tmp_path):
    tasks, examples = load_task_scores([sweep]), load_examples([sweep])
    (comparison,) = compare(tasks, examples, "mixture", "general", n_resamples=300)
    assert sorted(comparison.stratified) == ["sample_governing_law", "sample_limitation_period"]
    flat = comparison.deltas.set_index(["level", "name"])["degenerate"]
    assert flat[("task", "sample_governing_law")] and flat[("group", "interpretation")]
    assert not flat[("task", "sample_limitation_period")] and not flat[("overall", "overall")]
    scores = comparison.scores.set_index(["condition", "level", "name"])
    assert scores.loc[("general", "task", "sample_governing_law"), "degenerate"]

    stratification = (
        "stratified by gold class for the 2 task(s) scored by balanced accuracy "
        "(sample_governing_law, sample_limitation_period), unstratified for the other 1"
    )
    text = markdown_table([comparison])
    (row,) = [line.split("|") for line in text.splitlines() if "|     legal |" in line]
    rule_recall, interpretation, overall = (cell.strip() for cell in row[3:6])
    assert interpretation == "50.0 (+0.0 [+0.0, +0.0]†)"
    assert "†" not in rule_recall + overall
    assert DEGENERATE_NOTE in text and stratification in text
    assert "all right or all wrong" in DEGENERATE_NOTE

    tex = latex_table([comparison])
    assert r"[$+$0.0, $+$0.0]$^\dagger$)" in tex and "†" not in tex
    assert r"$^\dagger$ zero-width interval: degenerate, not certainty" in tex

    per_task = task_table(comparison)
    assert "+0.0 [+0.0, +0.0]†" in per_task and DEGENERATE_NOTE in per_task
    assert stratification in per_task

    # the tidy output carries the flag, and the report's tables say the same
    out = analyze([sweep], tmp_path / "out", n_resamples=300, plots=False, cards=False)
    frame = __import__("pandas").read_parquet(out.files["data"][0])
    assert frame.loc[frame["name"] == "sample_governing_law", "degenerate"].all()
    assert not frame.loc[frame["name"] == "sample_limitation_period", "degenerate"].any()
    report = (tmp_path / "out" / "report.md").read_text()
    assert report.count(DEGENERATE_NOTE) == 2  # under the paper table and the per-task table

    mine = tasks["run_id"] == "general"
    card = run_card(sweep / "general", tasks[mine], examples[examples["run_id"] == "general"], 200)
    assert "| task | sample_governing_law | 50.0 | [50.0, 50.0]† |" in card
    assert DEGENERATE_NOTE in card


def test_without_a_degenerate_interval_there_is_no_dagger(sweep):
    tasks, examples = load_task_scores([sweep]), load_examples([sweep])
    kept = tasks["task"] != "sample_governing_law"
    (comparison,) = compare(
        tasks[kept], examples[examples["task"] != "sample_governing_law"], "mixture", "general",
        n_resamples=300,
    )  # fmt: skip
    assert not comparison.deltas["degenerate"].any()
    assert "†" not in markdown_table([comparison]) + task_table(comparison)


def test_significant_names_the_test_and_the_correction(sweep):
    tasks, examples = load_task_scores([sweep]), load_examples([sweep])
    (comparison,) = compare(tasks, examples, "mixture", "general", n_resamples=100)
    rule = (
        "significant = Holm-adjusted p < 0.05 (McNemar's exact test per task, "
        "Holm correction across the tasks of each condition)"
    )
    per_task = task_table(comparison)
    assert rule in per_task
    header = per_task.splitlines()[0]
    assert header.split("|")[-2].strip() == "significant"
    assert stats.significance_rule(["wilcoxon", "mcnemar_exact"], "bh", 0.1) == (
        "significant = Benjamini-Hochberg-adjusted p < 0.1 (McNemar's exact test on 0/1 items, "
        "Wilcoxon signed-rank test on other values per task, Benjamini-Hochberg correction "
        "across the tasks of each condition)"
    )
    with pytest.raises(ValueError, match="unknown test"):
        stats.significance_rule(["t_test"])
