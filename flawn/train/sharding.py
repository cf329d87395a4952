"""The device mesh of a local run, and how batches, parameters and optimizer state lie on it.

A run's devices form a ``(data, model)`` mesh (``TrainConfig.mesh_shape``).
Batches are split along ``data``. Parameters are replicated over ``data``
and, when ``model > 1``, split along ``model`` by Megatron-style rules on
their names (the T5X names of :mod:`flawn.models.t5`):

* attention ``query`` / ``key`` / ``value`` kernels ``[emb, heads*head_dim]``
  split their output columns and ``out`` ``[heads*head_dim, emb]`` its rows,
  so each device holds whole heads;
* MLP ``wi_0`` / ``wi_1`` ``[emb, mlp]`` split ``mlp`` and ``wo`` ``[mlp, emb]`` its rows;
* the token embedding ``[vocab, emb]`` and the output layer ``[emb, vocab]`` split ``vocab``;
* norms and relative position biases (small) are replicated.

A dimension the ``model`` axis does not divide is left whole (replicated).
Optimizer state follows its parameter: a leaf with the parameter's shape gets
its layout, a factored statistic (Adafactor's row or column means) its layout
minus the reduced dimension, anything else (counts) is replicated. The jitted
step is given these shardings, and XLA inserts the collectives (the gradient
all-reduce over ``data``, the activations' all-gathers and reduce-scatters
over ``model``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from flawn.errors import ConfigError

DATA, MODEL = "data", "model"

#: Which dimension of a parameter the ``model`` axis splits, by the last two
#: names of its path (module, parameter) or the last one alone.
_MODEL_DIM_RULES: dict[tuple[str, ...], int] = {
    ("query", "kernel"): 1,
    ("key", "kernel"): 1,
    ("value", "kernel"): 1,
    ("out", "kernel"): 0,
    ("wi_0", "kernel"): 1,
    ("wi_1", "kernel"): 1,
    ("wo", "kernel"): 0,
    ("token_embedder", "embedding"): 0,
    ("logits_dense", "kernel"): 1,
}


def resolve_mesh_shape(shape: Sequence[int], num_devices: int) -> tuple[int, int]:
    """Fills a ``-1`` in ``(data, model)`` so the mesh covers ``num_devices``.

    Raises:
        ConfigError: If the shape does not multiply to the number of devices.
    """
    data, model = shape
    if data == -1:
        data = num_devices // model if model > 0 and num_devices % model == 0 else 0
    elif model == -1:
        model = num_devices // data if data > 0 and num_devices % data == 0 else 0
    if data <= 0 or model <= 0 or data * model != num_devices:
        raise ConfigError(
            f"TrainConfig.mesh_shape {tuple(shape)} does not fit the {num_devices} device(s) "
            f"of this run ({jax.devices()[0].platform}, {jax.process_count()} process(es)); "
            "use (-1, 1) for data parallelism "
            "over all of them, or a (data, model) pair that multiplies to the device count"
        )
    return data, model


def make_mesh(shape: Sequence[int] = (-1, 1), devices: Sequence[Any] | None = None) -> Mesh:
    """A ``(data, model)`` mesh over ``devices`` (default: every device of every process).

    With several processes (:mod:`flawn.train.processes`) ``jax.devices()``
    lists the devices of all of them, so the mesh spans the processes.
    """
    devices = list(devices if devices is not None else jax.devices())
    data, model = resolve_mesh_shape(shape, len(devices))
    # Auto axes: shardings are hints XLA propagates (the model code carries none).
    return jax.make_mesh(
        (data, model), (DATA, MODEL), axis_types=(AxisType.Auto,) * 2, devices=devices
    )


def _names(path) -> tuple[str, ...]:
    """The dict keys (and attribute names) along a pytree path, without indices."""
    names = []
    for entry in path:
        if isinstance(entry, jax.tree_util.DictKey):
            names.append(str(entry.key))
        elif isinstance(entry, jax.tree_util.GetAttrKey):
            names.append(entry.name)
    return tuple(names)


def param_spec(names: Sequence[str], shape: Sequence[int], model_size: int) -> PartitionSpec:
    """The partition spec of one parameter (see the module docstring for the rules)."""
    dim = _MODEL_DIM_RULES.get(tuple(names[-2:]))
    if model_size == 1 or dim is None or len(shape) != 2 or shape[dim] % model_size:
        return PartitionSpec()
    return PartitionSpec(*(MODEL if d == dim else None for d in range(len(shape))))


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a run's arrays live on its mesh.

    Attributes:
        mesh: The ``(data, model)`` mesh.
        state: Shardings of the train state (a pytree like the state).
        batch: The sharding of every batch feature (``[batch, length]``, split on ``data``).
        replicated: A sharding that puts a whole copy on every device (metrics, scalars).
    """

    mesh: Mesh
    state: Any
    batch: NamedSharding
    replicated: NamedSharding

    @property
    def data_size(self) -> int:
        """Devices along ``data`` (the batch is split this many ways)."""
        return self.mesh.shape[DATA]

    def describe(self) -> str:
        """One line for the log: the mesh and how many parameters are split."""
        split = sum(
            1
            for s in jax.tree.leaves(self.state["params"])
            if any(axis is not None for axis in s.spec)
        )
        total = len(jax.tree.leaves(self.state["params"]))
        return (
            f"mesh data={self.mesh.shape[DATA]} x model={self.mesh.shape[MODEL]} over "
            f"{self.mesh.devices.size} {self.mesh.devices.flat[0].platform} device(s)"
            + (f" of {jax.process_count()} processes" if jax.process_count() > 1 else "")
            + f"; {split} of {total} parameter arrays split along model"
        )


