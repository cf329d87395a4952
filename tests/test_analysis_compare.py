"""Aggregation rules, comparisons with intervals and tests, paper tables, `flawn analyze`."""

import json
import pathlib

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from flawn.analysis import stats
from flawn.analysis.analyze import analyze
from flawn.analysis.compare import Comparison, compare
from flawn.analysis.loading import load_examples, load_task_scores, load_wandb_export
from flawn.analysis.rules import AggregationRule, read_rules, rule_for_suite
from flawn.analysis.synthetic import SimulatedTask, write_sweep
from flawn.analysis.tables import latex_table, markdown_table, table_cells
from flawn.cli import main

#: Real LegalBench tasks, one or two per category (two from sources LawInstruct trains on).
LEGALBENCH = {
    "corporate_lobbying": "issue-spotting",
    "learned_hands_benefits": "issue-spotting",
    "citation_prediction_classification": "rule-recall",
    "abercrombie": "rule-conclusion",
    "hearsay": "rule-conclusion",
    "consumer_contracts_qa": "interpretation",
    "cuad_audit_rights": "interpretation",
    "canada_tax_court_outcomes": "rhetorical-understanding",
}


def test_legalbench_rule_categories_overall_views_and_rule_qa():
    rule = rule_for_suite("legalbench")
    assert rule.group_order == (
        "issue-spotting", "rule-recall", "rule-conclusion", "interpretation",
        "rhetorical-understanding",
    )  # fmt: skip
    assert "rule_qa" in rule.excluded and "rule_qa" not in rule.groups
    assert len(rule.groups) == 161
    scores = pd.Series(
        [0.1, 0.3, 0.5, 0.2, 0.4, 0.6, 0.8, 0.9, 0.99],
        index=[*LEGALBENCH, "rule_qa"],
    )
    out = rule.aggregate(scores)
    assert out[("group", "issue-spotting")] == pytest.approx(0.2)
    assert out[("group", "rule-conclusion")] == pytest.approx(0.3)
    assert out[("group", "interpretation")] == pytest.approx(0.7)
    # overall: the mean of the five category means, not of the eight tasks
    assert out[("overall", "overall")] == pytest.approx((0.2 + 0.5 + 0.3 + 0.7 + 0.9) / 5)
    assert np.mean(scores.iloc[:8]) != pytest.approx(out[("overall", "overall")])
    # views: learned_hands_* and cuad_* are built from LawInstruct sources; the rest is held out
    assert out[("view", "in_lawinstruct")] == pytest.approx((0.3 + 0.8) / 2)
    held_out = (0.1 + 0.5 + (0.2 + 0.4) / 2 + 0.6 + 0.9) / 5
    assert out[("view", "held_out")] == pytest.approx(held_out)
    text = rule.describe()
    assert "rule_qa is left out" in text and "held_out" in text
    lawbench = rule_for_suite("lawbench.zero_shot").describe()
    assert "2-1 is approximate" in lawbench and "0.0021" in lawbench
    extended = rule.views[0].extended(["abercrombie"])
    assert extended.matches("abercrombie") and not rule.views[0].matches("abercrombie")


def test_a_task_outside_the_rule_and_bad_rule_files_name_the_problem(tmp_path):
    rule = rule_for_suite("legalbench")
    with pytest.raises(ValueError, match=r"my_own_task.*no category"):
        rule.aggregate(pd.Series([0.5], index=["my_own_task"]))
    bad = tmp_path / "aggregation.toml"
    bad.write_text('benchmark = "x"\nsuites = ["x"]\noverall = "median"\n')
    with pytest.raises(ValueError, match=r"aggregation\.toml: overall = 'median'"):
        read_rules(bad)
    bad.write_text('benchmark = "x"\nsuites = ["x"]\ngroupz = []\n')
    with pytest.raises(ValueError, match=r"unknown key.*groupz"):
        read_rules(bad)
    assert (
        rule_for_suite("my_folder_suite")
        .describe()
        .startswith(
            "my_folder_suite: each task's official metric; overall = unweighted mean over the tasks"
        )
    )


