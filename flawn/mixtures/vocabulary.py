"""A task or mixture under another vocabulary: its variant, registered under a tagged name.

seqio binds each task to its vocabulary when the task is registered, so a
run that trains with an extended vocabulary (LaWGPT's legal pieces) needs
tasks that tokenize with it. :func:`with_vocabulary` registers, for a task
or mixture ``NAME``, the variant ``TAG:NAME``: each task is the same source
and preprocessing with the other vocabulary (its ``source_task`` feature and
metadata renamed), and each mixture has the same components, variants in
turn, with the same declared rates. Rates that count tokens count them with
the new vocabulary, as they should.

The tag leads the name so that code selecting tasks by a name prefix (such
as ``sample_lawinstruct.``) never picks up a variant.
"""

from __future__ import annotations

import functools
import re

from flawn.errors import ConfigError

_TAG = re.compile(r"[A-Za-z0-9_]+")


def variant_name(name: str, tag: str) -> str:
    """The name of ``name``'s variant tagged ``tag``."""
    return f"{tag}:{name}"


def _task_variant(task, new_name: str, vocabulary):
    import seqio

    from flawn.errors import RegistryError
    from flawn.tasks.metadata import record_metadata, task_metadata
    from flawn.tasks.preprocessors import add_source_task

    steps = []
    for step in task.preprocessors:
        if isinstance(step, functools.partial) and step.func is add_source_task:
            step = functools.partial(add_source_task, task_name=new_name)
        steps.append(step)
    features = {
        key: seqio.Feature(
            vocabulary=vocabulary,
            add_eos=feature.add_eos,
            required=feature.required,
            dtype=feature.dtype,
            rank=feature.rank,
        )
        for key, feature in task.output_features.items()
    }
    seqio.TaskRegistry.add(
        new_name,
        source=task.source,
        output_features=features,
        preprocessors=steps,
        postprocess_fn=task.postprocessor,
        metric_fns=list(task.metric_fns),
        shuffle_buffer_size=task.shuffle_buffer_size,
    )
    try:
        metadata = task_metadata(task.name)
    except RegistryError:  # a task registered with seqio directly has none
        return
    record_metadata(new_name, metadata.kind, metadata.fields)


def with_vocabulary(name: str, vocabulary, tag: str) -> str:
    """Registers the variant of a task or mixture that tokenizes with ``vocabulary``.

    Registering the same variant again returns the name it already has.

    Args:
        name: A registered seqio task or mixture.
        vocabulary: The seqio vocabulary of the variant's features.
        tag: Names the vocabulary (letters, digits, ``_``); the variant is ``TAG:NAME``.

    Returns:
        The variant's name.

    Raises:
        ConfigError: If ``name`` is not registered or the tag is not a plain word.
    """
    import seqio

    from flawn.errors import RegistryError
    from flawn.mixtures.rates import FixedWeight
    from flawn.mixtures.registry import get_mixture_spec, register_mixture

    if not _TAG.fullmatch(tag):
        raise ConfigError(f"a vocabulary tag is letters, digits and '_', got {tag!r}")
    new_name = variant_name(name, tag)
    if new_name in seqio.TaskRegistry.names() or new_name in seqio.MixtureRegistry.names():
        return new_name
    if name in seqio.TaskRegistry.names():
        _task_variant(seqio.TaskRegistry.get(name), new_name, vocabulary)
        return new_name
    if name not in seqio.MixtureRegistry.names():
        raise ConfigError(
            f"no seqio task or mixture named {name!r} to register under another vocabulary"
        )
    try:
        spec = get_mixture_spec(name)
    except RegistryError:
        spec = None
    if spec is not None:
        components = [(with_vocabulary(c, vocabulary, tag), rate) for c, rate in spec.components]
        description = spec.description
    else:  # a mixture registered with seqio directly: its (flattened) tasks and weights
        mixture = seqio.MixtureRegistry.get(name)
        components = [
            (with_vocabulary(t.name, vocabulary, tag), FixedWeight(float(mixture.get_rate(t))))
            for t in mixture.tasks
        ]
        description = ""
    suffix = f" (vocabulary {tag})"
    register_mixture(new_name, components, description=f"{description}{suffix}".strip())
    return new_name


def unregister_variants(tag: str) -> list[str]:
    """Removes every task and mixture variant tagged ``tag`` (for tests and long-lived processes).

    Returns:
        The names removed.
    """
    import seqio

    from flawn.mixtures.registry import forget_mixture_spec
    from flawn.tasks.metadata import forget_metadata

    prefix = variant_name("", tag)
    removed = []
    for registry in (seqio.MixtureRegistry, seqio.TaskRegistry):
        for name in [n for n in registry.names() if n.startswith(prefix)]:
            registry.remove(name)
            forget_mixture_spec(name)
            forget_metadata(name)
            removed.append(name)
    return removed
