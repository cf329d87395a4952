"""Shared fixtures. Tests run offline, on CPU, with W&B disabled unless a test opts in."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["WANDB_MODE"] = "disabled"
os.environ.setdefault("WANDB_SILENT", "true")
# Small shuffle buffers (also in the subprocesses tests start): a pipeline's first batch
# then takes about 2 s instead of 6, and the suite trains many short runs.
os.environ.setdefault("FLAWN_SHUFFLE_BUFFER_SIZE", "64")
# Record counts are cached per user; tests keep theirs apart (flawn.sources.counting).
os.environ.setdefault("FLAWN_CACHE_DIR", __import__("tempfile").mkdtemp(prefix="flawn-cache-"))

import pathlib

import pytest

from flawn import paths


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
