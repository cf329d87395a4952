"""Rebuild the demo's delta tables from its run folders (no TensorFlow or JAX needed).

Usage:
  python analysis/rebuild_demo_table.py [runs/demo] [--baseline demo.general_only]

Reads every finished evaluation (``<run>/eval/<eval_id>/``) of the sweep folder
and prints, per evaluation (suite, scoring mode, settings), the per-task scores
of each mixture and their deltas against the baseline: the tables `flawn demo`
prints.
"""

from __future__ import annotations

import argparse

from flawn.analysis import format_table
from flawn.analysis.loading import run_folders
from flawn.analysis.sweep_report import sweep_tables


def main() -> None:
    """Prints the delta tables of a sweep folder."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sweep_dir", nargs="?", default="runs/demo")
    parser.add_argument("--baseline", default="demo.general_only")
    args = parser.parse_args()
    runs = run_folders([args.sweep_dir])
    tables = sweep_tables(runs, "mixture", args.baseline)
    if not tables:
        raise SystemExit(f"no evaluated runs under {args.sweep_dir}; run `make demo` first")
    for table in tables:
        print(f"{table.title}: {table.settings}\n")
        print(format_table(table.table))
        print(f"{table.rule}\n")


if __name__ == "__main__":
    main()
