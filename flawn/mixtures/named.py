"""Loading the named mixtures defined in the project's ``mixtures/`` folder.

The folder is the checkout's in an editable install and the copy installed
with the package otherwise (``<prefix>/share/flawn/mixtures``); see
:func:`flawn.paths.project_root` for the order. Folders of your own mixture
files, outside the project, are loaded after it when ``FLAWN_MIXTURES_PATH``
lists them (separated like ``PATH``); sweep workers inherit the variable, so
your mixtures exist in every run's process too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pathlib
import sys

from flawn import paths

_LOADED: set[pathlib.Path] = set()

#: Extra folders of mixture files, loaded after the project's.
MIXTURES_PATH_ENV = "FLAWN_MIXTURES_PATH"


def extra_mixture_folders() -> list[pathlib.Path]:
    """The folders ``FLAWN_MIXTURES_PATH`` lists, in order.

    Raises:
        FileNotFoundError: If a listed folder does not exist (naming it and the variable).
    """
    folders = []
    for entry in os.environ.get(MIXTURES_PATH_ENV, "").split(os.pathsep):
        if not entry:
            continue
        folder = pathlib.Path(entry)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{MIXTURES_PATH_ENV} lists {entry}, which is not a folder; fix or unset it"
            )
        folders.append(folder)
    return folders


def load_all_named_mixtures() -> list[str]:
    """Loads the project's ``mixtures/`` and then every folder of ``FLAWN_MIXTURES_PATH``."""
    loaded = load_named_mixtures()
    for folder in extra_mixture_folders():
        loaded += load_named_mixtures(folder)
    return loaded


def load_named_mixtures(directory: str | pathlib.Path | None = None) -> list[str]:
    """Executes every ``*.py`` file of ``mixtures/`` once, registering its mixtures.

    Files run in name order; a file may use mixtures from files sorted before
    it. Loading the same folder again is a no-op.

    Args:
        directory: The folder to load; defaults to the project's ``mixtures/``.

    Returns:
        The module names that were loaded by this call.

    Raises:
        FileNotFoundError: If the folder does not exist, or no project folder
            is found (the message says what to do).
    """
    folder = pathlib.Path(directory) if directory else paths.project_root() / "mixtures"
    if not folder.is_dir():
        raise FileNotFoundError(f"no mixtures folder at {folder}")
    loaded = []
    for path in sorted(folder.glob("*.py")):
        path = path.resolve()
        if path in _LOADED or path.name.startswith("_"):
            continue
        # The folder's hash keeps files of the same name in different folders apart.
        tag = hashlib.sha256(str(path.parent).encode()).hexdigest()[:8]
        module_name = f"flawn_mixtures_{tag}.{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        _LOADED.add(path)
        spec.loader.exec_module(module)
        loaded.append(module_name)
    return loaded