def _write_run(root, mixture, seed, suite_values, suite="legalbench", metric="accuracy"):
    """A run folder with per-task and per-example rows (values: {task: [0/1...]})."""
    from flawn.results import EXAMPLE_COLUMNS, TASK_COLUMNS, RunInfo, write_rows

    axes = {"mixture": mixture, "size": "small", "regime": "finetune", "seed": seed}
    info = RunInfo(f"{mixture}-{seed}", f"{mixture}/s{seed}", "t", mixture, "small", "finetune",
                   seed, axes=axes)  # fmt: skip
    folder = root / info.run_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.json").write_text(json.dumps({"run_id": info.run_id, "name": info.run_name,
                                                  "axes": axes, "stages": []}))  # fmt: skip
    target = folder / "eval" / f"{suite}.generation-x"
    ident = {**info.as_row(), "eval_id": f"{suite}.generation-x", "suite": suite,
             "mode": "generation"}  # fmt: skip
    tasks, examples = [], []
    for task, values in suite_values.items():
        tasks.append({**ident, "task": task, "category": "", "metric": metric,
                      "score": float(np.mean(values)), "n": len(values), "n_truncated": 0,
                      "abstention_rate": None})  # fmt: skip
        for i, v in enumerate(values):
            examples.append({**ident, "task": task, "example": str(i), "prompt_hash": "",
                             "prediction": "", "gold": "A" if i % 2 else "B",
                             "metric": "exact_match", "value": float(v),
                             "truncated": False})  # fmt: skip
    write_rows(target / "tasks.jsonl", tasks, TASK_COLUMNS)
    write_rows(target / "examples.jsonl", examples, EXAMPLE_COLUMNS)
    (target / "eval.json").write_text(json.dumps({"spec": {"suite": suite}, "describe": suite}))
    return folder


def _values(rng, p, n=60):
    return (rng.random(n) < p).astype(int).tolist()


@pytest.fixture
def two_seed_sweep(tmp_path):
    rng = np.random.default_rng(0)
    for mixture, gain in (("general", 0.0), ("legal", 0.25)):
        for seed in (0, 1):
            _write_run(
                tmp_path,
                mixture,
                seed,
                {t: _values(rng, 0.4 + gain + 0.05 * seed) for t in LEGALBENCH},
            )
    (tmp_path / "manifest.json").write_text(json.dumps({"baseline": {"mixture": "general"}}))
    return tmp_path


def test_compare_aggregates_by_the_rule_with_paired_intervals_and_corrected_tests(two_seed_sweep):
    tasks, examples = load_task_scores([two_seed_sweep]), load_examples([two_seed_sweep])
    (comparison,) = compare(tasks, examples, "mixture", "general", n_resamples=400)
    deltas = comparison.deltas.set_index(["level", "name"])
    # point estimates: the rule applied to the mean over seeds of each task's official score
    rule = rule_for_suite("legalbench")
    mean_scores = tasks.groupby(["mixture", "task"])["score"].mean()
    expected = rule.aggregate(mean_scores["legal"]) - rule.aggregate(mean_scores["general"])
    for key in [("overall", "overall"), ("group", "interpretation"), ("view", "held_out")]:
        assert deltas.loc[key, "delta"] == pytest.approx(100 * expected[key])
        assert deltas.loc[key, "lo"] < deltas.loc[key, "delta"] < deltas.loc[key, "hi"]
    assert deltas.loc[("overall", "overall"), "lo"] > 0  # a 25-point gain on 8 x 60 items
    task_rows = comparison.deltas[comparison.deltas["level"] == "task"]
    assert set(task_rows["test"]) == {"mcnemar_exact"}
    # McNemar pooled over seed-matched pairs, then Holm and BH across the tasks (statsmodels)
    wide = examples.pivot_table(index=["task", "example"], columns="run_id", values="value")
    first = wide.loc["abercrombie"]
    direct = stats.mcnemar_exact(
        first[["general-0", "general-1"]].to_numpy(), first[["legal-0", "legal-1"]].to_numpy()
    )
    row = task_rows.set_index("name").loc["abercrombie"]
    assert row["p_value"] == pytest.approx(direct.p_value)
    p = task_rows["p_value"].to_numpy()
    assert task_rows["p_holm"].to_numpy() == pytest.approx(multipletests(p, method="holm")[1])
    assert task_rows["p_bh"].to_numpy() == pytest.approx(multipletests(p, method="fdr_bh")[1])
    assert any("2 seed(s) per condition" in n for n in comparison.notes)
    # the spread of the seeds' own scores, beside the combined interval
    overall_scores = comparison.scores.set_index(["condition", "level", "name"])
    seeds = [
        100 * rule.aggregate(rows.set_index("task")["score"])[("overall", "overall")]
        for _, rows in tasks[tasks["mixture"] == "legal"].groupby("seed")
    ]
    assert overall_scores.loc[("legal", "overall", "overall"), "seed_sd"] == pytest.approx(
        np.std(seeds, ddof=1)
    )


