"""Orbax checkpoints of the training state, one folder per step."""

from __future__ import annotations

import logging
import os
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpointer:
    """Saves and restores ``{"params", "opt_state", "step"}`` pytrees by step.

    Args:
        directory: The checkpoint folder (``TrainDir.checkpoint_dir``).
        keep: How many most recent checkpoints to keep.
    """

    def __init__(self, directory: str | os.PathLike, keep: int = 2):
        self.directory = os.path.abspath(os.fspath(directory))
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True),
        )

    def latest_step(self) -> int | None:
        """The step of the newest complete checkpoint, or ``None``."""
        return self._manager.latest_step()

    def save(self, step: int, state: Any) -> None:
        """Saves ``state`` at ``step`` and waits until it is on disk."""
        self._manager.save(step, args=ocp.args.StandardSave(state))
        self._manager.wait_until_finished()

    def saved_keys(self, step: int) -> set[str]:
        """The top-level keys stored in a checkpoint."""
        path = os.path.join(self.directory, str(step), "default")
        # Orbax warns that the step-level metadata file is not in the item folder; it is not
        # meant to be there, so the warning says nothing.
        absl_logger = logging.getLogger("absl")
        level = absl_logger.level
        absl_logger.setLevel(logging.ERROR)
        try:
            metadata = ocp.StandardCheckpointer().metadata(path)
        finally:
            absl_logger.setLevel(level)
        return set(getattr(metadata, "item_metadata", metadata).keys())

    def restore(
        self, state_like: dict, step: int | None = None, optional: tuple[str, ...] = ()
    ) -> dict:
        """Restores a checkpoint into the structure of ``state_like``.

        Args:
            state_like: A dict pytree (or abstract pytree) with the target structure.
            step: Which step; defaults to the latest.
            optional: Top-level keys that checkpoints written by older versions
                may lack; they are left out of the result when absent.

        Raises:
            FileNotFoundError: If there is no checkpoint to restore.
        """
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        if optional:
            present = self.saved_keys(step)
            state_like = {k: v for k, v in state_like.items() if k not in optional or k in present}
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_like)
        return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))

    def close(self) -> None:
        """Releases the manager's resources."""
        self._manager.close()
