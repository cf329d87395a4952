"""Analysis at sweep scale: 100 runs x full LegalBench per-example results (~9M rows).

Writes a simulated evaluated sweep (4 sizes x 5 mixtures x 5 seeds = 100 runs,
every LegalBench task at its real test size, 90,344 items per run, rule_qa
out) with :mod:`flawn.analysis.synthetic`, the per-example rows in the
loader's parquet format, then measures, in a fresh process so that memory is
the analysis' own: loading the per-task and per-example rows, comparing every
mixture with the baseline within each size (rule aggregation into categories,
overall and the held-out views; 1,000 paired bootstrap resamples; per-task
McNemar tests with Holm and BH corrections), and rendering the Markdown and
LaTeX tables. Plots are timed apart (``--plots``).

Usage:
  python bench/analysis_scale.py [--out /tmp/flawn_analysis_scale] [--resamples 1000]
      [--sizes 4] [--mixtures 5] [--seeds 5] [--plots] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

_SIZES = ("small", "base", "large", "xl", "xxl")


def _measure(out: str, resamples: int, plots: bool) -> dict:
    """Loads, compares and tabulates the sweep in ``out``; seconds per step and peak RSS."""
    timings = {}
    started = time.perf_counter()
    from flawn.analysis import compare, latex_table, load_examples, load_task_scores, markdown_table

    timings["import_s"] = time.perf_counter() - started
    step = time.perf_counter()
    tasks = load_task_scores([out])
    timings["load_tasks_s"] = time.perf_counter() - step
    step = time.perf_counter()
    examples = load_examples([out])
    timings["load_examples_s"] = time.perf_counter() - step
    step = time.perf_counter()
    comparisons = compare(tasks, examples, "mixture", "mix0", n_resamples=resamples)
    timings["compare_s"] = time.perf_counter() - step
    step = time.perf_counter()
    markdown, latex = markdown_table(comparisons), latex_table(comparisons)
    timings["tables_s"] = time.perf_counter() - step
    timings["total_s"] = time.perf_counter() - started
    if plots:
        from flawn.analysis import comparisons_frame
        from flawn.analysis import plots as figures

        step = time.perf_counter()
        frame = comparisons_frame(comparisons)
        deltas = frame[(frame["kind"] == "delta") & (frame["level"] == "task")]
        first = deltas[deltas["group.size"] == deltas["group.size"].iloc[0]]
        figures.save_figure(figures.plot_forest(first), out + "-plots", "forest")
        timings["forest_plot_s"] = time.perf_counter() - step
    return {
        "runs": int(tasks["run_id"].nunique()),
        "example_rows": len(examples),
        "task_rows": len(tasks),
        "comparisons": len(comparisons),
        "resamples": resamples,
        **{k: round(v, 2) for k, v in timings.items()},
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "table_lines": markdown.count("\n") + 1,
        "latex_bytes": len(latex),
    }


def main() -> None:
    """Writes the simulated sweep (unless present) and measures its analysis."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="/tmp/flawn_analysis_scale")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--sizes", type=int, default=4)
    parser.add_argument("--mixtures", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--plots", action="store_true", help="also time a 161-task forest plot")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_only:
        print(json.dumps(_measure(args.out, args.resamples, args.plots)))
        return
    if not os.path.exists(os.path.join(args.out, "manifest.json")):
        from flawn.analysis.synthetic import legalbench_tasks, write_sweep

        started = time.perf_counter()
        write_sweep(
            args.out,
            legalbench_tasks(),
            {f"mix{i}": 0.02 * i for i in range(args.mixtures)},
            sizes=_SIZES[: args.sizes],
            seeds=range(args.seeds),
            seed_sd=0.01,
            parquet_only=True,
        )
        print(f"wrote the simulated sweep in {time.perf_counter() - started:.0f} s: {args.out}")
    command = [sys.executable, __file__, "--measure-only", "--out", args.out]
    command += ["--resamples", str(args.resamples)] + (["--plots"] if args.plots else [])
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    for key, value in result.items():
        print(f"{key:>16}: {value}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
