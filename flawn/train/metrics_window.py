"""The metrics of the steps since the last log, kept on the devices until they are logged.

Fetching a step's metrics makes the host wait for that step; doing it every
step would leave the accelerator idle while the host prepares the next one.
The window keeps each step's metrics as device arrays, with what the host
counted on its batch, and fetches them all at once when the loop logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np


class MetricsWindow:
    """Collects per-step metrics and reduces them at a logging step.

    Args:
        clock: Seconds, monotonic (``time.perf_counter``; a test may pass its own).
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self._clock = clock
        self.restart()

    def restart(self) -> None:
        """Empties the window and starts its clock."""
        self._metrics: list[Mapping[str, Any]] = []
        self._stats: list[Mapping[str, int]] = []
        self._started = self._clock()
        self._excluded = 0.0

    def __len__(self) -> int:
        return len(self._metrics)

    def add(self, metrics: Mapping[str, Any], stats: Mapping[str, int]) -> None:
        """Adds one step: its metrics (device arrays, not fetched) and the host's counts."""
        self._metrics.append(metrics)
        self._stats.append(stats)

    def exclude(self, seconds: float) -> None:
        """Leaves time that was not training (an in-training evaluation) out of the rates."""
        self._excluded += seconds

    def reduce(self) -> dict[str, float]:
        """Fetches the window's metrics (waiting for its last step) and reduces them.

        Returns:
            The mean of every step metric over the window, and rates over the
            window's wall time: ``steps_per_second``, ``target_tokens_per_second``
            and ``tokens_per_second`` (non-padding input and target tokens).
        """
        if not self._metrics:
            raise ValueError("the metrics window is empty")
        fetched = jax.device_get(self._metrics)  # one transfer for the whole window
        seconds = max(self._clock() - self._started - self._excluded, 1e-9)
        summary = {
            key: float(np.mean([float(step[key]) for step in fetched])) for key in fetched[0]
        }
        target = sum(s["target_tokens"] for s in self._stats)
        inputs = sum(s["input_tokens"] for s in self._stats)
        summary["steps_per_second"] = len(fetched) / seconds
        summary["target_tokens_per_second"] = target / seconds
        summary["tokens_per_second"] = (inputs + target) / seconds
        return summary
