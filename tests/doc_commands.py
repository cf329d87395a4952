"""The commands that README.md and docs/*.md show, and a way to run them as written.

A command is a line of a ```` ```bash ```` block (continuation lines joined, ``  #``
comments dropped). A block right after a ``<!-- not-run: REASON -->`` line is not run by
the tests, and the reason says why (a TPU pod, a GPU, T5X, a download, a measurement
that takes minutes). Every other command belongs to the section (the nearest heading
above its block) it appears in, and ``tests/test_docs.py`` maps each section to the test
that runs all of its commands with :func:`run_commands`.
"""

import dataclasses
import os
import pathlib
import re
import shutil
import subprocess

from flawn import paths

REPO = paths.PACKAGE_DIR.parent
SHARED = REPO.parent / "shared"

_NOT_RUN = re.compile(r"<!--\s*not-run:\s*(.+?)\s*-->")


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    page: str  # relative to the repository, e.g. "docs/data.md"
    section: str  # the nearest heading above it
    info: str  # what follows the opening fence, e.g. "bash"
    lines: tuple[str, ...]
    not_run: str | None  # the reason, when a `not-run` comment precedes the block


@dataclasses.dataclass(frozen=True)
class Command:
    """One command line of a ``bash`` block."""

    page: str
    section: str
    line: str
    not_run: str | None

    def __str__(self) -> str:
        return f"{self.page} § {self.section}: {self.line}"


def pages() -> list[pathlib.Path]:
    """README.md and every page under docs/."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks(path: pathlib.Path) -> list[Block]:
    """The fenced blocks of one page, each with its section and `not-run` reason."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(REPO).as_posix()
    found, heading, i = [], "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            before = next((p.strip() for p in reversed(lines[:i]) if p.strip()), "")
            reason = _NOT_RUN.fullmatch(before)
            found.append(
                Block(
                    page,
                    heading,
                    line[3:].strip(),
                    tuple(lines[i + 1 : end]),
                    reason.group(1) if reason else None,
                )
            )
            i = end + 1
            continue
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        i += 1
    return found


def commands() -> list[Command]:
    """Every command of every ``bash`` block of every page, in page order."""
    found = []
    for path in pages():
        for block in blocks(path):
            if block.info != "bash":
                continue
            text = "\n".join(block.lines).replace("\\\n", " ")
            for line in text.splitlines():
                line = re.split(r"\s\s#", line, maxsplit=1)[0].strip()
                if line and not line.startswith("#"):
                    line = re.sub(r"\s{2,}", " ", line)
                    found.append(Command(block.page, block.section, line, block.not_run))
    return found


def section_commands(sections: list[tuple[str, str]]) -> list[Command]:
    """The runnable commands of these (page, section)s, in the order the sections are given."""
    every = commands()
    chosen = []
    for page, section in sections:
        here = [c for c in every if (c.page, c.section) == (page, section) and not c.not_run]
        assert here, f"{page} has no runnable command under '{section}' any more"
        chosen.extend(here)
    return chosen


def scratch_project(root: pathlib.Path, link=("gin", "mixtures", "experiments")) -> pathlib.Path:
    """A folder to run the pages' commands in, as a user would from the checkout.

    The project's folders are linked (``docs``, ``bench``, ``.venv``, the Makefile and
    those in ``link``), ``analysis/`` is copied (``jupyter execute --output`` writes
    beside the notebook), and ``../shared`` points at the shared data where it exists.
    Whatever the commands write lands in ``root``.
    """
    project = root / "flawn"
    project.mkdir(parents=True)
    for name in (".venv", "docs", "bench", "Makefile", *link):
        (project / name).symlink_to(REPO / name)
    shutil.copytree(REPO / "analysis", project / "analysis")
    if SHARED.is_dir():
        (root / "shared").symlink_to(SHARED)
    return project


def run_commands(
    chosen: list[Command],
    cwd: pathlib.Path,
    *,
    fill: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    stdin: str = "",
    timeout: int = 600,
) -> dict[str, str]:
    """Runs each command with bash in ``cwd`` and returns its output by command line.

    ``fill`` replaces placeholders the pages explain, such as ``<run_id>``. A command that
    fails fails the test with its output.
    """
    outputs = {}
    for command in chosen:
        line = command.line
        for placeholder, value in (fill or {}).items():
            line = line.replace(placeholder, value)
        done = subprocess.run(
            ["bash", "-c", line],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        outputs[command.line] = done.stdout + done.stderr
    return outputs
