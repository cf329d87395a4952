"""Shared fixtures. Tests run offline, on CPU, with W&B disabled unless a test opts in."""

import os
import pathlib
import shutil
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["WANDB_MODE"] = "disabled"
os.environ.setdefault("WANDB_SILENT", "true")
# Small shuffle buffers (also in the subprocesses tests start): a pipeline's first batch
# then takes about 2 s instead of 6, and the suite trains many short runs.
os.environ.setdefault("FLAWN_SHUFFLE_BUFFER_SIZE", "64")
# flawn's per-user caches (record counts, file digests, compiled programs) go to one folder
# for the whole session, shared by the xdist workers and the subprocesses tests start (they
# inherit the variable), so a program compiled once is loaded by later runs of it; the
# process that made the folder removes it at the end.
_OWN_CACHE_DIR = None
if "FLAWN_CACHE_DIR" not in os.environ:
    _OWN_CACHE_DIR = tempfile.mkdtemp(prefix="flawn-cache-")
    os.environ["FLAWN_CACHE_DIR"] = _OWN_CACHE_DIR

from flawn import paths  # noqa: E402  (after the environment above)


@pytest.fixture(autouse=True)
def _no_inherited_wandb_service():
    """Keeps a test's W&B service to its own process.

    W&B stores its service's address in ``WANDB_SERVICE`` once a process uses
    it; subprocesses started by later tests on the same worker would inherit
    it and log through that service, so what they record would depend on
    which tests ran before.
    """
    yield
    os.environ.pop("WANDB_SERVICE", None)


@pytest.fixture(scope="session")
def sample_dir() -> pathlib.Path:
    """The bundled sample data folder."""
    return paths.SAMPLE_DATA_DIR


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """``../shared/data``; tests using it are skipped, with the reason, when it is absent."""
    found = paths.shared_data_dir()
    if found is None:
        pytest.skip("../shared/data is not present (set FLAWN_SHARED_DATA to point at it)")
    return found


@pytest.fixture
def project_root() -> pathlib.Path:
    """The checkout holding gin/, mixtures/ and experiments/."""
    return paths.project_root()


def pytest_unconfigure(config):
    if _OWN_CACHE_DIR is not None:
        shutil.rmtree(_OWN_CACHE_DIR, ignore_errors=True)
