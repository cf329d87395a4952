"""The backend seam: ``train(spec, run_dir)`` and ``predictor(run_dir)``.

Sweeps, the CLI and the web UI reach training only through a :class:`Backend`.
``local`` trains on this host with JAX/Flax (:mod:`flawn.train.backend`);
``t5x`` writes T5X gin files and launch scripts and runs them
(:mod:`flawn.t5x.backend`). Backends are registered by import path so that
``flawn.runs`` imports neither.
"""

from __future__ import annotations

import abc
import dataclasses
import difflib
import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flawn.errors import ConfigError
from flawn.runs.run_dir import RunDir
from flawn.runs.spec import RunSpec


@dataclasses.dataclass
class Predictor:
    """A trained model ready to answer prompts (what evaluation needs).

    Attributes:
        model: The Flax T5 (:class:`flawn.models.t5.Transformer`).
        params: Its parameters, ``{"params": ...}``.
        vocabulary: The seqio vocabulary of inputs and targets.
        step: The checkpoint step the parameters come from.
        lengths: The run's feature lengths (``inputs`` fixes prompt fitting).
    """

    model: Any
    params: Any
    vocabulary: Any
    step: int
    lengths: Mapping[str, int]


#: Called at every logging step of training with ``(stage_name, step, total_steps, metrics)``.
ProgressHook = Callable[[str, int, int, Mapping[str, float]], None]


class Backend(abc.ABC):
    """Trains runs and hands back their models."""

    #: The name users pass (``--backend``).
    name: str = ""

    def validate(self, spec: RunSpec) -> None:  # noqa: B027  (optional hook)
        """Raises :class:`ConfigError` if this backend cannot run ``spec`` (checked before runs)."""

    def prepare(self, spec: RunSpec, run_dir: RunDir) -> None:  # noqa: B027  (optional hook)
        """Writes whatever the backend needs into the run folder before training."""

    @abc.abstractmethod
    def train(self, spec: RunSpec, run_dir: RunDir, progress: Sequence[ProgressHook] = ()) -> None:
        """Trains every stage of ``spec`` into ``run_dir``, resuming where it stopped."""

    @abc.abstractmethod
    def predictor(self, run_dir: RunDir, step: int | None = None) -> Predictor:
        """The run's final model (at ``step``, default the last checkpoint)."""

    def checkpoint_location(self, run_dir: RunDir) -> str:
        """Where the run's final checkpoints are, for people."""
        return os.fspath(run_dir.final_stage().checkpoint_dir)


_BACKENDS: dict[str, str] = {
    "local": "flawn.train.backend:LocalBackend",
    "t5x": "flawn.t5x.backend:T5XBackend",
}


def register_backend(name: str, target: str) -> None:
    """Registers a backend class by import path (``module:Class``).

    Raises:
        ConfigError: If the name is taken.
    """
    if name in _BACKENDS:
        raise ConfigError(f"backend {name!r} is already registered ({_BACKENDS[name]})")
    _BACKENDS[name] = target


def backend_names() -> list[str]:
    """The registered backend names."""
    return sorted(_BACKENDS)


def check_backend_name(name: str) -> None:
    """Raises :class:`ConfigError` with the nearest names if ``name`` is not a backend."""
    if name not in _BACKENDS:
        close = difflib.get_close_matches(name, list(_BACKENDS), n=2, cutoff=0.4)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(f"unknown backend {name!r}{hint} (known: {', '.join(_BACKENDS)})")


def get_backend(name: str) -> Backend:
    """Instantiates the backend registered as ``name``.

    Raises:
        ConfigError: For an unknown name (with the nearest names).
    """
    check_backend_name(name)
    module_name, class_name = _BACKENDS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()
