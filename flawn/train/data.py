"""Batches for training, from a seqio mixture or task."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import numpy as np
import seqio
import tensorflow as tf

from flawn.errors import from_pipeline_error


def train_batches(
    mixture_or_task_name: str,
    task_feature_lengths: Mapping[str, int],
    batch_size: int,
    seed: int,
    pack: bool = True,
    skip_batches: int = 0,
    use_cached: bool = False,
) -> Iterator[dict[str, np.ndarray]]:
    """Yields endless, deterministic training batches of model features.

    The same arguments always give the same batches: seqio shuffles and mixes
    with ``seed``, and a resumed run skips the batches it already consumed.

    Args:
        mixture_or_task_name: A registered seqio mixture or task.
        task_feature_lengths: ``{"inputs": n, "targets": m}``.
        batch_size: Rows per batch.
        seed: Seed of shuffling and mixture sampling.
        pack: Pack several examples per row (encoder-decoder packing).
        skip_batches: Batches to skip first (for resuming).
        use_cached: Read tasks from their seqio cache (see :mod:`flawn.tasks.cache`).

    Yields:
        Dicts of ``[batch_size, length]`` int32 arrays as produced by
        ``seqio.EncDecFeatureConverter``.
    """
    dataset = seqio.get_dataset(
        mixture_or_task_name,
        task_feature_lengths=dict(task_feature_lengths),
        feature_converter=seqio.EncDecFeatureConverter(pack=pack),
        dataset_split="train",
        use_cached=use_cached,
        shuffle=True,
        num_epochs=None,
        seed=seed,
        verbose=False,
    )
    dataset = dataset.batch(batch_size, drop_remainder=True)
    if skip_batches:
        dataset = dataset.skip(skip_batches)
    with reraise_data_errors():
        yield from dataset.prefetch(2).as_numpy_iterator()


@contextlib.contextmanager
def reraise_data_errors(_op_error: type = tf.errors.OpError):
    """Turns a flawn error raised inside a ``tf.data`` pipeline back into itself.

    See :func:`flawn.errors.from_pipeline_error`: the one line that matters
    (``file:line: reason: detail``, or a failed assertion) is raised as a flawn error.

    Raises:
        RecordError: For malformed input records (file and line in the message).
        PipelineError: For a failed check of a preprocessor (its message).
        FlawnError: For other flawn errors raised inside the pipeline.
    """
    # ``_op_error`` is bound at definition time and only ``Exception`` is caught:
    # a suspended batch generator closed at interpreter shutdown raises
    # GeneratorExit here after module globals such as ``tf`` are gone.
    try:
        yield
    except Exception as err:
        if not isinstance(err, _op_error):
            raise
        converted = from_pipeline_error(err)
        if converted is None:
            raise
        raise converted from None
