"""Realised per-source counts: how many examples of each source a run actually drew.

seqio packs examples greedily and in order, so the examples inside the first
``k`` packed rows are exactly the first ``N`` examples of the mixed stream,
where ``N`` is the number of segments in those rows. Training counts the
segments it consumes; this module replays the same seeded stream with the
``source_task`` passthrough feature and attributes those ``N`` examples.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping

from flawn.tasks.preprocessors import SOURCE_TASK_KEY, add_source_task


class CountsUnavailable(Exception):
    """The mixture's examples cannot be attributed to their sources (says why)."""


def unlabelled_tasks(mixture) -> list[str]:
    """Leaf tasks of a seqio mixture that do not add the ``source_task`` feature.

    Tasks registered through :func:`flawn.tasks.registry.add_task` add it;
    tasks registered with seqio directly (a user's own) do not, and seqio
    cannot mix datasets whose features differ when it is passed through.
    """
    import functools

    def labelled(task) -> bool:
        return any(
            isinstance(step, functools.partial) and step.func is add_source_task
            for step in task.preprocessors
        )

    return sorted(task.name for task in mixture.tasks if not labelled(task))


def realised_counts(
    name: str, lengths: Mapping[str, int], seed: int, num_examples: int, use_cached: bool = False
) -> dict[str, int]:
    """Counts the sources of the first ``num_examples`` examples a run drew.

    Args:
        name: The mixture or task the run trained on.
        lengths: The run's feature lengths.
        seed: The run's seed (the same one the training pipeline used).
        num_examples: Examples the run consumed (segments in its batches).
        use_cached: Whether the run read its tasks from the seqio cache.

    Returns:
        ``{task: count}``, summing to ``num_examples``.

    Raises:
        CountsUnavailable: If a task of the mixture does not label its examples.
    """
    import seqio  # deferred: pulls in TensorFlow

    provider = seqio.get_mixture_or_task(name)
    if isinstance(provider, seqio.Mixture):
        unlabelled = unlabelled_tasks(provider)
        if unlabelled:
            raise CountsUnavailable(
                f"task(s) {', '.join(unlabelled)} of {name} do not label their examples with "
                f"'{SOURCE_TASK_KEY}' (register them with flawn.tasks.registry.add_task to "
                "get the drawn counts)"
            )
    # Same arguments as seqio.get_dataset uses for training, plus the passthrough feature.
    kwargs = dict(
        split="train",
        use_cached=use_cached,
        shuffle=True,
        seed=seed,
        num_epochs=None,
        trim_output_features=True,
    )
    if isinstance(provider, seqio.Mixture):
        dataset = provider.get_dataset(
            dict(lengths), passthrough_features=[SOURCE_TASK_KEY], **kwargs
        )
    else:
        dataset = provider.get_dataset(dict(lengths), **kwargs)
    counts: collections.Counter = collections.Counter()
    for example in dataset.take(num_examples).as_numpy_iterator():
        counts[example[SOURCE_TASK_KEY].decode()] += 1
    return dict(sorted(counts.items()))
