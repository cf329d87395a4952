"""Where T5X comes from: the install hint and the import check shared by flawn and ``launch.sh``.

T5X is installed from a git clone. The clone's top folder (``t5x/``, holding
``setup.py`` and the package ``t5x/t5x/``) has no ``__init__.py``, so Python
takes it for a namespace package ``t5x`` when it lies on the import path:
with an editable install of T5X (T5X's README installs it so) or with T5X not
installed at all, ``import t5x`` then succeeds with the empty folder and T5X
fails later with ``TypeError: ... NoneType``. Python puts the current folder
first on the path for ``python -c`` and ``python -m``; the run folder's own
``t5x/`` is such a folder too, and ``pod.sh`` starts ``launch.sh`` from the
run folder. So the scripts set ``PYTHONSAFEPATH=1`` (Python 3.11+: the
current folder is not searched), and the check below names a namespace
``t5x`` wherever it still comes from.
"""

from __future__ import annotations

#: What to do when T5X cannot be imported (docs/t5x.md, "Training on TPU pods with T5X").
INSTALL_HINT = (
    'install T5X as flawn\'s docs/t5x.md says ("Training on TPU pods with T5X"): in its own '
    "virtualenv with flawn installed there too, from a clone made outside the flawn folder "
    "(cd ~ && git clone https://github.com/google-research/t5x), then point flawn at that "
    "Python with FLAWN_T5X_PYTHON=/path/to/venv/bin/python"
)

#: ``python -c`` source that prints the folder holding the installed ``t5x`` package (T5X's gin
#: search path), or exits non-zero with one line saying why T5X is not usable.
T5X_ROOT_CHECK = """\
import os, sys
try:
    import t5x
except Exception as err:
    sys.exit(f"{sys.executable} cannot import t5x ({type(err).__name__}: {err})")
if getattr(t5x, "__file__", None) is None:
    folders = ", ".join(t5x.__path__)
    sys.exit(
        f"{sys.executable} cannot import t5x: it finds only {folders}, the top folder of a T5X "
        "clone (an empty namespace package), not an installed T5X; run from a folder without "
        "a t5x/ entry, and keep T5X clones out of PYTHONPATH"
    )
print(os.path.dirname(os.path.dirname(os.path.abspath(t5x.__file__))))
"""

#: Environment for every Python that imports T5X: the current folder is not on its path.
SAFE_PATH_ENV = {"PYTHONSAFEPATH": "1"}
