"""Each T5X host's rows of the global batch, so a run sees the same data on any number of hosts.

T5X's own ``utils.get_dataset`` gives every host (every data shard) its own
``seqio`` shard of the examples: the batches of a run on a 4-host slice are
other examples than on 1 host, and a data-mixture ablation would change with
the slice it ran on. flawn's stage gin files bind
``train_script.train.get_dataset_fn`` to :func:`global_batch_slice`
instead: every host builds the global batch from the one seeded stream that
a single host reads, and keeps its rows (``shard_id``'s share, in order),
which T5X assembles into the global batch as usual. The price is that each
host prepares (tokenizes, packs) the whole batch rather than its share.

Runs only inside T5X's environment (it imports ``t5x``); the stage gin files
name it, nothing else in flawn imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def global_batch_slice(
    cfg: Any,
    shard_id: int,
    num_shards: int,
    feature_converter_cls: Callable[..., Any],
    num_epochs: int | None = None,
    continue_from_last_checkpoint: bool = False,
):
    """T5X's ``get_dataset_fn``: this data shard's rows of the unsharded stream's batches.

    Args:
        cfg: T5X's ``utils.DatasetConfig`` (``batch_size`` is the global batch).
        shard_id: This host's data shard (T5X's data layout).
        num_shards: Data shards of the run.
        feature_converter_cls: The model's seqio feature converter.
        num_epochs: Passed to T5X's ``utils.get_dataset``.
        continue_from_last_checkpoint: Passed to T5X's ``utils.get_dataset``.

    Returns:
        A ``tf.data.Dataset`` of ``[batch_size // num_shards, length]`` batches.

    Raises:
        ValueError: If the batch does not split evenly over the shards.
    """
    from t5x import utils

    if cfg.batch_size % num_shards:
        raise ValueError(
            f"the batch size {cfg.batch_size} does not split over {num_shards} data shards; "
            f"use a multiple of {num_shards} (BATCH_SIZE)"
        )
    batches = utils.get_dataset(
        cfg,
        0,
        1,
        feature_converter_cls,
        num_epochs=num_epochs,
        continue_from_last_checkpoint=continue_from_last_checkpoint,
    )
    if num_shards == 1:
        return batches
    rows = cfg.batch_size // num_shards
    start = shard_id * rows
    return batches.map(lambda batch: {k: v[start : start + rows] for k, v in batch.items()})
