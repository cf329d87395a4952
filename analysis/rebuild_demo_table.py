"""Rebuild the demo's paper table from its run folders (no TensorFlow or JAX needed).

Usage:
  python analysis/rebuild_demo_table.py [runs/demo] [--baseline demo.general_only] [--latex]

Reads every finished evaluation of the sweep folder and prints, per evaluation
(suite, scoring mode, settings), each mixture's category and overall scores
with its delta against the baseline and a 95% paired bootstrap interval: the
table `flawn demo` prints (`--latex` for the booktabs version).
"""

from __future__ import annotations

import argparse

from flawn.analysis import compare, latex_table, load_examples, load_task_scores, markdown_table


def main() -> None:
    """Prints the paper tables of a sweep folder."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sweep_dir", nargs="?", default="runs/demo")
    parser.add_argument("--baseline", default="demo.general_only")
    parser.add_argument("--latex", action="store_true", help="print LaTeX (booktabs) tables")
    args = parser.parse_args()
    try:
        tasks, examples = load_task_scores([args.sweep_dir]), load_examples([args.sweep_dir])
    except FileNotFoundError:
        raise SystemExit(
            f"no evaluated runs under {args.sweep_dir}; run `make demo` first"
        ) from None
    comparisons = compare(tasks, examples, "mixture", args.baseline)
    for key in dict.fromkeys(c.eval_key for c in comparisons):
        group = [c for c in comparisons if c.eval_key == key]
        print(latex_table(group) if args.latex else markdown_table(group), end="\n\n")


if __name__ == "__main__":
    main()
