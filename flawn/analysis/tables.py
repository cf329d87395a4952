"""Paper-shaped tables of comparisons: Markdown and LaTeX (booktabs).

Rows are the groups of runs (e.g. model size) x condition, the baseline first
in each group; columns are the benchmark's groups (LegalBench categories,
LawBench levels), its overall score and its views. A baseline cell holds its
score; every other cell its score and its delta against the baseline with the
interval, ``61.2 (+4.9 [+2.1, +7.6])``. One table holds one evaluation: it
never mixes suites or scoring modes, and its caption states the rule and how
the bootstrap was stratified. A zero-width interval is degenerate, not
certain: it is marked with a dagger (†) and the caption says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from flawn.analysis import stats
from flawn.analysis.compare import Comparison

_LEVELS = ("group", "overall", "view")
#: Marks a degenerate (zero-width) interval; :data:`DEGENERATE_NOTE` explains it.
DAGGER = "†"
#: Why an interval can have zero width, under every table that shows one.
DEGENERATE_NOTE = (
    f"{DAGGER} zero-width interval: degenerate, not certainty. Every bootstrap resample gave "
    "the same value because within each stratum (gold class where stratified, else the task) "
    "every example's value, or for Δ every paired difference, is the same (e.g. a class all "
    "right or all wrong in every run), so resampling within strata cannot vary it."
)


def _one_evaluation(comparisons: Sequence[Comparison]) -> None:
    if not comparisons:
        raise ValueError("no comparison to tabulate")
    found = {(c.suite, c.mode, c.eval_key) for c in comparisons}
    if len(found) > 1:
        listed = "; ".join(f"{s} · {m} ({k})" for s, m, k in sorted(found))
        raise ValueError(
            f"the comparisons come from {len(found)} evaluations ({listed}); a table never "
            "averages or mixes suites, scoring modes or settings: make one table per evaluation"
        )


def _fmt(value: float, digits: int, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def table_cells(
    comparisons: Sequence[Comparison], digits: int = 1, levels: Sequence[str] = _LEVELS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The numbers of the paper table, one evaluation.

    Returns:
        ``(scores, deltas)``: frames indexed by (group values..., condition)
        with one column per group/overall/view name; ``deltas`` holds
        ``(delta, lo, hi, degenerate)`` tuples, NaN-filled for baselines.
    """
    _one_evaluation(comparisons)
    score_rows, delta_rows, index = [], [], []
    columns: list[str] = []
    for comparison in comparisons:
        scores = comparison.scores[comparison.scores["level"].isin(levels)]
        for name in scores["name"]:
            if name not in columns:
                columns.append(name)
        deltas = comparison.deltas
        for condition in dict.fromkeys(scores["condition"]):
            mine = scores[scores["condition"] == condition].set_index("name")
            index.append((*comparison.group.values(), condition))
            score_rows.append(mine["score"].to_dict())
            if condition == comparison.baseline or deltas.empty:
                delta_rows.append({})
                continue
            rows = deltas[(deltas["condition"] == condition) & deltas["level"].isin(levels)]
            flat = rows["degenerate"] if "degenerate" in rows else [False] * len(rows)
            delta_rows.append(
                {
                    r.name: (r.delta, r.lo, r.hi, bool(f))
                    for r, f in zip(rows.itertuples(index=False), flat, strict=True)
                }
            )
    names = [*comparisons[0].group.keys(), comparisons[0].condition]
    multi = pd.MultiIndex.from_tuples(index, names=names)
    scores = pd.DataFrame(score_rows, index=multi).reindex(columns=columns)
    deltas = pd.DataFrame(delta_rows, index=multi).reindex(columns=columns)
    return scores, deltas


def bootstrap_note(comparisons: Sequence[Comparison]) -> str:
    """How the intervals were made, the stratification of the bootstrap included."""
    first = comparisons[0]
    if not first.n_resamples:
        return "No per-example rows: no intervals."
    stratified = sorted({t for c in comparisons for t in c.stratified})
    tasks = {n for c in comparisons for n in c.scores.loc[c.scores["level"] == "task", "name"]}
    rest = len(tasks - set(stratified))
    if not stratified:
        strata = "unstratified (no task is scored by balanced accuracy)"
    elif not rest:
        strata = "stratified by gold class (every task is scored by balanced accuracy)"
    else:
        more = len(stratified) - 5
        named = ", ".join(stratified[:5]) + (f" and {more} more" if more > 0 else "")
        strata = (
            f"stratified by gold class for the {len(stratified)} task(s) scored by balanced "
            f"accuracy ({named}), unstratified for the other {rest}"
        )
    return (
        f"[lo, hi]: {first.level:.0%} percentile interval of a paired bootstrap "
        f"({first.n_resamples} resamples): each task's examples are resampled with "
        f"replacement, the same draws for every run, {strata}; where a condition has several "
        "seeds, its seeds are resampled too."
    )


def _degenerate(comparisons: Sequence[Comparison], levels: Sequence[str]) -> bool:
    """Whether a delta shown at ``levels`` has a zero-width interval."""
    for c in comparisons:
        if (
            "degenerate" in c.deltas
            and c.deltas.loc[c.deltas["level"].isin(levels), "degenerate"].any()
        ):
            return True
    return False


