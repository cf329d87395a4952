"""The run seam: what a run is (RunSpec), where its files are (RunDir), who trains it (Backend).

Importing this package imports neither TensorFlow nor JAX.
"""

from flawn.runs.backend import Backend, Predictor, backend_names, get_backend, register_backend
from flawn.runs.manifest import Manifest, run_state
from flawn.runs.run_dir import RunDir, TrainDir, sweep_run_dirs
from flawn.runs.spec import EvalSpec, RunSpec, Stage, content_hash

__all__ = [
    "Backend",
    "EvalSpec",
    "Manifest",
    "Predictor",
    "RunDir",
    "RunSpec",
    "Stage",
    "TrainDir",
    "backend_names",
    "content_hash",
    "get_backend",
    "register_backend",
    "run_state",
    "sweep_run_dirs",
]
