"""Several JAX processes training one run: data parallelism over hosts.

A TPU pod slice runs one process per host; a CPU or GPU cluster may run
several. With more than one, JAX's distributed runtime joins them
(``jax.distributed.initialize``), ``jax.devices()`` lists every process's
devices, and the local trainer's ``(data, model)`` mesh spans them all: the
batch is split over processes along ``data``, parameters are replicated, and
the jitted step's gradient all-reduce crosses processes. Every process reads
the same global batch from the same seeded pipeline and the batch sharding
hands each device its rows, so N processes train exactly the run one process
would (to float rounding). Process 0 alone writes the metrics, the summary
and W&B; every process takes part in saving a checkpoint (orbax coordinates
them), so the model folder must be on a filesystem they all see.

The processes are described by the environment, the same for ``flawn train``,
the sweep worker and the ``launch.sh`` of the T5X backend (which passes them
to ``t5x.train`` as ``--multiprocess_gpu --coordinator_address
--process_count --process_index``):

* ``FLAWN_NUM_PROCESSES``, ``FLAWN_PROCESS_ID`` and ``FLAWN_COORDINATOR_ADDRESS``
  (``host:port`` of process 0): an explicit group, e.g. CPU hosts or
  several processes on one machine;
* ``FLAWN_MULTIPROCESS=auto``: JAX finds the group itself (a Cloud TPU pod
  slice, SLURM, Open MPI);
* neither: one process, as before.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from flawn.errors import ConfigError

NUM_PROCESSES = "FLAWN_NUM_PROCESSES"
PROCESS_ID = "FLAWN_PROCESS_ID"
COORDINATOR_ADDRESS = "FLAWN_COORDINATOR_ADDRESS"
MULTIPROCESS = "FLAWN_MULTIPROCESS"


@dataclasses.dataclass(frozen=True)
class ProcessGroup:
    """How this process joins the others of its run.

    Attributes:
        num_processes: Processes in the group (``None``: found by JAX).
        process_id: This process's index, ``0 <= process_id < num_processes``.
        coordinator_address: ``host:port`` where process 0 serves the group.
    """

    num_processes: int | None = None
    process_id: int | None = None
    coordinator_address: str | None = None

    @property
    def auto(self) -> bool:
        """Whether JAX detects the group (a TPU pod slice, SLURM, Open MPI)."""
        return self.num_processes is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ProcessGroup | None:
        """The group the environment describes (see the module docstring), or ``None``.

        Raises:
            ConfigError: Naming the variable that is missing or malformed.
        """
        env = os.environ if env is None else env
        explicit = {name: env.get(name, "") for name in (NUM_PROCESSES, PROCESS_ID)}
        address = env.get(COORDINATOR_ADDRESS, "")
        if not any(explicit.values()) and not address:
            mode = env.get(MULTIPROCESS, "").strip().lower()
            if mode in ("", "0", "no", "off"):
                return None
            if mode != "auto":
                raise ConfigError(
                    f"{MULTIPROCESS}={env[MULTIPROCESS]!r}: use 'auto' (JAX detects the "
                    f"processes: TPU pod slice, SLURM, Open MPI), or set {NUM_PROCESSES}, "
                    f"{PROCESS_ID} and {COORDINATOR_ADDRESS}"
                )
            return cls()
        missing = [name for name, value in explicit.items() if not value]
        if not address:
            missing.append(COORDINATOR_ADDRESS)
        if missing:
            raise ConfigError(
                f"several processes need {NUM_PROCESSES}, {PROCESS_ID} and "
                f"{COORDINATOR_ADDRESS} together; {', '.join(missing)} not set"
            )
        try:
            count, index = int(explicit[NUM_PROCESSES]), int(explicit[PROCESS_ID])
        except ValueError:
            raise ConfigError(
                f"{NUM_PROCESSES}={explicit[NUM_PROCESSES]!r} and "
                f"{PROCESS_ID}={explicit[PROCESS_ID]!r} must be integers"
            ) from None
        if count < 1 or not 0 <= index < count:
            raise ConfigError(
                f"{PROCESS_ID}={index} is not in 0..{count - 1} ({NUM_PROCESSES}={count})"
            )
        if ":" not in address:
            raise ConfigError(f"{COORDINATOR_ADDRESS}={address!r}: give host:port of process 0")
        return cls(num_processes=count, process_id=index, coordinator_address=address)


def initialize(env: Mapping[str, str] | None = None) -> ProcessGroup | None:
    """Joins the process group the environment describes; a no-op for one process.

    Call it before anything runs on a JAX device: the distributed runtime must
    start before JAX's backends do. Calling it again is harmless.

    Returns:
        The group joined (``None``: one process).

    Raises:
        ConfigError: If the environment is malformed, or JAX started its
            devices before the group was joined.
    """
    import jax

    group = ProcessGroup.from_env(env)
    if group is None or group.num_processes == 1 or jax.distributed.is_initialized():
        return group
    try:
        if group.auto:
            jax.distributed.initialize()
        else:
            jax.distributed.initialize(
                group.coordinator_address, group.num_processes, group.process_id
            )
    except RuntimeError as err:
        raise ConfigError(
            f"cannot join the process group ({err}); start the processes with the "
            f"{NUM_PROCESSES}/{PROCESS_ID}/{COORDINATOR_ADDRESS} variables set before "
            "anything uses JAX (flawn train and the sweep worker read them first)"
        ) from err
    return group


def is_primary() -> bool:
    """Whether this process writes the run's files (process 0; always, for one process)."""
    import jax

    return jax.process_index() == 0


def process_count() -> int:
    """How many processes train the run."""
    import jax

    return jax.process_count()


def wait_for_all(what: str) -> None:
    """Blocks until every process gets here (``what`` names the point, for errors); no-op alone."""
    import jax

    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(what)