def caption(comparisons: Sequence[Comparison], levels: Sequence[str] = _LEVELS) -> str:
    """What the table shows: evaluation, baseline, rule, intervals and notes."""
    first = comparisons[0]
    text = (
        f"{first.suite} · {first.mode}: {first.settings}. "
        f"Δ = condition − baseline ({first.condition} = {first.baseline}) within each group. "
        f"{bootstrap_note(comparisons)} "
    )
    if _degenerate(comparisons, levels):
        text += DEGENERATE_NOTE + " "
    text += first.rule.describe()
    notes = sorted({n for c in comparisons for n in c.notes})
    if notes:
        text += " Notes: " + "; ".join(notes) + "."
    return text


def _interval(delta: tuple, digits: int, latex: bool) -> str:
    """``+4.9 [+2.1, +7.6]``, with a dagger after a degenerate interval."""
    d, lo, hi = (_fmt(v, digits, sign=True) for v in delta[:3])
    flat = len(delta) > 3 and bool(delta[3])
    if latex:
        d, lo, hi = (v.replace("-", "$-$").replace("+", "$+$") for v in (d, lo, hi))
        return f"{d} [{lo}, {hi}]" + (r"$^\dagger$" if flat else "")
    return f"{d} [{lo}, {hi}]" + (DAGGER if flat else "")


def _cell(score, delta, digits: int, latex: bool) -> str:
    text = _fmt(score, digits)
    if isinstance(delta, tuple):
        if latex:
            text += rf" {{\scriptsize ({_interval(delta, digits, True)})}}"
        else:
            text += f" ({_interval(delta, digits, False)})"
    return text


def markdown_table(comparisons: Sequence[Comparison], digits: int = 1) -> str:
    """The paper table as GitHub-flavoured Markdown, its caption below it."""
    scores, deltas = table_cells(comparisons, digits)
    shown = pd.DataFrame(
        [
            [
                _cell(scores.iat[i, j], deltas.iat[i, j], digits, False)
                for j in range(scores.shape[1])
            ]
            for i in range(scores.shape[0])
        ],
        index=scores.index,
        columns=scores.columns,
    ).reset_index()
    body = shown.to_markdown(index=False, stralign="right", disable_numparse=True)
    return f"{body}\n\n{caption(comparisons)}"


_TEX_SPECIAL = {
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
    # pdflatex has no glyphs for these without extra packages
    "Δ": r"$\Delta$", "·": r"$\cdot$", "−": r"$-$", "`": "", DAGGER: r"$^\dagger$",
}  # fmt: skip


def tex_escape(text: str) -> str:
    """Escapes LaTeX's special characters in plain text."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text))


def latex_table(comparisons: Sequence[Comparison], digits: int = 1, label: str = "") -> str:
    """The paper table as a LaTeX ``table`` with booktabs rules (``booktabs`` package)."""
    scores, deltas = table_cells(comparisons, digits)
    names = list(scores.index.names)
    spec = "l" * len(names) + "r" * scores.shape[1]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(tex_escape(c) for c in [*names, *scores.columns]) + r" \\",
        r"\midrule",
    ]
    previous = None
    for i, key in enumerate(scores.index):
        group = key[:-1]
        if previous is not None and group != previous:
            lines.append(r"\midrule")
        previous = group
        cells = [tex_escape(k) for k in key]
        cells += [
            _cell(scores.iat[i, j], deltas.iat[i, j], digits, True) for j in range(scores.shape[1])
        ]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{tex_escape(caption(comparisons))}}}"]
    if label:
        lines.append(rf"\label{{{label}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def task_table(comparison: Comparison, digits: int = 1) -> str:
    """Per-task deltas of one comparison with tests, as Markdown (the appendix table).

    Below the table: how the intervals were made, a note on degenerate
    intervals where there are some, and what ``significant`` means.
    """
    deltas = comparison.deltas
    if deltas.empty:
        return "(no condition besides the baseline)"
    rows = deltas[deltas["level"] == "task"]
    flat = rows["degenerate"] if "degenerate" in rows else pd.Series(False, index=rows.index)
    out = pd.DataFrame(
        {
            "condition": rows["condition"],
            "task": rows["name"],
            "baseline": rows["baseline_score"].map(lambda v: _fmt(v, digits)),
            "score": rows["score"].map(lambda v: _fmt(v, digits)),
            "Δ [lo, hi]": [
                _interval((r.delta, r.lo, r.hi, f), digits, False)
                for r, f in zip(rows.itertuples(index=False), flat, strict=True)
            ],
        }
    )
    for column in ("test", "p_value", "p_holm", "p_bh"):
        if column in rows:
            out[column] = rows[column].map(
                lambda v: v if isinstance(v, str) else ("n/a" if pd.isna(v) else f"{v:.3g}")
            )
    notes = [bootstrap_note([comparison])]
    if flat.any():
        notes.append(DEGENERATE_NOTE)
    if "p_holm" in rows:
        out["significant"] = [
            "n/a" if pd.isna(p) else ("yes" if p < stats.SIGNIFICANCE_LEVEL else "no")
            for p in rows["p_holm"]
        ]
        notes.append(
            stats.significance_rule(rows.get("test", ()), "holm")
            + "; p_bh: Benjamini-Hochberg-adjusted p over the same tasks."
        )
    table = out.to_markdown(index=False, stralign="right", disable_numparse=True)
    return table + "\n\n" + " ".join(notes)