def _follow(param_specs: dict[tuple[str, ...], tuple[tuple[int, ...], PartitionSpec]]):
    """A function giving an optimizer-state leaf the spec of the parameter it tracks."""

    def spec_of(path, leaf) -> PartitionSpec:
        names, shape = _names(path), tuple(np.shape(leaf))
        # The parameter is the longest suffix of the leaf's path that names one
        # (optax nests its statistics as ``<state>.<mu|nu|v_row|...>.<param path>``).
        for start in range(len(names)):
            found = param_specs.get(names[start:])
            if found is None:
                continue
            param_shape, spec = found
            if shape == param_shape:
                return spec
            full = tuple(spec) + (None,) * (len(param_shape) - len(spec))
            for dropped in range(len(param_shape)):  # a factored statistic
                if shape == param_shape[:dropped] + param_shape[dropped + 1 :]:
                    return PartitionSpec(*(full[:dropped] + full[dropped + 1 :]))
            return PartitionSpec()
        return PartitionSpec()

    return spec_of


def make_layout(mesh: Mesh, state: Any) -> Layout:
    """The shardings of a train state ``{"params", "opt_state", "step", ...}`` on ``mesh``.

    ``state`` may hold arrays or ``jax.ShapeDtypeStruct``s; only shapes are read.
    """
    model_size = mesh.shape[MODEL]
    param_specs: dict[tuple[str, ...], tuple[tuple[int, ...], PartitionSpec]] = {}

    def on_param(path, leaf):
        names, shape = _names(path), tuple(np.shape(leaf))
        spec = param_spec(names, shape, model_size)
        param_specs[names] = (shape, spec)
        return NamedSharding(mesh, spec)

    params = jax.tree_util.tree_map_with_path(on_param, state["params"])
    follow = _follow(param_specs)
    shardings = {
        key: params
        if key == "params"
        else jax.tree_util.tree_map_with_path(
            lambda path, leaf: NamedSharding(mesh, follow(path, leaf)), value
        )
        for key, value in state.items()
    }
    return Layout(
        mesh=mesh,
        state=shardings,
        batch=NamedSharding(mesh, PartitionSpec(DATA)),
        replicated=NamedSharding(mesh, PartitionSpec()),
    )


def check_batch_size(batch_size: int, layout: Layout) -> None:
    """Raises a ConfigError unless ``batch_size`` splits evenly along ``data``."""
    if batch_size % layout.data_size:
        raise ConfigError(
            f"TrainConfig.batch_size {batch_size} does not split over the {layout.data_size} "
            f"devices of the mesh's data axis; use a multiple of {layout.data_size}"
        )


def bytes_per_device(tree: Any) -> int:
    """The most bytes of ``tree``'s arrays any one device holds (to see that sharding saves)."""
    held: dict[Any, int] = {}
    for leaf in jax.tree.leaves(tree):
        for shard in leaf.addressable_shards:
            held[shard.device] = held.get(shard.device, 0) + math.prod(shard.data.shape) * (
                shard.data.dtype.itemsize
            )
    return max(held.values(), default=0)