def test_a_named_run_can_be_the_baseline(two_seed_sweep):
    tasks, examples = load_task_scores([two_seed_sweep]), load_examples([two_seed_sweep])
    (comparison,) = compare(tasks, examples, "run_name", "general/s0", n_resamples=100)
    assert set(comparison.deltas["condition"]) == {"general/s1", "legal/s0", "legal/s1"}
    assert (comparison.scores["n_seeds"] == 1).all()


def test_seed_spread_widens_the_interval(tmp_path):
    rng = np.random.default_rng(1)
    tasks = {"abercrombie": 0.5, "hearsay": 0.5}
    for mixture, offsets in (("general", (0.0, 0.0)), ("legal", (0.0, 0.3))):
        for seed, offset in enumerate(offsets):
            _write_run(
                tmp_path,
                mixture,
                seed,
                {t: _values(rng, p + offset, 200) for t, p in tasks.items()},
            )
    rows, examples = load_task_scores([tmp_path]), load_examples([tmp_path])
    (both,) = compare(rows, examples, "mixture", "general", n_resamples=500)
    (one,) = compare(rows[rows["seed"] == 0], examples[examples["seed"] == 0], "mixture",
                     "general", n_resamples=500)  # fmt: skip

    def width(c):
        d = c.deltas.set_index(["level", "name"]).loc[("overall", "overall")]
        return d["hi"] - d["lo"]

    assert width(both) > 1.5 * width(one)


def test_suites_and_modes_are_never_averaged_together(two_seed_sweep):
    rng = np.random.default_rng(2)
    for mixture in ("general", "legal"):
        _write_run(
            two_seed_sweep, mixture, 0, {"1-1": _values(rng, 0.3)}, suite="lawbench.zero_shot"
        )
    tasks, examples = load_task_scores([two_seed_sweep]), load_examples([two_seed_sweep])
    comparisons = compare(tasks, examples, "mixture", "general", n_resamples=50)
    assert sorted(c.suite for c in comparisons) == ["lawbench.zero_shot", "legalbench"]
    for c in comparisons:
        tasks_seen = set(c.scores.loc[c.scores["level"] == "task", "name"])
        assert tasks_seen == ({"1-1"} if c.suite.startswith("lawbench") else set(LEGALBENCH))
    with pytest.raises(ValueError, match="never averages or mixes suites"):
        markdown_table(comparisons)


def _fixed_comparison() -> Comparison:
    """A comparison with fixed numbers, as compare() would return it."""
    rule = AggregationRule(
        benchmark="bench",
        suites=("bench",),
        group_name="category",
        groups={"t1": "rule-recall", "t2": "interpretation"},
        group_order=("rule-recall", "interpretation"),
        overall="groups",
        scale=100.0,
        excluded={"t3": "graded by hand"},
    )
    scores, deltas = [], []
    for condition, values in (
        ("general_only", (40.0, 50.0, 45.0)),
        ("legal_50%", (52.5, 49.0, 50.75)),
    ):
        for (level, name), value in zip(
            [("group", "rule-recall"), ("group", "interpretation"), ("overall", "overall")],
            values,
            strict=True,
        ):
            scores.append({"condition": condition, "level": level, "name": name, "score": value,
                           "lo": value - 3, "hi": value + 3, "n_seeds": 1})  # fmt: skip
            if condition != "general_only":
                base = 40.0 if name == "rule-recall" else 50.0 if name == "interpretation" else 45.0
                deltas.append({"condition": condition, "level": level, "name": name,
                               "score": value, "baseline_score": base, "delta": value - base,
                               "lo": value - base - 2.25, "hi": value - base + 2.25})  # fmt: skip
    return Comparison(
        suite="bench", mode="generation", settings="greedy, 8 tokens", eval_key="k",
        group={"size": "base"}, condition="mixture", baseline="general_only", rule=rule,
        scores=pd.DataFrame(scores), deltas=pd.DataFrame(deltas), notes=[], n_resamples=1000,
    )  # fmt: skip


