"""Coverage of size extrapolation, measured on simulated sweeps with a known trend.

Each replication draws, per category, a true delta that is linear in
log10(parameters) plus a per-size deviation from the line (misfit), then
measures it at every size as LegalBench-style accuracy on ``items`` binary
items for the baseline and for the condition (binomial draws), with the
standard error a bootstrap of those items would give. The line is fitted on
every size but the largest (:func:`flawn.analysis.extrapolation.fit_lines`),
and the interval is checked against the delta **measured** at the held-out
largest size, which is what the interval claims to cover. Everything is
vectorised over replications x categories, so a thousand fits take
milliseconds; ``bench/extrapolation.py`` prints the table of settings and
the test suite checks one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from flawn.analysis.extrapolation import fit_lines, size_parameters

#: The T5 1.1 ladder the simulations use (parameters from flawn's size table).
LADDER = ("small", "base", "large", "xl", "xxl")


@dataclasses.dataclass(frozen=True)
class Setting:
    """One simulated sweep design.

    Attributes:
        sizes: Model sizes, smallest first; the last is held out.
        items: Binary items behind each category's score (per run).
        slope: True delta gained per decade of parameters, in points.
        misfit: Standard deviation of each size's deviation from the line, in points.
        base: The baseline's accuracy at the smallest size.
        delta: The true delta at the smallest size, in points.
    """

    sizes: Sequence[str] = LADDER[:4]
    items: int = 500
    slope: float = 3.0
    misfit: float = 0.0
    base: float = 0.55
    delta: float = 1.0

    def __post_init__(self):
        if len(self.sizes) < 3:
            raise ValueError("Setting.sizes: at least 3 (2 to fit, 1 held out)")
        if self.items < 1 or self.misfit < 0:
            raise ValueError("Setting.items must be >= 1 and Setting.misfit >= 0")


def simulate_heldout(
    setting: Setting, replications: int = 200, categories: int = 6, seed: int = 0, level=0.95
) -> pd.DataFrame:
    """Fits on all sizes but the largest and checks the held-out measured delta.

    Returns:
        One row per replication x category: ``measured`` (the held-out
        delta), ``true`` (its true delta), ``predicted``, ``lo``, ``hi``,
        ``covered`` (measured in ``[lo, hi]``), ``width`` and ``identifiable``
        (width no more than the 100-point score range).
    """
    rng = np.random.default_rng(seed)
    x = np.log10([size_parameters(s) for s in setting.sizes])
    shape = (replications * categories, len(x))
    # points on the accuracy scale; the baseline improves with size too
    true = setting.delta + setting.slope * (x - x[0]) + rng.normal(0, setting.misfit, shape)
    base = np.clip(setting.base + 0.05 * (x - x[0]), 0.01, 0.99) * np.ones(shape)
    cond = np.clip(base + true / 100, 0.0, 1.0)
    n = setting.items
    pb = rng.binomial(n, base) / n
    pc = rng.binomial(n, cond) / n
    measured = 100 * (pc - pb)
    # the unpaired bootstrap's standard error; floored so an all-right sample still weighs
    se = 100 * np.sqrt(np.maximum(pb * (1 - pb) + pc * (1 - pc), 1 / n) / n)
    fit = fit_lines(x[:-1], measured[:, :-1], se[:, :-1], x[-1], level=level)
    out = pd.DataFrame(
        {
            "measured": measured[:, -1],
            "true": true[:, -1],
            "predicted": fit["predicted"],
            "lo": fit["lo"],
            "hi": fit["hi"],
        }
    )
    out["covered"] = (out["lo"] <= out["measured"]) & (out["measured"] <= out["hi"])
    out["width"] = out["hi"] - out["lo"]
    out["identifiable"] = out["width"] <= 100
    return out


def coverage_table(
    settings: Sequence[Setting], replications: int = 200, categories: int = 6, seed: int = 0
) -> pd.DataFrame:
    """Coverage of the 95% prediction interval per setting (see :func:`simulate_heldout`)."""
    rows = []
    for i, setting in enumerate(settings):
        found = simulate_heldout(setting, replications, categories, seed + i)
        rows.append(
            {
                "fitted sizes": ", ".join(setting.sizes[:-1]),
                "held out": setting.sizes[-1],
                "items": setting.items,
                "misfit (pts)": setting.misfit,
                "fits": len(found),
                "coverage": found["covered"].mean(),
                "median width (pts)": found["width"].median(),
                "not identifiable": 1 - found["identifiable"].mean(),
            }
        )
    return pd.DataFrame(rows)


def few_legalbench_tasks(per_category: int = 3, n: int = 300, seed: int = 0) -> list:
    """``per_category`` LegalBench tasks of each category, ``n`` items each (small run folders)."""
    from flawn.analysis.synthetic import legalbench_tasks

    chosen: dict[str, list] = {}
    for task in legalbench_tasks(seed=seed):
        mine = chosen.setdefault(task.category, [])
        if len(mine) < per_category:
            mine.append(dataclasses.replace(task, n=n))
    return [t for tasks in chosen.values() for t in tasks]


def run_folder_heldout(
    root,
    replications: int = 20,
    sizes: Sequence[str] = LADDER[:4],
    slope: float = 3.0,
    misfit: float = 0.0,
    items: int = 300,
    resamples: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """The held-out check through the whole chain: run folders, ``compare``, ``extrapolate``.

    Each replication writes a simulated LegalBench sweep (3 tasks per category,
    ``items`` items each, baseline and one condition, at every size) whose
    condition gains ``1 + slope * decades`` points over the baseline per
    category plus a per-size, per-category deviation (``misfit`` points),
    compares it with paired bootstrap intervals, fits every size but the
    largest and checks the largest's measured delta, per level.

    Returns:
        One row per replication x (level, name): ``measured``, ``lo``, ``hi``,
        ``covered``, ``identifiable``.
    """
    import pathlib
    import tempfile

    from flawn.analysis.compare import compare
    from flawn.analysis.extrapolation import extrapolate
    from flawn.analysis.loading import load_examples, load_task_scores
    from flawn.analysis.synthetic import write_sweep

    tasks = few_legalbench_tasks(n=items, seed=seed)
    x = {s: np.log10(size_parameters(s)) for s in sizes}
    categories = sorted({t.category for t in tasks})
    rows = []
    for r in range(replications):
        rng = np.random.default_rng([seed, r])
        deviation = {(c, s): rng.normal(0, misfit) for c in categories for s in sizes}

        def gain(mixture, size, task, deviation=deviation):
            if mixture == "base":
                return 0.0
            points = 1 + slope * (x[size] - x[sizes[0]]) + deviation[task.category, size]
            return points / 100

        with tempfile.TemporaryDirectory(dir=root) as folder:
            write_sweep(folder, tasks, {"base": 0.0, "plus": 0.0}, sizes=sizes,
                        suite="legalbench", parquet_only=True, seed=int(rng.integers(2**31)),
                        effect_of=gain)  # fmt: skip
            found = [pathlib.Path(folder)]
            comparisons = compare(
                load_task_scores(found), load_examples(found), "mixture", "base", resamples, seed=r
            )
        fitted = [c for c in comparisons if c.group["size"] != sizes[-1]]
        (held,) = [c for c in comparisons if c.group["size"] == sizes[-1]]
        fits = extrapolate(fitted, predict_size=sizes[-1]).set_index(["level", "name"])
        measured = held.deltas.set_index(["level", "name"])["delta"]
        for key, fit in fits.iterrows():
            rows.append(
                {"replication": r, "level": key[0], "name": key[1], "measured": measured[key],
                 "lo": fit["lo"], "hi": fit["hi"], "identifiable": fit["identifiable"]}
            )  # fmt: skip
    out = pd.DataFrame(rows)
    out["covered"] = (out["lo"] <= out["measured"]) & (out["measured"] <= out["hi"])
    return out
