"""Where flawn finds its bundled files and the project folders."""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
import pathlib
import sysconfig

log = logging.getLogger(__name__)

#: The installed ``flawn`` package folder.
PACKAGE_DIR = pathlib.Path(__file__).resolve().parent

#: Sample data written by ``flawn samples write`` and shipped with the package.
SAMPLE_DATA_DIR = PACKAGE_DIR / "sample_data"

#: The sample SentencePiece model (T5 layout, trained on the sample data).
SAMPLE_VOCAB = SAMPLE_DATA_DIR / "vocab" / "sample_spm.model"

#: The project folders, top level in a checkout; ``gin/`` and ``mixtures/`` mark a project root.
PROJECT_FOLDERS = ("gin", "mixtures", "experiments")

#: Where a non-editable install puts the project folders, under its data prefix
#: (``[options.data_files]`` in ``setup.cfg``).
INSTALLED_SUBDIR = pathlib.Path("share", "flawn")


def _is_root(folder: pathlib.Path) -> bool:
    return (folder / "gin").is_dir() and (folder / "mixtures").is_dir()


def _recorded_copy() -> pathlib.Path | None:
    """``share/flawn`` as recorded by the distribution that installed this very package.

    The installer's ``RECORD`` lists the data files relative to the package's
    site folder, so this works for any install scheme (a venv, the system,
    ``--user``, ``--prefix``, ``--root``); matching the record to this file
    skips other installs of flawn on the path (an editable one, say).
    """
    here = pathlib.Path(__file__).resolve()
    for dist in importlib.metadata.distributions(name="flawn"):
        files = dist.files or []
        if not any(
            f.name == here.name and pathlib.Path(f.locate()).resolve() == here for f in files
        ):
            continue
        for file in files:
            parts = file.parts
            for i in range(len(parts) - 1):
                if parts[i : i + 2] == INSTALLED_SUBDIR.parts:
                    root = pathlib.Path(dist.locate_file(pathlib.PurePath(*parts[: i + 2])))
                    return root.resolve()
    return None


@functools.cache
def installed_project_copy() -> pathlib.Path | None:
    """The copy of ``gin/``, ``mixtures/`` and ``experiments/`` installed with the package.

    Looked for next to the package (``pip install --target DIR`` puts it in
    ``DIR/share/flawn``), then where the installer's record of this package
    says it is (see :func:`_recorded_copy`), then under the interpreter's data
    prefix (``sysconfig.get_path("data")``, for installers that keep no record).

    Returns:
        The folder, or ``None`` when flawn was not installed with its project
        folders (an editable install uses the checkout instead).
    """
    # Next to the package first: only ``--target`` puts a copy there, and its
    # record points outside the target (at whatever ../../share/flawn holds).
    candidates = [
        PACKAGE_DIR.parent / INSTALLED_SUBDIR,
        _recorded_copy(),
        pathlib.Path(sysconfig.get_path("data")) / INSTALLED_SUBDIR,
    ]
    for candidate in candidates:
        if candidate is not None and _is_root(candidate):
            return candidate.resolve()
    return None


def project_root() -> pathlib.Path:
    """Returns the folder holding ``gin/``, ``mixtures/`` and ``experiments/``.

    In order: ``FLAWN_PROJECT_ROOT``; the checkout that contains this package
    (an editable install, the usual way to develop); the copy installed with
    the package (``pip install .``, as on TPU pod workers; see
    :func:`installed_project_copy`); the current directory.

    The installed copy wins over a current directory that happens to hold
    ``gin/`` and ``mixtures/``: importing :mod:`flawn.tasks` executes the
    ``mixtures/*.py`` files, and a run's identity is the hash of its resolved
    gin files, so which files those are must not depend on where a process was
    started (pod workers start wherever their launcher puts them). When the
    current directory is such a project folder and is not used, a warning says
    so and how to use it (``FLAWN_PROJECT_ROOT=.``). The current directory is
    still the last resort, for installs that dropped the data files.

    Raises:
        FileNotFoundError: If no such folder can be found; the message lists
            where flawn looked and what to do.
    """
    env = os.environ.get("FLAWN_PROJECT_ROOT")
    if env:
        if _is_root(pathlib.Path(env)):
            return pathlib.Path(env).resolve()
        raise FileNotFoundError(
            f"FLAWN_PROJECT_ROOT={env} has no gin/ and mixtures/ folders; point it at a flawn "
            "checkout (or unset it to use the copy installed with flawn)"
        )
    checkout = PACKAGE_DIR.parent
    # setup.cfg tells a checkout from a site folder, which may hold gin-config's gin/.
    if _is_root(checkout) and (checkout / "setup.cfg").is_file():
        return checkout
    cwd = pathlib.Path.cwd()
    installed = installed_project_copy()
    if installed is not None:
        if _is_root(cwd) and cwd.resolve() != installed:
            _warn_cwd_unused(str(cwd.resolve()), str(installed))
        return installed
    if _is_root(cwd):
        return cwd.resolve()
    raise FileNotFoundError(
        "cannot find flawn's project folders (gin/ and mixtures/, with experiments/). Looked in "
        f"FLAWN_PROJECT_ROOT (unset), the checkout around the package ({PACKAGE_DIR.parent}), "
        f"the copy installed with it (share/flawn under {sysconfig.get_path('data')} or "
        f"{PACKAGE_DIR.parent}) and the current directory ({cwd}). Set FLAWN_PROJECT_ROOT to a "
        "flawn checkout, or reinstall flawn from one with `pip install .` (or `pip install -e .`), "
        "which installs those folders with the package"
    )


@functools.cache
def _warn_cwd_unused(cwd: str, installed: str) -> None:
    # Once per pair: project_root() is called many times per process.
    log.warning(
        "using flawn's installed project folders %s, not gin/ and mixtures/ in the current "
        "directory %s; set FLAWN_PROJECT_ROOT=%s to use those",
        installed,
        cwd,
        cwd,
    )


def shared_data_dir() -> pathlib.Path | None:
    """Returns ``../shared/data`` next to the project (or ``FLAWN_SHARED_DATA``) if present.

    Only a checkout (or ``FLAWN_PROJECT_ROOT``) has such a neighbour; the copy
    installed with the package does not.
    """
    env = os.environ.get("FLAWN_SHARED_DATA")
    if env:
        return pathlib.Path(env) if pathlib.Path(env).is_dir() else None
    try:
        root = project_root()
    except FileNotFoundError:
        return None
    if root == installed_project_copy():
        return None
    candidate = root.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None
