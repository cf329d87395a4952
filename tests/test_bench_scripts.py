"""The measurement scripts in bench/ (other than train_throughput), each run at a small size.

docs/benchmarks.md shows each script at its full size, which takes minutes; these tests run
the same code paths with small flags, so a script that no longer runs, or that writes
figures that do not add up, fails here. They check what the figures say, never how fast.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flawn import paths
from flawn.models.flops import count_parameters
from flawn.models.sizes import get_size

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

pytestmark = pytest.mark.slow


def _run(script: str, *flags: str) -> subprocess.CompletedProcess:
    """Runs ``bench/<script>`` with ``flags`` from the repository root; fails on a bad exit."""
    env = dict(os.environ)
    # This checkout's flawn, not another one the interpreter may have installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, str(BENCH / script), *flags]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_data_pipeline_measures_the_pipeline_and_the_ceiling(tmp_path):
    out = tmp_path / "figures.json"
    flags = ["--sources", "2", "--batches", "2", "--examples", "50"]
    flags += ["--inputs", "128", "--targets", "32", "--batch-size", "4", "--json", str(out)]
    done = _run("data_pipeline.py", *flags)
    figures = json.loads(out.read_text())
    assert figures["sources"] == 2
    assert figures["records_in_shards"] == 2 * 50
    assert figures["lengths"] == "128/32, packed, batch 4"
    rates = [
        "pipeline_packed_examples_per_s",
        "pipeline_target_tokens_per_s",
        "pipeline_first_batch_s (buffers fill)",
        "raw_spm_examples_per_s",
        "raw_spm_tokens_per_s",
        "raw_spm_target_tokens_per_s",
        "ratio_examples",
    ]
    assert all(_positive(figures[key]) for key in rates), figures
    # A packed example has at least one target token and fits in one 32-token row.
    per_example = (
        figures["pipeline_target_tokens_per_s"] / figures["pipeline_packed_examples_per_s"]
    )
    assert 1 <= per_example <= 32
    ratio = figures["pipeline_packed_examples_per_s"] / figures["raw_spm_examples_per_s"]
    assert figures["ratio_examples"] == pytest.approx(ratio, rel=0.02, abs=0.001)
    # The printed table holds the same figures.
    for key, value in figures.items():
        assert f"{key:32s} {value}" in done.stdout


def test_catalog_mixture_startup_builds_the_full_mixture(tmp_path):
    out = tmp_path / "figures.json"
    # Every catalog subset still gets a task (the script's point), with one record each.
    flags = ["--scale", "1e-9", "--min-examples", "1", "--batch-size", "2"]
    flags += ["--inputs", "64", "--targets", "16", "--shuffle-buffer", "8", "--json", str(out)]
    done = _run("catalog_mixture_startup.py", *flags)
    figures = json.loads(out.read_text())
    assert figures["shards"] > 100  # all of the catalog's subsets, not a sample of them
    assert figures["records"] == figures["shards"]
    assert figures["tasks"] == figures["shards"] + 1  # and the general sample
    steps = ["import_s", "register_tasks_s", "register_mixture_s", "build_pipeline_s"]
    steps += ["first_batch_s"]
    assert all(figures[key] >= 0 for key in steps)
    assert all(_positive(figures[key]) for key in ("write_shards_s", "startup_s", "startup_cpu_s"))
    # "Startup" is the sum of the steps after shard writing.
    assert figures["startup_s"] == pytest.approx(sum(figures[key] for key in steps), rel=1e-6)
    shapes = figures["batch_shapes"]
    assert shapes["encoder_input_tokens"] == [2, 64]
    assert shapes["decoder_target_tokens"] == [2, 16]
    assert f"shards: {figures['shards']} files, {figures['records']} records" in done.stdout
    assert "startup_s:" in done.stdout


def test_eval_throughput_times_both_scoring_modes(tmp_path):
    out = tmp_path / "figures.json"
    flags = ["--sizes", "tiny", "--batch-size", "4", "--repeats", "1", "--inputs", "64"]
    flags += ["--max-decode-length", "4", "--json", str(out)]
    done = _run("eval_throughput.py", *flags)
    figures = json.loads(out.read_text())
    assert (figures["inputs"], figures["max_decode_length"], figures["batch_size"]) == (64, 4, 4)
    assert _positive(figures["prompt_fitting_examples_per_s"])
    (row,) = figures["results"]
    assert row["size"] == "tiny"

    from flawn.evals.legalbench.tasks import load_suite
    from flawn.vocab import load_vocabulary

    tasks = load_suite(paths.SAMPLE_DATA_DIR / "legalbench")
    assert row["examples"] == sum(len(task.examples) for task in tasks)
    assert row["labels_per_task"] == {task.name: len(task.label_set()) for task in tasks}
    vocabulary = load_vocabulary(str(paths.SAMPLE_VOCAB))
    config = get_size("tiny").t5_config().with_vocab_size(vocabulary.vocab_size)
    assert row["params"] == count_parameters(dict(get_size("tiny").shape), config.vocab_size).total
    assert 1 <= row["gen_steps_per_batch"] <= 4
    rates = ["generation_examples_per_s", "rank_classification_examples_per_s"]
    rates += ["speedup_rank_vs_generation", "gen_compile_s", "rank_compile_s"]
    assert all(_positive(row[key]) for key in rates), row
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("size "))
    assert "generation ex/s" in lines[header] and "rank ex/s" in lines[header]
    assert lines[header + 1].split()[:2] == ["tiny", str(row["params"])]


def test_analysis_scale_loads_compares_and_tabulates_the_sweep(tmp_path):
    sweep, out = tmp_path / "sweep", tmp_path / "figures.json"
    flags = ["--sizes", "1", "--mixtures", "2", "--seeds", "1", "--resamples", "20"]
    flags += ["--out", str(sweep), "--json", str(out)]
    done = _run("analysis_scale.py", *flags)
    assert (sweep / "manifest.json").is_file()
    figures = json.loads(out.read_text())

    from flawn.analysis.synthetic import legalbench_tasks

    tasks = legalbench_tasks()
    runs = 1 * 2 * 1  # sizes x mixtures x seeds
    assert figures["runs"] == runs
    assert figures["task_rows"] == runs * len(tasks)
    assert figures["example_rows"] == runs * sum(task.n for task in tasks)
    assert figures["comparisons"] == 1  # mix1 against the baseline mix0, in the one size
    assert figures["resamples"] == 20
    counts = ["table_lines", "latex_bytes", "peak_rss_gb", "total_s"]
    assert all(_positive(figures[key]) for key in counts), figures
    assert f"{'example_rows':>16}: {figures['example_rows']}" in done.stdout
