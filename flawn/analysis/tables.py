"""Paper-shaped tables of comparisons: Markdown and LaTeX (booktabs).

Rows are the groups of runs (e.g. model size) x condition, the baseline first
in each group; columns are the benchmark's groups (LegalBench categories,
LawBench levels), its overall score and its views. A baseline cell holds its
score; every other cell its score and its delta against the baseline with the
interval, ``61.2 (+4.9 [+2.1, +7.6])``. One table holds one evaluation: it
never mixes suites or scoring modes, and its caption states the rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from flawn.analysis.compare import Comparison

_LEVELS = ("group", "overall", "view")


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
        ``(delta, lo, hi)`` tuples, NaN-filled for baselines.
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
            delta_rows.append({r.name: (r.delta, r.lo, r.hi) for r in rows.itertuples(index=False)})
    names = [*comparisons[0].group.keys(), comparisons[0].condition]
    multi = pd.MultiIndex.from_tuples(index, names=names)
    scores = pd.DataFrame(score_rows, index=multi).reindex(columns=columns)
    deltas = pd.DataFrame(delta_rows, index=multi).reindex(columns=columns)
    return scores, deltas


def caption(comparisons: Sequence[Comparison]) -> str:
    """What the table shows: evaluation, baseline, rule, intervals and notes."""
    first = comparisons[0]
    text = (
        f"{first.suite} · {first.mode}: {first.settings}. "
        f"Δ = condition − baseline ({first.condition} = {first.baseline}) within each group. "
    )
    if first.n_resamples:
        text += (
            f"[lo, hi]: {first.level:.0%} paired bootstrap interval "
            f"({first.n_resamples} resamples; examples resampled within tasks, seeds within "
            "conditions). "
        )
    else:
        text += "No per-example rows: no intervals. "
    text += first.rule.describe()
    notes = sorted({n for c in comparisons for n in c.notes})
    if notes:
        text += " Notes: " + "; ".join(notes) + "."
    return text


def _cell(score, delta, digits: int, latex: bool) -> str:
    text = _fmt(score, digits)
    if isinstance(delta, tuple):
        d, lo, hi = (_fmt(v, digits, sign=True) for v in delta)
        if latex:
            d, lo, hi = (v.replace("-", "$-$").replace("+", "$+$") for v in (d, lo, hi))
            text += rf" {{\scriptsize ({d} [{lo}, {hi}])}}"
        else:
            text += f" ({d} [{lo}, {hi}])"
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
    "Δ": r"$\Delta$", "·": r"$\cdot$", "−": r"$-$", "`": "",
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
    """Per-task deltas of one comparison with tests, as Markdown (the appendix table)."""
    deltas = comparison.deltas
    if deltas.empty:
        return "(no condition besides the baseline)"
    rows = deltas[deltas["level"] == "task"]
    out = pd.DataFrame(
        {
            "condition": rows["condition"],
            "task": rows["name"],
            "baseline": rows["baseline_score"].map(lambda v: _fmt(v, digits)),
            "score": rows["score"].map(lambda v: _fmt(v, digits)),
            "Δ [lo, hi]": [
                f"{_fmt(r.delta, digits, True)} [{_fmt(r.lo, digits, True)}, "
                f"{_fmt(r.hi, digits, True)}]"
                for r in rows.itertuples(index=False)
            ],
        }
    )
    for column in ("test", "p_value", "p_holm", "p_bh"):
        if column in rows:
            out[column] = rows[column].map(
                lambda v: v if isinstance(v, str) else ("n/a" if pd.isna(v) else f"{v:.3g}")
            )
    return out.to_markdown(index=False, stralign="right", disable_numparse=True)