def test_latex_table_equals_the_stored_file():
    expected = pathlib.Path(__file__).parent / "data" / "analysis_table.tex"
    assert latex_table([_fixed_comparison()], label="tab:legal") == expected.read_text()
    text = markdown_table([_fixed_comparison()])
    assert "legal_50% | 52.5 (+12.5 [+10.2, +14.8]) |" in text
    assert "-1.0 [-3.2, +1.2]" in text
    scores, _deltas = table_cells([_fixed_comparison()])
    assert list(scores.columns) == ["rule-recall", "interpretation", "overall"]


def test_wandb_export_gives_point_estimates_without_intervals(tmp_path):
    export = tmp_path / "wandb_export.csv"
    pd.DataFrame(
        {
            "Name": ["g eval", "l eval"],
            "run_id": ["g", "l"],
            "axis.mixture": ["general", "legal"],
            "axis.size": ["small", "small"],
            "axis.seed": [0, 0],
            "eval/legalbench.generation/abercrombie": [0.5, 0.7],
            "eval/legalbench.generation/hearsay": [0.3, 0.4],
        }
    ).to_csv(export, index=False)
    rows = load_wandb_export(export)
    assert len(rows) == 4 and set(rows["suite"]) == {"legalbench"}
    (comparison,) = compare(rows, None, "mixture", "general")
    overall = comparison.deltas.set_index(["level", "name"]).loc[("overall", "overall")]
    assert overall["delta"] == pytest.approx(15.0)  # both in rule-conclusion: mean of 0.2 and 0.1
    assert np.isnan(overall["lo"]) and any("no per-example rows" in n for n in comparison.notes)
    bad = tmp_path / "other.csv"
    pd.DataFrame({"Name": ["x"], "loss": [1.0]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"other\.csv: no eval/"):
        load_wandb_export(bad)


def test_flawn_analyze_writes_tables_plots_cards_and_parquet(two_seed_sweep, tmp_path, capsys):
    (two_seed_sweep / "report.md").write_text("# a stray file a glob catches\n")
    out = tmp_path / "out"
    argv = ["analyze", *map(str, sorted(two_seed_sweep.iterdir())), "--out", str(out),
            "--resamples", "200"]  # fmt: skip
    assert main(argv) == 0  # the baseline comes from the sweep's manifest
    printed = capsys.readouterr().out
    assert "legalbench · generation" in printed and "held_out" in printed
    assert (out / "report.md").exists() and "Ignored inputs" in (out / "report.md").read_text()
    tex = list((out / "tables").glob("*.tex"))
    assert len(tex) == 1 and "\\toprule" in tex[0].read_text()
    assert {p.suffix for p in (out / "plots").iterdir()} == {".png", ".pdf"}
    assert len(list((out / "cards").glob("*.md"))) == 4
    frame = pd.read_parquet(out / "comparisons.parquet")
    assert {"delta", "lo", "hi", "p_holm", "p_bh"} <= set(frame.columns)
    assert len(pd.read_parquet(out / "examples.parquet")) == 4 * len(LEGALBENCH) * 60
    assert main(["analyze", str(two_seed_sweep), "--out", str(out), "--baseline", "nope"]) == 2
    assert "baseline 'nope' not among" in capsys.readouterr().err


def test_simulated_sweep_recovers_the_true_gain(tmp_path):
    tasks = [SimulatedTask(f"t{i}", 300, 2, 0.5) for i in range(4)]
    folders = write_sweep(tmp_path, tasks, {"base": 0.0, "plus": 0.1}, suite="sim", seed=3)
    (comparison,) = compare(
        load_task_scores(folders), load_examples(folders), "mixture", "base", n_resamples=500
    )
    overall = comparison.deltas.set_index(["level", "name"]).loc[("overall", "overall")]
    assert overall["lo"] <= 0.1 <= overall["hi"]  # no rule for `sim`: plain mean, scale 1


CARD_TO_WANDB = """
import json, pathlib, sys
from flawn.analysis.cards import log_card_to_wandb
from flawn.train.wandb_offline import read_offline_run

run = pathlib.Path(sys.argv[1])
card = run / "card.md"
first = log_card_to_wandb(run, card)
again = log_card_to_wandb(run, card)  # unchanged: not logged twice
(found,) = sorted((run / "wandb").glob("offline-run-*"))
logged = read_offline_run(found)
print(json.dumps({"first": first, "again": again, "artifacts": logged.artifacts,
                  "config": logged.config}))
"""


def test_run_card_lists_plan_counts_and_scores_and_goes_to_wandb(two_seed_sweep, tmp_path):
    import subprocess
    import sys

    from flawn.analysis.cards import run_card

    run = two_seed_sweep / "legal-0"
    stage = run / "stages" / "finetune"
    stage.mkdir(parents=True)
    spec = json.loads((run / "spec.json").read_text())
    spec["stages"] = [{"name": "finetune", "mixture": "legal", "steps": 10, "init": "scratch"}]
    (run / "spec.json").write_text(json.dumps(spec))
    plan = {"rows": [{"source": "sample_lawinstruct.a", "share": 0.25, "num_examples": 100,
                      "epochs": 1.5}]}  # fmt: skip
    (stage / "plan.json").write_text(json.dumps(plan))
    (stage / "data_counts.json").write_text(
        json.dumps({"sources": {"sample_lawinstruct.a": {"drawn": 26, "drawn_share": 0.26}}})
    )
    (stage / "bad_records.json").write_text(
        json.dumps({"a-0.jsonl.xz": {"read": 30, "kept": 26, "skipped": {"bad_json": 4}}})
    )
    card = run_card(run, n_resamples=200)
    assert "| sample_lawinstruct.a | 0.2500 | 100 | 1.50 | 26 | 0.2600 |" in card
    assert "| a-0.jsonl.xz | 30 | 26 | bad_json: 4 |" in card
    assert "| overall | overall |" in card and "held_out" in card
    assert "data fingerprint" in card and "config hash" in card
    (run / "card.md").write_text(card)
    (run / "wandb").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", CARD_TO_WANDB, str(run)],
        capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["first"] and result["again"] is None
    assert result["artifacts"] == [["run_card", "run_card", ["card.md"]]]
    assert result["config"]["axis.mixture"] == "legal"


def test_a_decontamination_report_moves_tasks_out_of_the_held_out_view(two_seed_sweep, tmp_path):
    report = tmp_path / "contamination.tsv"
    report.write_text(
        "benchmark\ttask\tsource\titems_overlapped\titems\tshare\n"
        "legalbench\tabercrombie\t*\t3\t60\t0.05\n"
        "legalbench\thearsay\t*\t0\t60\t0.0\n"
    )
    out = analyze(
        [two_seed_sweep], tmp_path / "b", n_resamples=50, plots=False, cards=False,
        contamination=[report],
    )  # fmt: skip
    (comparison,) = out.comparisons
    views = comparison.rule.views[0]
    assert views.matches("abercrombie") and not views.matches("hearsay")
    scores = comparison.scores.set_index(["condition", "level", "name"])["score"]
    tasks = out.tasks[out.tasks["mixture"] == "general"].groupby("task")["score"].mean()
    held_out = (tasks["corporate_lobbying"] + tasks["citation_prediction_classification"]
                + tasks["hearsay"] + tasks["consumer_contracts_qa"]
                + tasks["canada_tax_court_outcomes"]) / 5  # fmt: skip
    assert scores[("general", "view", "held_out")] == pytest.approx(100 * held_out)
