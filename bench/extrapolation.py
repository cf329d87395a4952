"""Coverage of size extrapolation's prediction interval on simulated sweeps.

For each setting (how many sizes, items per category, misfit of the sizes
around a straight line in log10 parameters), simulates many sweeps with a
known trend (:mod:`flawn.analysis.extrapolation_check`), fits the line on all
sizes but the largest, and counts how often the held-out size's measured delta
falls inside the 95% prediction interval. Prints a Markdown table.

Usage:
  python bench/extrapolation.py [--replications 300] [--categories 6] [--seed 0]
"""

from __future__ import annotations

import argparse

from flawn.analysis.extrapolation_check import LADDER, Setting, coverage_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replications", type=int, default=300, help="sweeps per setting")
    parser.add_argument("--categories", type=int, default=6, help="categories per sweep")
    parser.add_argument("--seed", type=int, default=0)
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


if __name__ == "__main__":
    main()
