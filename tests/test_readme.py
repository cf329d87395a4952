"""Every ``flawn`` command the README shows parses as written; the cheap ones run."""

import re
import shlex
import subprocess
import sys

import pytest

from flawn import paths
from flawn.cli import build_parser
from flawn.gin_utils import split_gin_flags

README = paths.PACKAGE_DIR.parent / "README.md"
_BLOCK = re.compile(r"```bash\n(.*?)```", re.DOTALL)
_OPTIONAL = re.compile(r"\s\[[^\]]*\]")


def readme_commands() -> list[str]:
    """``flawn`` command lines of the README's bash blocks, continuation lines joined."""
    commands = []
    for block in _BLOCK.findall(README.read_text(encoding="utf-8")):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.split("  #", 1)[0].strip()
            if re.search(r"(^|\s)(\.venv/bin/)?flawn\s", line + " ") and "make " not in line:
                commands.append(line)
    return commands


def _arguments(command: str) -> list[str]:
    words = shlex.split(_OPTIONAL.sub("", command))
    while words and "=" in words[0] and not words[0].startswith("-"):
        words.pop(0)  # FLAWN_LAWINSTRUCT_DIR=... before the command
    assert words[0].endswith("flawn"), command
    return words[1:]


def test_the_readme_shows_flawn_commands():
    commands = readme_commands()
    assert len(commands) > 20
    for group in ("sweep plan", "sweep launch", "sweep status", "eval run", "model info", "train"):
        assert any(f"flawn {group}" in c for c in commands), group


@pytest.mark.parametrize("command", readme_commands())
def test_every_readme_command_parses(command):
    _, _, rest = split_gin_flags(_arguments(command))
    try:
        args = build_parser().parse_args(rest)
    except SystemExit as exit_:
        pytest.fail(f"README command does not parse ({exit_.code}): {command}")
    assert callable(args.handler)


CHEAP = (
    "flawn model list",
    "flawn model info base --inputs 1024 --targets 256 --batch-size 128",
    "flawn sweep plan experiments/demo.gin --format json --target h100 --mfu 0.35",
)


@pytest.mark.slow
@pytest.mark.parametrize("command", CHEAP)
def test_cheap_readme_commands_run_as_written(command, tmp_path):
    assert any(command in c for c in readme_commands()), f"{command} is no longer in the README"
    result = subprocess.run(
        [sys.executable, "-m", "flawn.cli", *shlex.split(command)[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=paths.PACKAGE_DIR.parent,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()
