"""flawn installed non-editably (``pip install .``) finds its project folders.

TPU pod workers install flawn from a checkout with ``pip install .``. The named
mixtures, gin files and sweeps are top-level folders of the checkout, installed
as data files under ``<prefix>/share/flawn`` (``[options.data_files]`` in
setup.cfg), where :func:`flawn.paths.project_root` must find them.

Everything runs offline: the wheel is built with the project venv's setuptools
(``--no-build-isolation``) and pip never looks at an index (``--no-index``).
Checks run in fresh interpreters, started outside the checkout, that import the
installed copy and not the checkout.
"""

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

import pytest

from flawn import paths

pytestmark = pytest.mark.slow

CHECKOUT = paths.PACKAGE_DIR.parent
#: What a build from a checkout reads, besides the folders below (absent ones are skipped).
BUILD_FILES = ("setup.cfg", "setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "LICENSE")

#: Run in the fresh interpreter; prints one ``RESULT {json}`` line.
CHECK = r"""
import json, sys
import flawn
from flawn import gin_utils, paths

root = paths.project_root()
result = {"flawn": flawn.__file__, "root": str(root)}
if "--tasks" in sys.argv:
    import seqio
    import flawn.tasks
    from flawn.mixtures.registry import get_mixture_spec

    result["registered"] = "demo.general_plus_legal" in seqio.MixtureRegistry.names()
    result["defined_at"] = get_mixture_spec("demo.general_plus_legal").defined_at
    result["tiny"] = gin_utils.resolve_gin_file("gin/models/tiny.gin")
    result["demo"] = gin_utils.resolve_gin_file("experiments/demo.gin")
if "--plan" in sys.argv:
    from flawn.mixtures.plan import plan_mixture

    plan = plan_mixture(
        "demo.general_plus_legal", 10, 4, {"inputs": 144, "targets": 16},
        measure=False, sample=32,
    )
    result["sources"] = [row.source for row in plan.rows]
print("RESULT " + json.dumps(result))
"""


def _env(**extra: str) -> dict[str, str]:
    """The environment of every subprocess: offline, and no flawn or Python path settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLAWN_", "PYTHON", "PIP_"))}
    env.update(
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        TF_CPP_MIN_LOG_LEVEL="3",
        JAX_PLATFORMS="cpu",
        WANDB_MODE="disabled",
    )
    env.update(extra)
    return env


def _run(args, cwd, **env: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_env(**env), capture_output=True, text=True
    )
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _pip(*args, cwd) -> None:
    _run([sys.executable, "-m", "pip", *args, "--no-deps", "--no-index", "--quiet"], cwd)


def _check(python, cwd, *flags: str, **env: str) -> tuple[dict, str]:
    result = _run([python, "-c", CHECK, *flags], cwd, **env)
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")]
    return json.loads(line[len("RESULT ") :]), result.stderr


def _defined_in(result: dict, cwd: pathlib.Path) -> pathlib.Path:
    """The file a mixture was registered in (``defined_at`` is ``file:line``, maybe relative)."""
    return (cwd / result["defined_at"].rsplit(":", 1)[0]).resolve()


def _project_files(root: pathlib.Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for folder in paths.PROJECT_FOLDERS
        for p in (root / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _venv_flawn() -> list[str]:
    """The project venv's own flawn entries (its editable install), to see they survive."""
    return sorted(p.name for p in pathlib.Path(sysconfig.get_path("purelib")).glob("*flawn*"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    """A wheel of the checkout, built offline from a copy of it."""
    if not (CHECKOUT / "setup.cfg").is_file():
        pytest.skip(f"flawn is not running from a checkout ({CHECKOUT} has no setup.cfg)")
    for backend in ("setuptools", "wheel"):
        if importlib.util.find_spec(backend) is None:
            pytest.skip(f"an offline build needs {backend} in the venv (pip install {backend})")
    tmp = tmp_path_factory.mktemp("install")
    # A copy, so that the build's build/ and *.egg-info/ do not land in the checkout.
    src = tmp / "src"
    src.mkdir()
    for name in BUILD_FILES:
        if (CHECKOUT / name).is_file():
            shutil.copy2(CHECKOUT / name, src / name)
    for folder in ("flawn", *paths.PROJECT_FOLDERS):
        shutil.copytree(
            CHECKOUT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    _pip("wheel", "--no-build-isolation", "-w", tmp / "dist", src, cwd=tmp)
    (built,) = (tmp / "dist").glob("flawn-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel) -> pathlib.Path:
    """A fresh venv with flawn installed from the wheel, as ``pip install .`` would."""
    root = wheel.parent.parent / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", root], wheel.parent)
    python = root / "bin" / "python"
    site = pathlib.Path(
        _run([python, "-c", "import site; print(site.getsitepackages()[0])"], root).stdout.strip()
    )
    # The project venv's packages (TensorFlow, seqio, ...) as a plain path: its .pth files,
    # the editable finder of the checkout among them, are not run.
    (site / "project_venv.pth").write_text(sysconfig.get_path("purelib") + "\n")
    before = _venv_flawn()
    # --ignore-installed: else pip uninstalls the flawn it sees (the project venv's
    # editable install) before installing into the prefix.
    _pip("install", "--ignore-installed", "--prefix", root, wheel, cwd=root)
    assert _venv_flawn() == before, "installing into the prefix touched the project venv"
    assert (site / "flawn" / "__init__.py").is_file()
    return root


def test_the_installed_copy_holds_every_project_file(venv):
    installed = venv / "share" / "flawn"
    # data_files takes one line per folder: a new folder needs a new line in setup.cfg.
    assert _project_files(installed) == _project_files(CHECKOUT)


def test_a_pip_installed_flawn_registers_and_plans_the_named_mixtures(venv, tmp_path):
    result, _ = _check(venv / "bin" / "python", tmp_path, "--tasks", "--plan")
    root = venv / "share" / "flawn"
    assert result["flawn"].startswith(str(venv / "lib"))  # the installed package, not the checkout
    assert result["root"] == str(root.resolve())
    assert result["registered"]
    assert _defined_in(result, tmp_path) == root.resolve() / "mixtures" / "demo.py"
    assert result["tiny"] == str(root.resolve() / "gin" / "models" / "tiny.gin")
    assert result["demo"] == str(root.resolve() / "experiments" / "demo.gin")
    assert "sample_flan.general" in result["sources"]
    assert any(s.startswith("sample_lawinstruct.") for s in result["sources"])


def test_a_target_install_wins_over_a_project_like_current_directory(wheel, tmp_path):
    site = tmp_path / "site"
    before = _venv_flawn()
    _pip("install", "--target", site, wheel, cwd=tmp_path)
    assert _venv_flawn() == before
    # A folder that looks like a project: it must not be picked up behind the user's back.
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "gin").mkdir(parents=True)
    (elsewhere / "mixtures").mkdir()
    result, stderr = _check(sys.executable, elsewhere, "--tasks", PYTHONPATH=str(site))
    root = (site / "share" / "flawn").resolve()
    assert result["flawn"] == str(site / "flawn" / "__init__.py")
    assert result["root"] == str(root)
    assert result["registered"] and _defined_in(result, elsewhere) == root / "mixtures" / "demo.py"
    assert result["tiny"] == str(root / "gin" / "models" / "tiny.gin")
    assert result["demo"] == str(root / "experiments" / "demo.gin")
    assert f"FLAWN_PROJECT_ROOT={elsewhere.resolve()}" in stderr  # and says how to use it
    # FLAWN_PROJECT_ROOT still wins over the installed copy.
    result, _ = _check(
        sys.executable, elsewhere, PYTHONPATH=str(site), FLAWN_PROJECT_ROOT=str(CHECKOUT)
    )
    assert result["root"] == str(CHECKOUT.resolve())
