"""Coverage of size extrapolation's prediction interval on simulated sweeps.

For each setting (how many sizes, items per category, misfit of the sizes
around a straight line in log10 parameters), simulates many sweeps with a
known trend (:mod:`flawn.analysis.extrapolation_check`), fits the line on all
sizes but the largest, and counts how often the held-out size's measured delta
falls inside the 95% prediction interval. Prints a Markdown table.

With ``--run-folders N`` it also runs the check through the whole chain N
times per setting: simulated LegalBench run folders (3 tasks per category,
300 items each, small/base/large/xl), ``compare`` with paired bootstrap
intervals, ``extrapolate`` on small/base/large, checked against xl's measured
delta at every level (about a second per sweep).

Usage:
  python bench/extrapolation.py [--replications 300] [--categories 6] [--seed 0]
      [--run-folders N]
"""

from __future__ import annotations

import argparse

from flawn.analysis.extrapolation_check import LADDER, Setting, coverage_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replications", type=int, default=300, help="sweeps per setting")
    parser.add_argument("--categories", type=int, default=6, help="categories per sweep")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--run-folders", type=int, default=0, help="sweeps per setting through run folders"
    )
    args = parser.parse_args()
    settings = [
        Setting(sizes=LADDER[:k], items=items, misfit=misfit)
        for k in (3, 4, 5)
        for items in (500, 2000)
        for misfit in (0.0, 1.0, 3.0)
    ]
    table = coverage_table(settings, args.replications, args.categories, args.seed)
    print(table.to_markdown(index=False, floatfmt=".3g"))
    print(
        f"\n{args.replications} simulated sweeps x {args.categories} categories per row; "
        "true slope 3 points per decade of parameters; 95% prediction intervals of the "
        "measured delta at the held-out size; 'not identifiable' = interval wider than the "
        "100-point score range."
    )
    if args.run_folders:
        _run_folders(args.run_folders, args.seed)


def _run_folders(replications: int, seed: int) -> None:
    import tempfile

    import pandas as pd

    from flawn.analysis.extrapolation_check import run_folder_heldout

    rows = []
    with tempfile.TemporaryDirectory() as root:
        for misfit in (0.0, 2.0):
            found = run_folder_heldout(root, replications, misfit=misfit, seed=seed)
            for level, part in [("all levels", found), *found.groupby("level")]:
                rows.append(
                    {
                        "misfit (pts)": misfit,
                        "level": level,
                        "fits": len(part),
                        "coverage": part["covered"].mean(),
                        "not identifiable": 1 - part["identifiable"].mean(),
                    }
                )
    print(f"\nThrough run folders, compare and extrapolate ({replications} sweeps per misfit):\n")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
