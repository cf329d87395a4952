"""``flawn analyze`` and runs without a current evaluation: the same verdict as ``sweep status``."""

import dataclasses
import json
import shutil

import pytest

from flawn.analysis.analyze import analyze
from flawn.analysis.coverage import MissingEvaluations, missing_runs
from flawn.analysis.sweep_report import analyze_sweep
from flawn.analysis.synthetic import SimulatedTask, write_sweep
from flawn.cli import main
from flawn.evals.run import request_key
from flawn.runs import EvalSpec, RunDir, run_state

#: What the sweep asks of every run now, and what it asked before its settings changed.
CURRENT = EvalSpec(suite="sample", max_decode_length=16)
OLD = EvalSpec(suite="sample", max_decode_length=8)


def _finish(folder, spec: EvalSpec) -> None:
    """Records the run as a sweep worker does: trained, checkpointed, ``spec`` evaluated."""
    run_dir = RunDir(folder)
    run_dir.mark_started("local")
    (run_dir.final_stage().checkpoint_dir / "1").mkdir(parents=True)
    (eval_id,) = run_dir.eval_ids()
    run_dir.mark_finished(evals={request_key(spec): eval_id})


@pytest.fixture
def stale_sweep(tmp_path):
    """A sweep whose ``plus`` run was evaluated under settings the sweep no longer asks for."""
    root = tmp_path / "sweep"
    tasks = [SimulatedTask("sample_governing_law", 40, 2, 0.6),
             SimulatedTask("sample_gdpr_article", 40, 2, 0.5)]  # fmt: skip
    base, plus = write_sweep(root, tasks, {"base": 0.0, "plus": 0.1}, suite="sample")
    (root / "evals.json").write_text(json.dumps([dataclasses.asdict(CURRENT)]))
    _finish(base, CURRENT)
    _finish(plus, OLD)
    # its evaluation was made with the old settings, so its rows are another evaluation
    record = next((plus / "eval").glob("*/eval.json"))
    stored = json.loads(record.read_text())
    record.write_text(json.dumps({**stored, "spec": {**stored["spec"], "max_decode_length": 8}}))
    return root, base, plus


def test_a_stale_run_stops_the_analysis_unless_allowed_and_is_then_listed(
    stale_sweep, tmp_path, capsys
):
    root, base, plus = stale_sweep
    keys = [request_key(CURRENT)]
    # what `flawn sweep status` says of these runs
    assert run_state(RunDir(base), keys) == "finished" and run_state(RunDir(plus), keys) == "stale"

    out = tmp_path / "out"
    assert main(["analyze", str(root), "--out", str(out), "--resamples", "50"]) == 2
    err = capsys.readouterr().err
    assert "1 run(s) have no current evaluation" in err
    assert "small-plus-0" in err and "stale, 0/1 requested evaluation(s) finished" in err
    assert "flawn sweep launch" in err and "flawn eval run --run-dir" in err
    assert "--allow-missing" in err and "small-base-0" not in err

    argv = ["analyze", str(root), "--out", str(out), "--resamples", "50", "--allow-missing"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "warning: 1 run(s) without a current evaluation left out" in captured.err
    assert "small-plus-0" in captured.err
    note = "left out for want of a current evaluation: 1 run(s) (small-plus-0"
    assert note in captured.out
    (table,) = (out / "tables").glob("*.md")
    assert note in table.read_text()
    report = (out / "report.md").read_text()
    section = report.split("## Runs without a current evaluation", 1)[1]
    assert "| `small-plus-0` |" in section and "| stale | 0/1 |" in section

    # the sweep report (after `flawn sweep launch`) analyses what it can and lists the rest
    analysis = analyze_sweep([base, plus], "mixture", "base", tmp_path / "sweep_analysis")
    assert [m.run_id for m in analysis.missing] == ["small-plus-0"]


def test_a_missing_baseline_evaluation_says_so(stale_sweep, tmp_path, capsys):
    root, base, _ = stale_sweep
    run_dir = RunDir(base)
    run_dir.mark_failed("out of memory")
    shutil.rmtree(base / "eval")
    for allow in ([], ["--allow-missing"]):
        argv = ["analyze", str(root), "--out", str(tmp_path / "out"), *allow]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "the baseline (mixture=base) has no current evaluation" in err
        assert "small-base-0 (base/small/finetune/0): failed, 0/1" in err
        assert "nothing can be compared with the baseline" in err
    with pytest.raises(MissingEvaluations) as caught:
        analyze([root], tmp_path / "out", allow_missing=True)
    assert [m.run_id for m in caught.value.missing] == ["small-base-0", "small-plus-0"]
    assert analyze_sweep([root], "mixture", "base", tmp_path / "sweep_analysis") is None

    # no run evaluated at all: still the baseline's message, not only "nothing found"
    shutil.rmtree(root / "small-plus-0" / "eval")
    assert main(["analyze", str(root), "--out", str(tmp_path / "out")]) == 2
    assert "the baseline (mixture=base) has no current evaluation" in capsys.readouterr().err


def test_runs_without_recorded_requests_count_as_missing_without_rows(tmp_path, capsys):
    """Hand-made or simulated run folders (no run.json): a run without rows is missing."""
    tasks = [SimulatedTask("sample_clause_type", 30, 2, 0.6)]
    root = tmp_path / "sweep"
    write_sweep(root, tasks, {"base": 0.0, "plus": 0.1, "more": 0.2}, suite="sample")
    assert main(["analyze", str(root), "--out", str(tmp_path / "a"), "--resamples", "50"]) == 0
    shutil.rmtree(root / "small-more-0" / "eval")
    assert main(["analyze", str(root), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "small-more-0 (more/small/finetune/0): planned, no finished evaluation" in err


def test_requests_that_cannot_be_resolved_are_judged_by_rows_and_said_so(
    stale_sweep, tmp_path, caplog
):
    root, base, plus = stale_sweep
    # a suite whose files are not on this machine: the request keys cannot be computed
    (root / "evals.json").write_text(json.dumps([{"suite": "no_such_suite"}]))
    with caplog.at_level("WARNING", logger="flawn.analysis.coverage"):
        missing = missing_runs([root], evaluated=set())
    assert {m.run_id for m in missing} == {
        json.loads((f / "spec.json").read_text())["run_id"] for f in (base, plus)
    }
    warned = [r.getMessage() for r in caplog.records]
    assert any("cannot be resolved here" in m and "no_such_suite" in m for m in warned)
