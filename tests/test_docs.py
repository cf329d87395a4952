"""Every command that README.md and docs/ show parses, and is run by a test or says why not.

``RUN_BY`` maps each section of a page that shows commands to the one test that runs all
of that section's commands as written (``doc_commands.section_commands`` gives a test
exactly the commands of its sections, so a test cannot run fewer). A block the tests
cannot run is preceded on its page by ``<!-- not-run: REASON -->``.
"""

import importlib
import inspect
import json
import re
import shlex

import pytest
from doc_commands import (
    REPO,
    SHARED,
    blocks,
    commands,
    pages,
    run_commands,
    scratch_project,
    section_commands,
)

from flawn.cli import build_parser
from flawn.gin_utils import split_gin_flags

LAUNCH = "tests/test_sweep_launch.py::test_the_docs_commands_run_on_a_demo_shaped_sweep"
DATA = "tests/test_docs.py::test_data_and_planning_commands_run"
SCORING = "tests/test_docs.py::test_scoring_commands_run"
TRAINING = "tests/test_docs_training.py::test_training_vocabulary_and_inference_commands_run"

#: (page, section) -> the test that runs every command of that section, in this order.
RUN_BY = {
    ("README.md", "A 10-minute tour"): LAUNCH,
    ("docs/sweeps.md", "Plan, launch, status, report"): LAUNCH,
    ("docs/analysis.md", "Commands"): LAUNCH,
    ("docs/analysis.md", "The notebook"): LAUNCH,
    ("docs/evaluation.md", "Evaluating a run"): LAUNCH,
    ("docs/proposal.md", "The command"): LAUNCH,
    ("docs/data.md", "Mixtures"): DATA,
    ("docs/data.md", "Formatting and bad input, set in gin"): DATA,
    ("docs/quality.md", "Commands"): DATA,
    ("docs/sweeps.md", "The experiments shipped"): DATA,
    ("docs/proposal.md", "Mixtures defined in an experiment file"): DATA,
    ("docs/size_extrapolation.md", "Validation: holding out the largest size"): DATA,
    ("docs/evaluation.md", "Scoring prediction files"): SCORING,
    ("docs/training.md", "Commands"): TRAINING,
    ("docs/vocabulary.md", "Legal vocabulary (LaWGPT)"): TRAINING,
    ("docs/inference.md", "Inference and the web UI"): TRAINING,
}


def sections_run_by(test_id: str) -> list[tuple[str, str]]:
    """The (page, section)s whose commands ``test_id`` runs, in ``RUN_BY``'s order."""
    return [key for key, test in RUN_BY.items() if test == test_id]


def _flawn_arguments(line: str) -> list[str] | None:
    words = shlex.split(line)
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        words.pop(0)  # FLAWN_LAWINSTRUCT_DIR=... before the command
    if not words or not words[0].endswith("bin/flawn"):
        return None
    return words[1:]


def test_the_pages_show_commands_and_the_readme_is_a_front_page():
    shown = commands()
    assert len(shown) > 40
    for group in ("sweep plan", "sweep launch", "sweep status", "analyze", "eval run", "train"):
        assert any(f"flawn {group}" in c.line for c in shown), group
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= 250
    assert "<!-- tour:propose -->" in (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", [c for c in commands() if _flawn_arguments(c.line)], ids=str)
def test_every_flawn_command_parses(command):
    _, _, rest = split_gin_flags(_flawn_arguments(command.line))
    try:
        args = build_parser().parse_args(rest)
    except SystemExit as exit_:
        pytest.fail(f"does not parse ({exit_.code}): {command}")
    assert callable(args.handler)


def test_every_command_is_run_by_a_test_or_says_why_not():
    unmapped = [str(c) for c in commands() if not c.not_run and (c.page, c.section) not in RUN_BY]
    assert not unmapped, "commands no test runs (map their section in RUN_BY):\n" + "\n".join(
        unmapped
    )
    for command in commands():
        if command.not_run:
            assert len(command.not_run) > 15, f"say why it is not run: {command}"


def test_every_mapped_section_shows_commands_and_its_test_exists():
    for (page, section), test_id in RUN_BY.items():
        assert section_commands([(page, section)]), (page, section)
        path, name = test_id.split("::")
        module = importlib.import_module(path.removeprefix("tests/").removesuffix(".py"))
        test = getattr(module, name, None)
        assert callable(test), f"{test_id} does not exist"
        # It runs what the table gives it: every command of its sections, via run_commands.
        source = inspect.getsource(test)
        assert "run_commands(" in source and "sections_run_by(" in source, test_id


def test_no_command_hides_outside_a_bash_block():
    """Commands in an unlabelled or ``text`` block would escape the checks above."""
    looks_run = re.compile(r"^\s*(\$ )?(\.venv/bin/|flawn |make |bash |python|pip |cd |cp )")
    for path in pages():
        for block in blocks(path):
            if block.info != "bash":
                hidden = [line for line in block.lines if looks_run.match(line)]
                assert not hidden, f"{block.page} § {block.section}: {hidden}"


needs_shared = pytest.mark.skipif(
    not (SHARED / "data").is_dir(), reason="needs ../shared/data (LawBench, LaWGPT files)"
)


@pytest.mark.slow
@needs_shared
def test_data_and_planning_commands_run(tmp_path):
    """Data, quality and the LawInstruct plan commands, as written, in a scratch folder."""
    project = scratch_project(tmp_path)
    out = run_commands(section_commands(sections_run_by(DATA)), project)
    plan = next(v for k, v in out.items() if "--format json" in k)
    assert json.loads(plan[plan.index("{") :])
    assert (project / "seqio_cache").is_dir()
    assert (project / "cleaned" / "demo.general_plus_legal.latest" / "report.md").is_file()
    assert any("flawn_t5" in v and "64 run(s)" in v for v in out.values())
    assert any("demo_weights.legal75/tiny" in v and "4 run(s)" in v for v in out.values())
    extrapolation = next(v for k, v in out.items() if "bench/extrapolation.py" in k)
    assert "coverage" in extrapolation and "small, base, large, xl" in extrapolation


@pytest.mark.slow
@needs_shared
def test_scoring_commands_run(tmp_path):
    """Scoring prediction files, as written."""
    project = scratch_project(tmp_path)
    out = run_commands(section_commands(sections_run_by(SCORING)), project)
    assert "abercrombie" in "".join(out.values())
    scores = json.loads((project / "scores.json").read_text())
    assert {"1-1", "3-6"} <= set(scores)
