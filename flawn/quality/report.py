"""The files a cleaned copy is described by: ``report.json``, ``report.md``, ``contamination.tsv``.

This module imports neither TensorFlow nor JAX, so the analysis can read a
report: :func:`contaminated_tasks` gives the benchmark tasks a mixture's data
overlaps, to extend a held-out view
(:meth:`flawn.analysis.rules.View.extended`).
"""

from __future__ import annotations

import csv
import json
import os
import pathlib

from flawn.errors import FlawnError

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
CONTAMINATION_TSV = "contamination.tsv"
#: Columns of ``contamination.tsv``; ``source`` ``*`` rows are a task's totals over all sources.
TSV_COLUMNS = (
    "source",
    "benchmark",
    "task",
    "split",
    "items",
    "items_overlapped",
    "share",
    "examples_overlapping",
)


def report_file(path: str | os.PathLike) -> pathlib.Path:
    """``path`` itself, or its ``report.json`` when it is a cleaned copy's folder."""
    path = pathlib.Path(path)
    return path / REPORT_JSON if path.is_dir() else path


def load_report(path: str | os.PathLike) -> dict:
    """Reads a report (``report.json`` or the folder holding it).

    Raises:
        FlawnError: If the file is missing or is not a cleaning report.
    """
    file = report_file(path)
    if not file.is_file():
        raise FlawnError(f"{file} does not exist; run `flawn data clean` to write a report")
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise FlawnError(f"{file}:{err.lineno}: not valid JSON ({err.msg})") from err
    if not isinstance(report, dict) or "counts" not in report:
        raise FlawnError(f"{file} is not a report written by `flawn data clean`")
    return report


def contaminated_tasks(report_path: str | os.PathLike, benchmark: str | None = None) -> list[str]:
    """The benchmark tasks the cleaned mixture's input data overlaps.

    A task is listed when at least one of its items is overlapped (shares
    enough n-grams, see :mod:`flawn.quality.contamination`) by a training
    example the cleaner read (before removal). These are the tasks
    to leave out of a held-out view for runs trained on the original mixture,
    or on the cleaned copy when it was made with ``--keep-contaminated``.

    Args:
        report_path: A ``report.json`` or the cleaned copy's folder; a
            ``contamination.tsv`` is read too.
        benchmark: ``legalbench`` or ``lawbench``; ``None``: both (their task
            names do not collide: ``abercrombie`` vs ``2-1``).

    Returns:
        Task names as result rows name them, sorted.

    Raises:
        FlawnError: If the report is missing or was written without decontamination.
    """
    path = pathlib.Path(report_path)
    if path.suffix == ".tsv":
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        return sorted(
            {
                row["task"]
                for row in rows
                if row["source"] == "*"
                and int(row["items_overlapped"]) > 0
                and benchmark in (None, row["benchmark"])
            }
        )
    report = load_report(path)
    section = report.get("contamination")
    if not section:
        raise FlawnError(
            f"{report_file(path)} has no decontamination results; run `flawn data clean` "
            "with --decontaminate legalbench,lawbench"
        )
    found = section["contaminated_tasks"]
    if benchmark is not None and benchmark not in found:
        raise FlawnError(
            f"{report_file(path)} was not checked against {benchmark} "
            f"(checked: {', '.join(found) or 'none'})"
        )
    names = found[benchmark] if benchmark else [t for tasks in found.values() for t in tasks]
    return sorted(set(names))


def contamination_rows(report: dict) -> list[dict]:
    """The rows of ``contamination.tsv``: per task a ``*`` total, then each overlapping source."""
    section = report.get("contamination") or {}
    by_task: dict[tuple[str, str], list[dict]] = {}
    for row in section.get("by_source", []):
        by_task.setdefault((row["benchmark"], row["task"]), []).append(row)
    rows = []
    for task in section.get("tasks", []):
        key = (task["benchmark"], task["task"])
        sources = by_task.get(key, [])
        rows.append(
            {
                "source": "*",
                "benchmark": task["benchmark"],
                "task": task["task"],
                "split": task["split"],
                "items": task["items"],
                "items_overlapped": task["items_overlapped"],
                "share": f"{task['share']:.4f}",
                "examples_overlapping": sum(r["examples_overlapping"] for r in sources),
            }
        )
        for row in sources:
            rows.append({**row, "split": task["split"], "share": f"{row['share']:.4f}"})
    return rows


def _markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: dict) -> str:
    """``report.md``: settings, per-source counts, duplicates and contamination, for people."""
    out = [
        f"# Cleaned copy of {report['mixture']}",
        "",
        f"Registered as `{report['name']}` (folder `{report['folder']}`, content hash "
        f"`{report['hash']}`). Filters, in order: {', '.join(report['filter_order'])}. "
        "An example is counted under the first filter that removes it; duplicates are "
        "removed in favour of the first occurrence (sources in mixture order, records in "
        "file order).",
        "",
        "## Settings",
        "",
        "```json",
        json.dumps(report["settings"], indent=2),
        "```",
        "",
        "## Counts per source",
        "",
    ]
    reasons = sorted({reason for c in report["counts"] for reason in c["removed"]})
    rows = [
        [c["source"], c["read"], c["kept"], *(c["removed"].get(r, 0) for r in reasons)]
        for c in report["counts"]
    ]
    totals = report["totals"]
    rows.append(
        ["**all**", totals["read"], totals["kept"], *(totals["removed"].get(r, 0) for r in reasons)]
    )
    out += [_markdown_table(["source", "read", "kept", *reasons], rows), ""]
    duplicates = [
        [c["source"], kind, twin, n]
        for c in report["counts"]
        for kind, twins in c["duplicate_of"].items()
        for twin, n in twins.items()
    ]
    if duplicates:
        out += [
            "## Duplicates removed, by the source of the kept twin",
            "",
            _markdown_table(["source", "kind", "duplicate of", "examples"], duplicates),
            "",
        ]
    section = report.get("contamination")
    if section:
        flagged = [t for t in section["tasks"] if t["items_overlapped"]]
        out += [
            "## Benchmark contamination",
            "",
            f"Checked {len(section['tasks'])} tasks of {', '.join(section['benchmarks'])} "
            f"({section['indexed_ngrams']:,} indexed n-grams; "
            f"{section.get('stop_list', 0):,} stock n-grams on the stop list, not checked); "
            "an example overlaps an item when it shares enough of its n-grams (settings: "
            "`min_shared`, `min_coverage`); overlapping training examples "
            f"were {'removed' if section['removed_overlapping'] else 'kept (report only)'}. "
            f"{len(flagged)} task(s) overlap; per source and task in `{CONTAMINATION_TSV}`.",
            "",
        ]
        if flagged:
            out += [
                _markdown_table(
                    ["benchmark", "task", "split", "items", "overlapped", "share"],
                    [
                        [
                            t["benchmark"],
                            t["task"],
                            t["split"],
                            t["items"],
                            t["items_overlapped"],
                            f"{100 * t['share']:.1f}%",
                        ]
                        for t in flagged
                    ],
                ),
                "",
            ]
    return "\n".join(out)


def write_report(folder: str | os.PathLike, report: dict) -> None:
    """Writes ``report.json``, ``report.md`` and (with decontamination) ``contamination.tsv``."""
    folder = pathlib.Path(folder)
    (folder / REPORT_JSON).write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (folder / REPORT_MD).write_text(render_markdown(report) + "\n", encoding="utf-8")
    if report.get("contamination"):
        with open(folder / CONTAMINATION_TSV, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=TSV_COLUMNS, delimiter="\t")
            writer.writeheader()
            writer.writerows(contamination_rows(report))
